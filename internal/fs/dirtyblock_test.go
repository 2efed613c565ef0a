package fs

import (
	"bytes"
	mrand "math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDirtyBlockModel: random writes into a dirty block keep its extents
// sorted, disjoint and non-adjacent, hold exactly the written bytes, and
// account the bytes allocated.
func TestDirtyBlockModel(t *testing.T) {
	const bs = 64 << 10
	rng := mrand.New(mrand.NewPCG(3, 4))
	for round := range 200 {
		var b dirtyBlock
		model := make([]byte, bs)
		written := make([]bool, bs)
		allocated := 0
		for range 1 + rng.IntN(40) {
			n := 1 + rng.IntN(8<<10)
			if round%4 == 0 {
				n = 1 + rng.IntN(64) // many small pieces
			}
			if rng.IntN(12) == 0 {
				n = bs // the whole block
			}
			lo := rng.IntN(bs - n + 1)
			p := make([]byte, n)
			for k := range p {
				p[k] = byte(rng.Uint32())
			}
			// Every other round, the block may keep p (which is not
			// used again but through the model).
			owned := round%2 == 1
			allocated += b.add(uint32(lo), p, bs, owned)
			if owned && n == bs {
				require.Len(t, b.exts, 1)
				require.Same(t, &p[0], &b.exts[0].data[0], "a whole block given away is kept, not copied")
			}
			copy(model[lo:], p)
			for k := lo; k < lo+n; k++ {
				written[k] = true
			}
			caps, end := 0, -1
			for _, e := range b.exts {
				require.Greater(t, int(e.off), end, "extents sorted, disjoint and not adjacent")
				require.LessOrEqual(t, int(e.end()), bs)
				end = int(e.end())
				caps += cap(e.data)
			}
			require.Equal(t, caps, allocated)
		}
		got := make([]bool, bs)
		for _, e := range b.exts {
			require.True(t, bytes.Equal(model[e.off:e.end()], e.data))
			for k := e.off; k < e.end(); k++ {
				got[k] = true
			}
		}
		require.Equal(t, written, got)
		// Over a stored block, the written bytes win and the rest is kept.
		prev := bytes.Repeat([]byte{0xAA}, bs/2)
		plain := b.plain(prev)
		for k := range max(len(prev), int(b.end())) {
			switch {
			case written[k]:
				require.Equal(t, model[k], plain[k])
			case k < len(prev):
				require.Equal(t, byte(0xAA), plain[k])
			default:
				require.Zero(t, plain[k])
			}
		}
		require.Len(t, plain, max(len(prev), int(b.end())))
	}
}
