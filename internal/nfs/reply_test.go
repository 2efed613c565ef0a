package nfs

import (
	"bytes"
	"testing"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
	"github.com/stretchr/testify/require"
)

// TestReadResultEncoding checks that a READ result whose data stays in
// parts encodes, in a reply and through any other writer, to the bytes of
// the generated encoding of the same result with its data in one slice, and
// that the reply references the parts instead of copying them.
func TestReadResultEncoding(t *testing.T) {
	big := bytes.Repeat([]byte{0xab}, 70_000)
	for _, tc := range []struct {
		name  string
		eof   bool
		parts [][]byte
	}{
		{"empty", true, nil},
		{"one byte", false, [][]byte{{7}}},
		{"odd parts", true, [][]byte{[]byte("abc"), {}, []byte("defgh"), make([]byte, 5)}},
		{"large", false, [][]byte{big, []byte("xy"), big[:3]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var flatData []byte
			for _, p := range tc.parts {
				flatData = append(flatData, p...)
			}
			seq := &nfsv4.NfsResop4_OP_SEQUENCE{Opsequence: &nfsv4.Sequence4res_NFS4_OK{}}
			getattr := &nfsv4.NfsResop4_OP_GETATTR{Opgetattr: &nfsv4.Getattr4res_default{Status: nfsv4.NFS4ERR_STALE}}
			want := encodeReply(&nfsv4.Compound4res{Tag: "t", Status: nfsv4.NFS4ERR_STALE, Resarray: []nfsv4.NfsResop4{
				seq, &nfsv4.NfsResop4_OP_READ{Opread: &nfsv4.Read4res_NFS4_OK{Resok4: nfsv4.Read4resok{Eof: tc.eof, Data: flatData}}}, getattr,
			}}).flat()
			require.Len(t, want, 1)

			rr := newReadResult(tc.eof, tc.parts, len(flatData))
			res := &nfsv4.Compound4res{Tag: "t", Status: nfsv4.NFS4ERR_STALE, Resarray: []nfsv4.NfsResop4{seq, rr, getattr}}
			got := encodeReply(res)
			require.Equal(t, want[0], got.flat()[0])
			require.Equal(t, len(want[0]), got.size())
			require.Equal(t, len(want[0]), res.GetEncodedSizeBytes())
			require.Equal(t, nfsv4.OP_READ, rr.GetResop())

			// Large parts are in the reply as they are.
			for _, p := range tc.parts {
				if len(p) < 1000 {
					continue
				}
				found := false
				for _, q := range got {
					found = found || (len(q) == len(p) && &q[0] == &p[0])
				}
				require.True(t, found, "a part of %d bytes was copied", len(p))
			}

			var buf bytes.Buffer
			n, err := res.WriteTo(&buf)
			require.NoError(t, err)
			require.Equal(t, int64(buf.Len()), n)
			require.Equal(t, want[0], buf.Bytes())
		})
	}
}

// TestReplyFlat checks that a flat reply is one part of its own.
func TestReplyFlat(t *testing.T) {
	a, b := []byte("abc"), []byte("defg")
	r := reply{a, b}
	f := r.flat()
	require.Equal(t, reply{[]byte("abcdefg")}, f)
	a[0] = 'x'
	require.Equal(t, []byte("abcdefg"), f[0])
	require.Equal(t, 7, r.size())
	one := reply{b}
	require.Equal(t, one, one.flat())
}

// FuzzReadResultEncoding: any data, cut anywhere into parts, encodes in a
// reply to the generated encoding of the same READ result.
func FuzzReadResultEncoding(f *testing.F) {
	f.Add([]byte("hello, world"), []byte{3, 0, 5}, true)
	f.Add([]byte{}, []byte{}, false)
	f.Add(bytes.Repeat([]byte{1}, 5000), []byte{255, 7}, false)
	f.Fuzz(func(t *testing.T, data, cuts []byte, eof bool) {
		var parts [][]byte
		rest := data
		for _, c := range cuts {
			n := min(int(c), len(rest))
			parts = append(parts, rest[:n])
			rest = rest[n:]
		}
		parts = append(parts, rest)
		want := encodeReply(&nfsv4.Compound4res{Resarray: []nfsv4.NfsResop4{
			&nfsv4.NfsResop4_OP_READ{Opread: &nfsv4.Read4res_NFS4_OK{Resok4: nfsv4.Read4resok{Eof: eof, Data: data}}},
		}}).flat()
		res := &nfsv4.Compound4res{Resarray: []nfsv4.NfsResop4{newReadResult(eof, parts, len(data))}}
		got := encodeReply(res)
		require.Equal(t, want.size(), res.GetEncodedSizeBytes())
		require.Equal(t, want[0], got.flat()[0])
	})
}

// TestMayKeepWriteData: an unstable WRITE's data is kept in its record only
// when it is at least half of it, so that buffered writes never pin more
// than twice the bytes they are counted for.
func TestMayKeepWriteData(t *testing.T) {
	const mib = 1 << 20
	require.True(t, mayKeepWriteData(mib, mib+300), "a 1 MiB WRITE")
	require.True(t, mayKeepWriteData(4096, 4400), "a 4 KiB WRITE")
	require.True(t, mayKeepWriteData(mib/2, mib))
	require.False(t, mayKeepWriteData(mib/2-1, mib))
	require.False(t, mayKeepWriteData(1, mib), "a small WRITE in a large COMPOUND is copied")
	require.False(t, mayKeepWriteData(0, 100))
}
