package configsvc_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/blob/memblob"
	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/configsvc"
	"github.com/shelf-efs/shelf/internal/control"
	"github.com/shelf-efs/shelf/internal/data"
	"github.com/shelf-efs/shelf/internal/fs"
	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/meta"
	"github.com/shelf-efs/shelf/internal/meta/pebblemeta"
)

const (
	account = "123456789012"
	region  = "us-east-1"
)

type env struct {
	t     testing.TB
	ctl   *control.Service
	cfg   *configsvc.Service
	meta  meta.Store
	audit *audit.Log
	stop  func()
	mk    func(cfg configsvc.Config) *configsvc.Service
}

func newEnv(t testing.TB, cfg configsvc.Config) *env {
	t.Helper()
	m, err := pebblemeta.Open("", pebblemeta.Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	root := make([]byte, 32)
	_, _ = rand.Read(root)
	km, err := kms.Open(context.Background(), m, root, kms.Config{Account: account, Region: region}, clock.System)
	require.NoError(t, err)
	fsvc := fs.New(m, data.New(memblob.New(), data.Options{}), km, fs.Options{NoBackground: true})
	t.Cleanup(func() { _ = fsvc.Close() })
	ctl, err := control.New(context.Background(), m, fsvc, km, control.Config{Account: account, Region: region}, control.Options{})
	require.NoError(t, err)
	e := &env{t: t, ctl: ctl, meta: m, audit: audit.NewLog(m)}
	e.mk = func(cfg configsvc.Config) *configsvc.Service {
		svc, err := configsvc.New(m, ctl, cfg, configsvc.Options{Audit: e.audit})
		require.NoError(t, err)
		return svc
	}
	e.start(cfg)
	return e
}

// start runs a configsvc over the environment's stores (again, after stop:
// a restart).
func (e *env) start(cfg configsvc.Config) {
	svc := e.mk(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	e.cfg = svc
	e.stop = func() {
		cancel()
		require.NoError(e.t, <-done)
		require.NoError(e.t, svc.Close())
		e.stop = func() {}
	}
	e.t.Cleanup(func() { e.stop() })
}

func (e *env) flush() {
	e.t.Helper()
	require.NoError(e.t, e.cfg.Flush(context.Background()))
}

func (e *env) createFS(t testing.TB, encrypted bool) control.FileSystem {
	t.Helper()
	ctx := context.Background()
	id, err := e.ctl.NewFileSystemID(ctx)
	require.NoError(t, err)
	d, err := e.ctl.CreateFileSystem(ctx, id, control.CreateFileSystemInput{CreationToken: "tok-" + id, Encrypted: encrypted})
	require.NoError(t, err)
	return d
}

func (e *env) verdict(t testing.TB, rule, resourceID string) string {
	t.Helper()
	evs, err := e.cfg.RuleEvaluations(context.Background(), rule)
	require.NoError(t, err)
	for _, ev := range evs {
		if ev.ResourceID == resourceID {
			return ev.Compliance
		}
	}
	return ""
}

func managed(name, id, params string) configsvc.Rule {
	return configsvc.Rule{Name: name, Source: configsvc.Source{Owner: "AWS", SourceIdentifier: id}, InputParameters: params}
}

func TestRecorderHistory(t *testing.T) {
	e := newEnv(t, configsvc.Config{})
	ctx := context.Background()
	d := e.createFS(t, false)
	e.flush()
	_, err := e.ctl.PutBackupPolicy(ctx, d.ID, "ENABLED")
	require.NoError(t, err)
	e.flush()
	items, ok, err := e.cfg.History(ctx, control.ResourceTypeFileSystem, d.ID, time.Time{}, time.Time{})
	require.NoError(t, err)
	require.True(t, ok)
	require.GreaterOrEqual(t, len(items), 2) // creating, then available, then the backup policy
	last := len(items) - 1
	require.Equal(t, configsvc.StatusDiscovered, items[0].Status)
	require.Equal(t, configsvc.StatusOK, items[last].Status)
	require.JSONEq(t, `{"Status":"DISABLED"}`, string(items[last-1].SupplementaryConfiguration["BackupPolicy"]))
	require.JSONEq(t, `{"Status":"ENABLED"}`, string(items[last].SupplementaryConfiguration["BackupPolicy"]))
	s0, _ := strconv.ParseInt(items[last-1].StateID, 10, 64)
	s1, _ := strconv.ParseInt(items[last].StateID, 10, 64)
	require.Greater(t, s1, s0)
	fsItems := len(items)
	var conf map[string]any
	require.NoError(t, json.Unmarshal(items[last].Configuration, &conf))
	require.Equal(t, d.ID, conf["FileSystemId"])
	require.Equal(t, false, conf["Encrypted"])

	// A change made while the recorder is down is recorded at start.
	e.stop()
	ap, err := e.ctl.CreateAccessPoint(ctx, control.CreateAccessPointInput{ClientToken: "x", FileSystemID: d.ID})
	require.NoError(t, err)
	e.start(configsvc.Config{})
	e.flush()
	items, ok, err = e.cfg.History(ctx, control.ResourceTypeAccessPoint, ap.ID, time.Time{}, time.Time{})
	require.NoError(t, err)
	require.True(t, ok)
	require.Len(t, items, 1)
	// The file system's item gained the relationship.
	items, _, err = e.cfg.History(ctx, control.ResourceTypeFileSystem, d.ID, time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Len(t, items, fsItems+1)
	require.Equal(t, ap.ID, items[fsItems].Relationships[0].ResourceID)

	// Deletion.
	require.NoError(t, e.ctl.DeleteAccessPoint(ctx, ap.ID))
	e.flush()
	items, _, err = e.cfg.History(ctx, control.ResourceTypeAccessPoint, ap.ID, time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Len(t, items, 2)
	require.Equal(t, configsvc.StatusDeleted, items[1].Status)

	// A reconciliation without changes records nothing.
	e.stop()
	e.start(configsvc.Config{})
	e.flush()
	items, _, err = e.cfg.History(ctx, control.ResourceTypeFileSystem, d.ID, time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Len(t, items, fsItems+2) // the access point's relationship went
}

type receiver struct {
	mu     sync.Mutex
	bodies [][]byte
	ok     bool
	status int
	secret []byte
	hang   chan struct{}
	hits   int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.hits++
	hang, status := r.hang, r.status
	r.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-req.Context().Done():
		}
		return
	}
	ts, _ := strconv.ParseInt(req.Header.Get(configsvc.HeaderTimestamp), 10, 64)
	r.mu.Lock()
	r.ok = configsvc.VerifySignature(r.secret, ts, body, req.Header.Get(configsvc.HeaderSignature))
	if status == 0 {
		r.bodies = append(r.bodies, body)
	}
	r.mu.Unlock()
	if status != 0 {
		w.WriteHeader(status)
	}
}

func TestEncryptedCheckAndAlert(t *testing.T) {
	rcv := &receiver{secret: []byte("s3cret")}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	e := newEnv(t, configsvc.Config{Webhooks: []configsvc.Webhook{{URL: srv.URL + "/hook", Secret: rcv.secret}}})
	ctx := context.Background()
	_, err := e.cfg.PutRule(ctx, managed("enc", "EFS_ENCRYPTED_CHECK", ""))
	require.NoError(t, err)
	plain := e.createFS(t, false)
	enc := e.createFS(t, true)
	e.flush()
	require.Equal(t, configsvc.NonCompliant, e.verdict(t, "enc", plain.ID))
	require.Equal(t, configsvc.Compliant, e.verdict(t, "enc", enc.ID))

	// The alert arrives, signed.
	require.Eventually(t, func() bool {
		n, err := e.cfg.PendingAlerts(ctx)
		return err == nil && n == 0
	}, 10*time.Second, 5*time.Millisecond)
	rcv.mu.Lock()
	require.True(t, rcv.ok)
	require.Len(t, rcv.bodies, 1)
	var n map[string]any
	require.NoError(t, json.Unmarshal(rcv.bodies[0], &n))
	rcv.mu.Unlock()
	require.Equal(t, "ComplianceChangeNotification", n["messageType"])
	require.Equal(t, plain.ID, n["resourceId"])
	require.Equal(t, "NON_COMPLIANT", n["newEvaluationResult"].(map[string]any)["complianceType"])

	// The delivery is on the audit trail.
	var found bool
	require.NoError(t, e.audit.Scan(ctx, 1, func(_ uint64, ev *audit.Event) error {
		if ev.EventSource == "config.amazonaws.com" && ev.EventType == audit.EventTypeServiceEvent {
			found = true
			require.Contains(t, string(ev.ServiceEventDetails), `"outcome":"Delivered"`)
		}
		return nil
	}))
	require.True(t, found)
}
