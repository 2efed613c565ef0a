package rpc

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// workerIdle is how long an idle worker waits for a call before it ends.
const workerIdle = 2 * time.Second

// workerPool runs calls on reused goroutines. A call's goroutine grows its
// stack to the tens of KiB a COMPOUND through fs, kms and pebble needs; a
// new goroutine per call grew it again by copying every time. A call is
// handed to an idle worker when one is waiting, else to a new one. At most
// maxIdle workers wait at a time, each for at most workerIdle, so idle
// connections hold no worker and the pool's memory does not grow with the
// number of connections.
type workerPool struct {
	work    chan func() // unbuffered: a send succeeds only if a worker waits
	idle    atomic.Int32
	maxIdle int32
	done    chan struct{} // closed by stop
	wg      sync.WaitGroup
}

func newWorkerPool() *workerPool {
	return &workerPool{work: make(chan func()), maxIdle: int32(4 * runtime.GOMAXPROCS(0)), done: make(chan struct{})}
}

// run runs fn on a worker. It must not be called after stop.
func (p *workerPool) run(fn func()) {
	select {
	case p.work <- fn:
	default:
		p.wg.Add(1)
		go p.worker(fn)
	}
}

func (p *workerPool) worker(fn func()) {
	defer p.wg.Done()
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		fn()
		if p.idle.Add(1) > p.maxIdle {
			p.idle.Add(-1)
			return
		}
		t.Reset(workerIdle)
		select {
		case fn = <-p.work:
			p.idle.Add(-1)
		case <-t.C:
			p.idle.Add(-1)
			return
		case <-p.done:
			p.idle.Add(-1)
			return
		}
	}
}

// stop ends the idle workers and waits for all of them; no call may be
// running or started.
func (p *workerPool) stop() {
	close(p.done)
	p.wg.Wait()
}
