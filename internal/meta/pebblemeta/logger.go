package pebblemeta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
)

// slogLogger sends pebble's log output to slog, so that nothing is written
// to stderr behind the daemon's back. Pebble's Infof output (flushes,
// compactions, WAL and manifest rotation: one line per background job) goes
// to Debug; Errorf (background errors such as a failed flush on a full disk)
// to Error, since an operator must act.
//
// Fatalf is pebble's "cannot continue" signal (failed MANIFEST write, failed
// commit, detected corruption). Pebble's default logger calls os.Exit; this
// one logs, marks the store failed through onFatal, and panics with a
// *fatalError. When the call comes from a commit that Store started, Store
// recovers the panic and returns an error; when it comes from one of
// pebble's background goroutines the panic ends the process, exactly as the
// default logger would.
type slogLogger struct {
	log     *slog.Logger
	onFatal func(error)
}

var _ pebble.Logger = slogLogger{}

func (l slogLogger) Infof(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug("pebble event", "detail", fmt.Sprintf(format, args...))
	}
}

func (l slogLogger) Errorf(format string, args ...any) {
	l.log.Error("pebble error", "err", fmt.Sprintf(format, args...))
}

func (l slogLogger) Fatalf(format string, args ...any) {
	err := &fatalError{msg: fmt.Sprintf(format, args...)}
	l.log.Error("pebble fatal error", "err", err.msg)
	if l.onFatal != nil {
		l.onFatal(err)
	}
	panic(err)
}

// fatalError is the panic value of slogLogger.Fatalf.
type fatalError struct{ msg string }

func (e *fatalError) Error() string { return "pebble fatal error: " + e.msg }

// recoverFatal turns a panic raised inside pebble during a call made by Store
// into an error. Both pebble's own panics on I/O errors (for example a WAL
// write error met by a later commit) and slogLogger.Fatalf end up here.
func recoverFatal(errp *error) {
	r := recover()
	if r == nil {
		return
	}
	var err error
	switch v := r.(type) {
	case error:
		err = v
	default:
		err = fmt.Errorf("%v", v)
	}
	var fe *fatalError
	if !errors.As(err, &fe) {
		err = fmt.Errorf("pebble panic: %w", err)
	}
	*errp = err
}
