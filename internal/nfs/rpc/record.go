package rpc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Record marking (RFC 5531 §11): on a byte stream every RPC message is a
// record of one or more fragments, each preceded by a 4-byte header whose
// top bit marks the last fragment and whose other 31 bits give the
// fragment's length.
const (
	recordMarkerBytes = 4
	lastFragmentBit   = 0x8000_0000
)

// DefaultMaxRecordBytes bounds an incoming record, counting its fragment
// headers: a 1 MiB WRITE (the maxwrite shelf advertises) plus room for the
// RPC header, the credential and the rest of the COMPOUND.
const DefaultMaxRecordBytes = 1<<20 + 64<<10

// minGrowBytes is the first allocation for a record's body. Buffers then
// grow fourfold as bytes arrive (a 1 MiB WRITE is read in three
// allocations, copying 320 KiB), so what a record costs in memory is at
// most about four times what the client has actually sent, never what its
// headers claim.
const minGrowBytes = 64 << 10

// growFactor is how much a record's buffer grows when it is full.
const growFactor = 4

// ErrRecordTooLarge is returned by the record reader when a record's
// fragments add up to more than the limit. The connection is closed: the
// stream cannot be resynchronised without reading the rest.
var ErrRecordTooLarge = errors.New("rpc: record too large")

// recordReader reads whole records from a stream. It is not safe for
// concurrent use; a connection has one reader goroutine.
type recordReader struct {
	r        io.Reader
	maxBytes int // fragment headers included
}

// next returns the next whole record's body (the fragments' payloads
// concatenated); the slice is the caller's. It returns io.EOF when the
// stream ends cleanly between records, io.ErrUnexpectedEOF when it ends
// inside one, and ErrRecordTooLarge (wrapped) as soon as a fragment header
// announces more than the limit allows, before reading or allocating for
// that fragment.
func (rr *recordReader) next() ([]byte, error) {
	var buf []byte
	total := 0 // bytes of the record so far, headers included
	for first := true; ; first = false {
		var hdr [recordMarkerBytes]byte
		if n, err := io.ReadFull(rr.r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) && (!first || n > 0) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		h := binary.BigEndian.Uint32(hdr[:])
		fragBytes := int(h &^ lastFragmentBit)
		total += recordMarkerBytes
		if fragBytes > rr.maxBytes-total {
			return nil, fmt.Errorf("%w: a fragment of %d bytes after %d bytes exceeds the limit of %d bytes",
				ErrRecordTooLarge, fragBytes, total-recordMarkerBytes, rr.maxBytes)
		}
		total += fragBytes
		var err error
		if buf, err = readGrowing(rr.r, buf, fragBytes); err != nil {
			return nil, err
		}
		if h&lastFragmentBit != 0 {
			return buf, nil
		}
	}
}

// readGrowing appends exactly n bytes from r to buf, growing buf only as
// data arrives.
func readGrowing(r io.Reader, buf []byte, n int) ([]byte, error) {
	want := len(buf) + n
	for len(buf) < want {
		if len(buf) == cap(buf) {
			c := max(growFactor*cap(buf), minGrowBytes)
			grown := make([]byte, len(buf), min(c, want))
			copy(grown, buf)
			buf = grown
		}
		chunk := buf[len(buf):min(cap(buf), want)]
		m, err := io.ReadFull(r, chunk)
		buf = buf[:len(buf)+m]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}

// putRecordMarker writes the header of a one-fragment record into the
// first recordMarkerBytes of rec, whose remainder and then more bytes
// further are the record's body.
func putRecordMarker(rec []byte, more int) {
	binary.BigEndian.PutUint32(rec, uint32(len(rec)-recordMarkerBytes+more)|lastFragmentBit)
}
