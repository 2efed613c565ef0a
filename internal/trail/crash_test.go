package trail

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/meta/pebblemeta"
)

const envCrashDir = "SHELF_TRAIL_CRASH_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(envCrashDir); dir != "" {
		crashChild(dir)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashChild appends records and delivers them, with digests, as fast as
// it can until it is killed. It prints "A <eventID>" once a record's
// Append has returned (the record is acknowledged).
func crashChild(dir string) {
	ctx := context.Background()
	m, err := pebblemeta.Open(filepath.Join(dir, "meta"), pebblemeta.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(3)
	}
	log := audit.NewLog(m)
	tr, err := New(ctx, Deps{Meta: m, Audit: log, Sealer: fakeSealer{}, Clock: clock.System},
		Config{Dir: filepath.Join(dir, "trail"), Account: testAccount, Region: testRegion})
	if err != nil {
		fmt.Fprintln(os.Stderr, "trail:", err)
		os.Exit(3)
	}
	next, err := log.NextSeq(ctx)
	if err != nil {
		os.Exit(3)
	}
	var mu sync.Mutex
	go func() {
		for i := 0; ; i++ {
			var err error
			if i%5 == 4 {
				err = tr.DigestNow(ctx)
			} else {
				err = tr.DeliverNow(ctx)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "deliver:", err)
				os.Exit(3)
			}
		}
	}()
	for n := int(next); ; n++ {
		if err := log.Append(ctx, testEvent("CreateFileSystem", time.Now(), n)); err != nil {
			fmt.Fprintln(os.Stderr, "append:", err)
			os.Exit(3)
		}
		mu.Lock()
		fmt.Fprintf(os.Stdout, "A ev-%06d\n", n)
		mu.Unlock()
	}
}

// TestKill9DuringDelivery kills a process that appends and delivers
// records, again and again, at arbitrary points; after the last restart
// every acknowledged record is in exactly one log file and the trail
// validates.
func TestKill9DuringDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	acked := map[string]bool{}
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envCrashDir+"="+dir)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		sc := bufio.NewScanner(out)
		// Kill after a number of acknowledgements that varies by round,
		// so the kill lands at different points of delivery.
		want := 300 + round*237
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "A "); ok {
				acked[id] = true
				if want--; want == 0 {
					require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
					break
				}
			}
		}
		for sc.Scan() { // lines written before the kill
			if id, ok := strings.CutPrefix(sc.Text(), "A "); ok {
				acked[id] = true
			}
		}
		_ = cmd.Wait()
		require.NotContains(t, stderr.String(), "open:", "round %d", round)
		require.NotContains(t, stderr.String(), "deliver:", "round %d", round)
	}

	// Restart once more, in process, and deliver the rest.
	ctx := context.Background()
	m, err := pebblemeta.Open(filepath.Join(dir, "meta"), pebblemeta.Options{})
	require.NoError(t, err)
	defer m.Close()
	log := audit.NewLog(m)
	tr, err := New(ctx, Deps{Meta: m, Audit: log, Sealer: fakeSealer{}, Clock: clock.System},
		Config{Dir: filepath.Join(dir, "trail"), Account: testAccount, Region: testRegion})
	require.NoError(t, err)
	require.NoError(t, tr.DigestNow(ctx))
	next, err := log.NextSeq(ctx)
	require.NoError(t, err)

	ids := delivered(t, filepath.Join(dir, "trail"))
	seen := map[string]int{}
	for _, id := range ids {
		seen[id]++
	}
	for id, n := range seen {
		require.Equal(t, 1, n, "%s delivered %d times", id, n)
	}
	for id := range acked {
		require.Equal(t, 1, seen[id], "acknowledged %s not delivered", id)
	}
	require.Len(t, ids, int(next-1), "every stored record once")

	rep, err := Validate(ValidateInput{Dir: filepath.Join(dir, "trail"), Account: testAccount, Region: testRegion,
		Keys: tr.PublicKeys(), Start: time.Now().Add(-time.Hour), End: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep.Findings)
	dv, _ := rep.Count(KindDigest)
	require.Greater(t, dv, 1, "%+v", rep)
	t.Logf("%d records acknowledged, %d stored, %d delivered, %d digests valid; %s", len(acked), next-1,
		len(ids), dv, strconv.Itoa(len(rep.Gaps))+" gaps")
}
