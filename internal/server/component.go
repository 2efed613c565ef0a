package server

import "context"

// component is a long-lived part of the server that Run starts and stops:
// the health endpoint today, the EFS API and the NFS listeners later.
//
// A component acquires its listeners when it is constructed (inside New), so
// that an address in use fails New, and serves them in Run.
type component interface {
	// Name identifies the component in logs and errors ("health", "api").
	Name() string
	// Run serves until ctx is cancelled, then stops accepting work,
	// finishes (or, after a bounded time, abandons) what it has started,
	// and returns nil. Every goroutine it starts has ended when it
	// returns. An error means the component failed on its own; Run of the
	// server then stops the others. Run is called at most once.
	Run(ctx context.Context) error
	// Close releases what the constructor acquired. It is called once,
	// after Run has returned or when Run was never called.
	Close() error
}
