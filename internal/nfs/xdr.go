package nfs

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
	"unicode/utf8"
)

// xdrEnc appends XDR (RFC 4506) values to a byte slice. It is used for
// attribute values (fattr4.attr_vals), whose layout depends on a bitmap and
// so has no generated type.
type xdrEnc struct{ b []byte }

func (e *xdrEnc) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *xdrEnc) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }

func (e *xdrEnc) boolean(v bool) {
	if v {
		e.u32(1)
	} else {
		e.u32(0)
	}
}

func (e *xdrEnc) opaque(p []byte) {
	e.u32(uint32(len(p)))
	e.b = append(e.b, p...)
	for len(e.b)%4 != 0 {
		e.b = append(e.b, 0)
	}
}

func (e *xdrEnc) str(s string) { e.opaque([]byte(s)) }

func (e *xdrEnc) bitmap(words []uint32) {
	e.u32(uint32(len(words)))
	for _, w := range words {
		e.u32(w)
	}
}

func (e *xdrEnc) time(t time.Time) {
	e.u64(uint64(t.Unix()))
	e.u32(uint32(t.Nanosecond()))
}

var errShortXDR = errors.New("nfs: truncated XDR value")

// xdrDec reads XDR values from a byte slice. The first error sticks; later
// reads return zero values.
type xdrDec struct {
	b   []byte
	err error
}

func (d *xdrDec) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *xdrDec) u32() uint32 {
	if len(d.b) < 4 {
		d.fail(errShortXDR)
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *xdrDec) u64() uint64 {
	if len(d.b) < 8 {
		d.fail(errShortXDR)
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// opaque reads a variable-length opaque of at most max bytes. The result
// aliases the input.
func (d *xdrDec) opaque(max int) []byte {
	n := d.u32()
	if d.err != nil {
		return nil
	}
	padded := (uint64(n) + 3) &^ 3
	if uint64(n) > uint64(max) || padded > uint64(len(d.b)) {
		d.fail(errShortXDR)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[padded:]
	return v
}

func (d *xdrDec) utf8(max int) string {
	v := d.opaque(max)
	if d.err == nil && !utf8.Valid(v) {
		d.fail(errors.New("nfs: string is not valid UTF-8"))
		return ""
	}
	return string(v)
}

// nfstime reads an nfstime4, rejecting nanoseconds of a second or more.
func (d *xdrDec) nfstime() (time.Time, bool) {
	sec := int64(d.u64())
	nsec := d.u32()
	if d.err != nil {
		return time.Time{}, false
	}
	if nsec >= 1e9 || sec > math.MaxInt64/2 || sec < math.MinInt64/2 {
		return time.Time{}, false
	}
	return time.Unix(sec, int64(nsec)).UTC(), true
}
