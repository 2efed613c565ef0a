// Package trail delivers the audit log (internal/audit) as a CloudTrail
// trail: gzip-compressed log files {"Records":[…]} every few minutes, and
// every hour a digest file listing the log files delivered since the
// previous digest with their SHA-256, signed with SHA256withRSA over the
// string CloudTrail signs and chained to the previous digest by its
// signature, so that a removed, changed or inserted file is detected
// (Validate; `shelf trail validate`). Files are laid out as CloudTrail lays
// out S3 keys, under a trail directory (<data-dir>/trail by default).
//
// Delivery is exactly-once across crashes. The records are durable in the
// metadata store before an API call is answered; trail keeps its progress
// there too (the last delivered sequence number, the log files not yet in a
// digest, the last digest and its signature). Before a file is written its
// name and content range are recorded; after it is written and synced the
// progress is committed. A restart finds an unfinished file and writes the
// same file again, so no record is lost and none is delivered twice.
//
// The signing keys (RSA for digests, Ed25519 for audit report manifests)
// are generated once and kept sealed by the KMS root key.
//
// trail imports audit, meta and clock; it must not import edge, control or
// any engine.
package trail

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/meta"
)

// Defaults of Config.
const (
	DefaultDeliveryInterval = 5 * time.Minute
	DefaultDigestInterval   = time.Hour
	DefaultName             = "shelf"
	DefaultBucket           = "shelf-trail"
	// maxRecordsPerFile bounds one log file; a backlog is delivered as
	// several files.
	maxRecordsPerFile = 2000
	// finalTimeout bounds the delivery at shutdown.
	finalTimeout = 30 * time.Second
)

// Config describes the trail.
type Config struct {
	// Dir is the trail directory (the "bucket"); absolute.
	Dir     string
	Account string
	Region  string
	// Name is the trail name (DefaultName when empty); it appears in the
	// trail ARN and the digest file names.
	Name string
	// Bucket is the s3Bucket / digestS3Bucket value written in digests
	// (DefaultBucket when empty).
	Bucket string
	// DeliveryInterval and DigestInterval default to 5 minutes and 1 hour.
	DeliveryInterval time.Duration
	DigestInterval   time.Duration
}

// Deps are the services the trail uses.
type Deps struct {
	Meta   meta.Store
	Audit  *audit.Log
	Sealer Sealer
	Clock  clock.Clock
	// Rand is crypto/rand.Reader when nil.
	Rand   io.Reader
	Logger *slog.Logger
}

// Trail delivers the audit log. It is a component of shelfd: New opens the
// keys and recovers an interrupted delivery, Run delivers on its intervals
// and once more at shutdown. Its methods are safe for concurrent use.
type Trail struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	keys *keys

	// mu serializes deliveries and digests (and guards running).
	mu      sync.Mutex
	running bool
	lastErr string
}

// Status is what GetTrailStatus reports.
type Status struct {
	IsLogging                bool
	StartLoggingTime         time.Time
	LatestDeliveryTime       time.Time
	LatestDigestDeliveryTime time.Time
	LatestDeliveryError      string
	// DeliveredSeq is the last audit sequence number delivered.
	DeliveredSeq uint64
	// LatestDigestKey is the key of the newest digest ("" before the first).
	LatestDigestKey string
}

// New opens (creating on first use) the signing keys and the delivery
// state, and finishes a delivery that a crash interrupted.
func New(ctx context.Context, deps Deps, cfg Config) (*Trail, error) {
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultBucket
	}
	if cfg.DeliveryInterval <= 0 {
		cfg.DeliveryInterval = DefaultDeliveryInterval
	}
	if cfg.DigestInterval <= 0 {
		cfg.DigestInterval = DefaultDigestInterval
	}
	if cfg.Dir == "" || cfg.Account == "" || cfg.Region == "" {
		return nil, errors.New("trail: Dir, Account and Region are required")
	}
	if deps.Rand == nil {
		deps.Rand = rand.Reader
	}
	if deps.Clock == nil {
		deps.Clock = clock.System
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Trail{cfg: cfg, deps: deps, log: deps.Logger}
	k, err := openKeys(ctx, deps.Meta, deps.Sealer, deps.Rand, deps.Clock.Now())
	if err != nil {
		return nil, err
	}
	t.keys = k
	if err := mkdirAllSynced(cfg.Dir, cfg.Dir); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	st, err := t.loadState(ctx)
	if err != nil {
		return nil, err
	}
	if st.StartLogging.IsZero() {
		st.StartLogging = deps.Clock.Now().UTC().Truncate(time.Second)
		if err := t.saveState(ctx, st); err != nil {
			return nil, err
		}
	}
	if err := t.recoverLocked(ctx, st); err != nil {
		return nil, err
	}
	return t, nil
}

// Name is "trail".
func (t *Trail) Name() string { return "trail" }

// TrailName is the trail's name.
func (t *Trail) TrailName() string { return t.cfg.Name }

// ARN is arn:aws:cloudtrail:<region>:<account>:trail/<name>.
func (t *Trail) ARN() string {
	return "arn:aws:cloudtrail:" + t.cfg.Region + ":" + t.cfg.Account + ":trail/" + t.cfg.Name
}

// Bucket is the bucket name written in digests.
func (t *Trail) Bucket() string { return t.cfg.Bucket }

// Dir is the trail directory.
func (t *Trail) Dir() string { return t.cfg.Dir }

// Region is the trail's (home) region.
func (t *Trail) Region() string { return t.cfg.Region }

// PublicKeys returns the digest public keys.
func (t *Trail) PublicKeys() []PublicKey { return []PublicKey{t.keys.digestPub} }

// SignManifest signs an audit report manifest with the report key.
func (t *Trail) SignManifest(manifest []byte) ManifestSignature {
	msg := append([]byte(ManifestDomain), manifest...)
	pub := t.keys.report.Public().(ed25519.PublicKey)
	return ManifestSignature{
		Algorithm:   "Ed25519",
		PublicKey:   append([]byte(nil), pub...),
		Fingerprint: t.keys.reportFP,
		Signature:   ed25519.Sign(t.keys.report, msg),
	}
}

// Run delivers log files every DeliveryInterval and digests every
// DigestInterval until ctx is cancelled, then delivers what is left and
// writes a final digest. Delivery failures are logged and retried at the
// next tick; they never stop Run.
func (t *Trail) Run(ctx context.Context) error {
	t.mu.Lock()
	t.running = true
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.running = false
		t.mu.Unlock()
	}()
	deliver := time.NewTicker(t.cfg.DeliveryInterval)
	defer deliver.Stop()
	nextDigest := time.NewTimer(t.untilNextDigest(ctx))
	defer nextDigest.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalTimeout)
			defer cancel()
			if err := t.DigestNow(fctx); err != nil {
				t.log.Error("final trail delivery failed; it resumes at the next start", "err", err)
			}
			return nil
		case <-deliver.C:
			if err := t.DeliverNow(ctx); err != nil && ctx.Err() == nil {
				t.log.Warn("trail delivery failed; retrying at the next interval", "err", err)
			}
		case <-nextDigest.C:
			if err := t.DigestNow(ctx); err != nil && ctx.Err() == nil {
				t.log.Warn("trail digest failed; retrying", "err", err)
				nextDigest.Reset(t.cfg.DeliveryInterval)
				continue
			}
			nextDigest.Reset(t.untilNextDigest(ctx))
		}
	}
}

// untilNextDigest is the time until the last digest is DigestInterval old.
func (t *Trail) untilNextDigest(ctx context.Context) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, err := t.loadState(ctx)
	if err != nil {
		return t.cfg.DeliveryInterval
	}
	last := st.StartLogging
	if st.LastDigest != nil {
		last = st.LastDigest.End
	}
	d := last.Add(t.cfg.DigestInterval).Sub(t.deps.Clock.Now())
	return max(d, time.Second)
}

// Close releases nothing: the state is in the metadata store.
func (t *Trail) Close() error { return nil }

// Status returns the delivery status.
func (t *Trail) Status(ctx context.Context) (Status, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, err := t.loadState(ctx)
	if err != nil {
		return Status{}, err
	}
	s := Status{
		IsLogging:           t.running,
		StartLoggingTime:    st.StartLogging,
		LatestDeliveryTime:  st.LatestDelivery,
		LatestDeliveryError: t.lastErr,
		DeliveredSeq:        st.DeliveredSeq,
	}
	if st.LastDigest != nil {
		s.LatestDigestDeliveryTime = st.LastDigest.End
		s.LatestDigestKey = st.LastDigest.Key
	}
	return s, nil
}

// DeliverNow delivers every record not yet delivered, as one or more log
// files. It returns when they are written and the progress is durable.
func (t *Trail) DeliverNow(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	err := t.deliverLocked(ctx)
	t.noteErrLocked(err)
	return err
}

// DigestNow delivers the pending records, then writes a digest of the log
// files delivered since the previous digest (possibly none).
func (t *Trail) DigestNow(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	err := t.deliverLocked(ctx)
	if err == nil {
		err = t.digestLocked(ctx)
	}
	t.noteErrLocked(err)
	return err
}

func (t *Trail) noteErrLocked(err error) {
	if err != nil {
		t.lastErr = err.Error()
	} else {
		t.lastErr = ""
	}
}

func (t *Trail) recoverLocked(ctx context.Context, st *state) error {
	if st.PendingLog != nil {
		if err := t.finishLogLocked(ctx, st); err != nil {
			return err
		}
	}
	if st.PendingDigest != nil {
		if err := t.finishDigestLocked(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

func (t *Trail) deliverLocked(ctx context.Context) error {
	st, err := t.loadState(ctx)
	if err != nil {
		return err
	}
	if err := t.recoverLocked(ctx, st); err != nil {
		return err
	}
	// Deliver up to the records committed now: under a steady stream of
	// calls a delivery must still end (and let the digest run).
	next, err := t.deps.Audit.NextSeq(ctx)
	if err != nil {
		return err
	}
	for next > st.DeliveredSeq+1 {
		first := st.DeliveredSeq + 1
		last := min(next-1, first+maxRecordsPerFile-1)
		rnd, err := randomSuffix(t.deps.Rand)
		if err != nil {
			return err
		}
		now := t.deps.Clock.Now()
		st.PendingLog = &pendingLog{Key: logKey(t.cfg.Account, t.cfg.Region, now, rnd), First: first, Last: last, Time: now.UTC()}
		if err := t.saveState(ctx, st); err != nil {
			return err
		}
		if err := t.finishLogLocked(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

// finishLogLocked writes the log file st.PendingLog names (again, after a
// crash: the content is a function of the records) and commits it.
func (t *Trail) finishLogLocked(ctx context.Context, st *state) error {
	p := st.PendingLog
	var recs []json.RawMessage
	var oldest, newest string
	err := t.deps.Audit.Scan(ctx, p.First, func(seq uint64, e *audit.Event) error {
		if seq > p.Last {
			return audit.ErrStop
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		recs = append(recs, b)
		if oldest == "" || e.EventTime < oldest {
			oldest = e.EventTime
		}
		if e.EventTime > newest {
			newest = e.EventTime
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("trail: read records %d-%d: %w", p.First, p.Last, err)
	}
	if uint64(len(recs)) != p.Last-p.First+1 {
		return fmt.Errorf("trail: records %d-%d: found %d", p.First, p.Last, len(recs))
	}
	body, err := json.Marshal(struct {
		Records []json.RawMessage `json:"Records"`
	}{recs})
	if err != nil {
		return err
	}
	if err := writeFileAtomic(t.cfg.Dir, p.Key, gzipBytes(body)); err != nil {
		return err
	}
	st.Pending = append(st.Pending, LogFile{
		S3Bucket: t.cfg.Bucket, S3Object: p.Key, HashValue: sha256Hex(body), HashAlgorithm: HashAlgorithm,
		NewestEventTime: newest, OldestEventTime: oldest,
	})
	st.DeliveredSeq = p.Last
	st.LatestDelivery = p.Time
	st.PendingLog = nil
	if err := t.saveState(ctx, st); err != nil {
		return err
	}
	t.log.Debug("trail log file delivered", "key", p.Key, "records", len(recs))
	return nil
}

func (t *Trail) digestLocked(ctx context.Context) error {
	st, err := t.loadState(ctx)
	if err != nil {
		return err
	}
	start := st.StartLogging
	if st.LastDigest != nil {
		start = st.LastDigest.End
	}
	end := t.deps.Clock.Now().UTC().Truncate(time.Second)
	if !end.After(start) {
		// Digest names are unique by their end time, to the second: the
		// previous digest ended this second. Nothing to cover: skip;
		// otherwise wait for the next second rather than date a digest
		// in the future.
		if len(st.Pending) == 0 {
			return nil
		}
		if wait := start.Add(time.Second).Sub(t.deps.Clock.Now()); wait > 0 && wait <= 2*time.Second {
			tm := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				tm.Stop()
				return ctx.Err()
			case <-tm.C:
			}
		}
		if end = t.deps.Clock.Now().UTC().Truncate(time.Second); !end.After(start) {
			end = start.Add(time.Second) // a clock that stands still (tests)
		}
	}
	key := DigestKey(t.cfg.Account, t.cfg.Region, t.cfg.Name, end)
	d := &Digest{
		AWSAccountID:               t.cfg.Account,
		DigestStartTime:            start.Format(TimeLayout),
		DigestEndTime:              end.Format(TimeLayout),
		DigestS3Bucket:             t.cfg.Bucket,
		DigestS3Object:             key,
		DigestPublicKeyFingerprint: t.keys.digestPub.Fingerprint,
		DigestSignatureAlgorithm:   SignatureAlgorithm,
		LogFiles:                   append([]LogFile{}, st.Pending...),
	}
	for _, lf := range st.Pending {
		if d.OldestEventTime == nil || lf.OldestEventTime < *d.OldestEventTime {
			d.OldestEventTime = strPtr(lf.OldestEventTime)
		}
		if d.NewestEventTime == nil || lf.NewestEventTime > *d.NewestEventTime {
			d.NewestEventTime = strPtr(lf.NewestEventTime)
		}
	}
	if prev := st.LastDigest; prev != nil {
		d.PreviousDigestS3Bucket = strPtr(t.cfg.Bucket)
		d.PreviousDigestS3Object = strPtr(prev.Key)
		d.PreviousDigestHashValue = strPtr(prev.Hash)
		d.PreviousDigestHashAlgorithm = strPtr(HashAlgorithm)
		d.PreviousDigestSignature = strPtr(prev.Signature)
	}
	body, err := json.Marshal(d)
	if err != nil {
		return err
	}
	sig, err := t.keys.signDigest(t.deps.Rand, StringToSign(d, body))
	if err != nil {
		return err
	}
	st.PendingDigest = &pendingDigest{Key: key, End: end, Body: body, Signature: sig}
	if err := t.saveState(ctx, st); err != nil {
		return err
	}
	return t.finishDigestLocked(ctx, st)
}

// finishDigestLocked writes the digest st.PendingDigest holds (again, after
// a crash) with its signature file and commits it.
func (t *Trail) finishDigestLocked(ctx context.Context, st *state) error {
	p := st.PendingDigest
	if err := writeFileAtomic(t.cfg.Dir, p.Key+SignatureSuffix, []byte(p.Signature+"\n")); err != nil {
		return err
	}
	if err := writeFileAtomic(t.cfg.Dir, p.Key, gzipBytes(p.Body)); err != nil {
		return err
	}
	st.LastDigest = &digestRef{Key: p.Key, End: p.End, Hash: sha256Hex(p.Body), Signature: p.Signature}
	st.Pending = nil
	st.PendingDigest = nil
	if err := t.saveState(ctx, st); err != nil {
		return err
	}
	t.log.Debug("trail digest delivered", "key", p.Key)
	return nil
}

// randomSuffix is CloudTrail's 16-character unique part of a log file name.
func randomSuffix(r io.Reader) (string, error) {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 16)
	for i := range b {
		n, err := rand.Int(r, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", fmt.Errorf("trail: random: %w", err)
		}
		b[i] = alphabet[n.Int64()]
	}
	return string(b), nil
}
