package fs_test

import mrand "math/rand/v2"

type rng struct{ *mrand.Rand }

func newRand(seed uint64) rng { return rng{mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

func (r rng) Intn(n int) int { return r.IntN(n) }
