// Package configsvc is shelf's AWS Config: a configuration recorder for
// the EFS resources (AWS::EFS::FileSystem, AWS::EFS::AccessPoint,
// AWS::EFS::MountTarget) that stores a configuration item in AWS Config's
// shape on every change, with its history; the EFS managed rules and
// custom rules written in CEL (cel.dev/cel-go), evaluated on every change
// and periodically; and compliance-change alerts posted to webhooks,
// signed, retried with backoff and recorded in the audit trail.
//
// Changes come from control.SubscribeResources; since a subscription
// replays nothing, the recorder also reconciles every resource against
// its latest item when it starts and every evaluation interval, so a
// change made while shelfd was down (or an event lost to an overfull
// queue) is recorded late but never missed. One worker goroutine records
// and evaluates, so items and results of one resource never race.
//
// Everything lives in internal/meta under meta.SystemKey("config/…")
// (store.go has the layout). An evaluation result and the alerts it
// raises are written in one transaction, so a pending alert survives a
// restart and is delivered afterwards.
//
// configsvc imports control (the resources), meta, audit and clock. Its
// wire front end is configsvc/configapi. It must not import edge, api or
// any engine.
package configsvc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/control"
	"github.com/shelf-efs/shelf/internal/meta"
)

// DefaultEvaluationInterval is how often every rule is evaluated over
// every resource (and the recorder reconciles) when the configuration does
// not say.
const DefaultEvaluationInterval = time.Hour

// maxQueuedChanges bounds the change queue; past it the queue collapses
// into one full reconciliation.
const maxQueuedChanges = 10000

// RecorderName is the name of the one configuration recorder.
const RecorderName = "default"

// Config configures the recorder, the rules and the alerts.
type Config struct {
	Account string
	Region  string
	// PublicSubnets are the subnets whose mount targets
	// efs-mount-target-public-accessible reports (the network config's
	// public flag).
	PublicSubnets []string
	// EvaluationInterval is the period of the full evaluation (0:
	// DefaultEvaluationInterval).
	EvaluationInterval time.Duration
	// Webhooks receive compliance-change notifications.
	Webhooks []Webhook
}

// Options are the injected dependencies that are not stores.
type Options struct {
	Clock  clock.Clock
	Logger *slog.Logger
	// Audit receives a record of every webhook delivery attempt (nil: not
	// recorded).
	Audit *audit.Log
	// Transport sends webhook requests (nil: http.DefaultTransport's
	// clone).
	Transport http.RoundTripper
	Random    io.Reader
}

// Service is the recorder, the rule engine and the alerter. Its methods
// are safe for concurrent use.
type Service struct {
	meta          meta.Store
	res           Resources
	account       string
	region        string
	interval      time.Duration
	publicSubnets map[string]bool
	clock         clock.Clock
	log           *slog.Logger
	audit         *audit.Log
	rand          io.Reader
	hooks         []*hook
	client        *http.Client

	unsubscribe func()
	wake        chan struct{}
	started     time.Time

	q struct {
		sync.Mutex
		changes map[resourceKey]bool
		order   []resourceKey
		rules   map[string]bool // rule names to evaluate over every resource
		all     bool            // reconcile and evaluate everything
		flush   []chan struct{}
		stopped bool
	}
	progs struct {
		sync.Mutex
		m map[string]*celProgram // by rule ID and policy text
	}
	status struct {
		sync.Mutex
		lastSuccess time.Time
		lastError   string
	}
}

// New returns the service over store and res and subscribes to resource
// changes; Run does the work. It validates the webhooks.
func New(store meta.Store, res Resources, cfg Config, opts Options) (*Service, error) {
	if opts.Clock == nil {
		opts.Clock = clock.System
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Random == nil {
		opts.Random = rand.Reader
	}
	if cfg.EvaluationInterval <= 0 {
		cfg.EvaluationInterval = DefaultEvaluationInterval
	}
	if opts.Transport == nil {
		opts.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	s := &Service{meta: store, res: res, account: cfg.Account, region: cfg.Region, interval: cfg.EvaluationInterval,
		publicSubnets: map[string]bool{}, clock: opts.Clock, log: opts.Logger, audit: opts.Audit, rand: opts.Random,
		wake: make(chan struct{}, 1),
		client: &http.Client{Transport: opts.Transport,
			// A redirect is an answer, not a delivery.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if s.account == "" {
		s.account = res.Account()
	}
	if s.region == "" {
		s.region = res.Region()
	}
	for _, sn := range cfg.PublicSubnets {
		s.publicSubnets[sn] = true
	}
	for _, w := range cfg.Webhooks {
		h, err := newHook(w)
		if err != nil {
			return nil, err
		}
		s.hooks = append(s.hooks, h)
	}
	s.q.changes = map[resourceKey]bool{}
	s.q.rules = map[string]bool{}
	s.q.all = true // reconcile at start
	s.progs.m = map[string]*celProgram{}
	s.unsubscribe = res.SubscribeResources(func(c control.ResourceChange) {
		s.enqueue(resourceKey{c.ResourceType, c.ResourceID})
	})
	return s, nil
}

// Name is the component name.
func (s *Service) Name() string { return "config" }

// Close unsubscribes from changes.
func (s *Service) Close() error {
	s.unsubscribe()
	return nil
}

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) enqueue(k resourceKey) {
	s.q.Lock()
	if !s.q.changes[k] {
		if len(s.q.order) >= maxQueuedChanges {
			s.q.all = true
		} else {
			s.q.changes[k] = true
			s.q.order = append(s.q.order, k)
		}
	}
	s.q.Unlock()
	s.poke()
}

// requestRules queues an evaluation of the named rules over every
// resource in their scope.
func (s *Service) requestRules(names ...string) {
	s.q.Lock()
	for _, n := range names {
		s.q.rules[n] = true
	}
	s.q.Unlock()
	s.poke()
}

// Flush waits until everything queued before the call (changes, rule
// evaluations, the start-up reconciliation) has been recorded and
// evaluated. It is for tests and for callers that need read-your-writes.
func (s *Service) Flush(ctx context.Context) error {
	done := make(chan struct{})
	s.q.Lock()
	if s.q.stopped {
		s.q.Unlock()
		return errStopped
	}
	s.q.flush = append(s.q.flush, done)
	s.q.Unlock()
	s.poke()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run records and evaluates until ctx is cancelled, and delivers alerts.
func (s *Service) Run(ctx context.Context) error {
	s.status.Lock()
	s.started = s.clock.Now().UTC()
	s.status.Unlock()
	var wg sync.WaitGroup
	for _, h := range s.hooks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.deliverLoop(ctx, h)
		}()
	}
	ticker := time.NewTicker(s.interval)
	defer ticker.Stop()
	for {
		s.work(ctx)
		select {
		case <-ctx.Done():
			s.q.Lock()
			s.q.stopped = true
			flush := s.q.flush
			s.q.flush = nil
			s.q.Unlock()
			for _, c := range flush {
				close(c)
			}
			wg.Wait()
			return nil
		case <-s.wake:
		case <-ticker.C:
			s.q.Lock()
			s.q.all = true
			s.q.Unlock()
		}
	}
}

// work does everything queued.
func (s *Service) work(ctx context.Context) {
	for ctx.Err() == nil {
		s.q.Lock()
		all, order, rules, flush := s.q.all, s.q.order, s.q.rules, s.q.flush
		s.q.all, s.q.order, s.q.flush = false, nil, nil
		s.q.changes, s.q.rules = map[resourceKey]bool{}, map[string]bool{}
		s.q.Unlock()
		if !all && len(order) == 0 && len(rules) == 0 {
			for _, c := range flush {
				close(c)
			}
			return
		}
		var err error
		if all {
			err = s.reconcileAll(ctx)
		} else {
			err = s.recordChanges(ctx, order)
			if err == nil && len(rules) > 0 {
				names := make([]string, 0, len(rules))
				for n := range rules {
					names = append(names, n)
				}
				sort.Strings(names)
				err = s.evaluateRules(ctx, names)
			}
		}
		s.status.Lock()
		if err != nil && ctx.Err() == nil {
			s.status.lastError = err.Error()
			s.log.Warn("configuration recording failed; retrying with a full reconciliation", "err", err)
			s.q.Lock()
			s.q.all = true
			s.q.Unlock()
		} else if err == nil {
			s.status.lastSuccess, s.status.lastError = s.clock.Now().UTC(), ""
		}
		s.status.Unlock()
		if err != nil {
			// Retry later (the next tick or change), not in a tight loop;
			// flush waiters learn nothing new by waiting longer.
			for _, c := range flush {
				close(c)
			}
			return
		}
		for _, c := range flush {
			close(c)
		}
	}
}

// recordChanges records the changed resources and evaluates them and the
// file systems they belong to.
func (s *Service) recordChanges(ctx context.Context, keys []resourceKey) error {
	toEval := map[resourceKey]bool{}
	for _, k := range keys {
		if !knownType(k.Type) {
			continue
		}
		it, changed, err := s.record(ctx, k)
		if err != nil {
			return err
		}
		if !changed {
			continue
		}
		toEval[k] = true
		if it != nil {
			for _, r := range it.Relationships {
				if r.ResourceType == control.ResourceTypeFileSystem {
					toEval[resourceKey{r.ResourceType, r.ResourceID}] = true
				}
			}
		}
	}
	rules, err := s.allRules(ctx)
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(toEval) {
		if err := s.evaluateResource(ctx, k, rules); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys(m map[resourceKey]bool) []resourceKey {
	out := make([]resourceKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// reconcileAll records every resource whose configuration differs from its
// latest item (and the deletion of every recorded resource that is gone),
// then evaluates every rule over every resource.
func (s *Service) reconcileAll(ctx context.Context) error {
	keys, err := s.listResources(ctx)
	if err != nil {
		return err
	}
	exists := map[resourceKey]bool{}
	for _, k := range keys {
		exists[k] = true
	}
	// Recorded resources that no longer exist.
	for _, typ := range ResourceTypes {
		var recorded []resourceKey
		err := s.meta.View(ctx, func(r meta.Reader) error {
			recorded = recorded[:0]
			return scanJSON(r, curPrefix(typ), nil, func(_ []byte, si *storedItem) (bool, error) {
				if si.Item.Status != StatusDeleted {
					recorded = append(recorded, resourceKey{si.Item.ResourceType, si.Item.ResourceID})
				}
				return true, nil
			})
		})
		if err != nil {
			return err
		}
		for _, k := range recorded {
			if !exists[k] {
				keys = append(keys, k)
			}
		}
	}
	for _, k := range keys {
		if _, _, err := s.record(ctx, k); err != nil {
			return err
		}
	}
	rules, err := s.allRules(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.evaluateResource(ctx, k, rules); err != nil {
			return err
		}
	}
	return nil
}

// record captures the current configuration of k and stores it as a new
// item when it differs from the latest one. It returns the current item
// (nil when the resource is gone) and whether a new item was stored.
func (s *Service) record(ctx context.Context, k resourceKey) (*Item, bool, error) {
	it, err := s.snapshot(ctx, k)
	if err != nil {
		return nil, false, fmt.Errorf("configsvc: read %s %s: %w", k.Type, k.ID, err)
	}
	var hash string
	if it != nil {
		hash = it.contentHash()
	}
	changed := false
	err = s.meta.Update(ctx, func(t meta.Txn) error {
		changed = false
		var cur *storedItem
		var have storedItem
		if err := getJSON(t, curKey(k), &have); err == nil {
			cur = &have
		} else if !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		now := s.clock.Now().UTC()
		var next storedItem
		switch {
		case it == nil && (cur == nil || cur.Item.Status == StatusDeleted):
			return nil
		case it == nil:
			del := cur.Item
			del.Status = StatusDeleted
			del.Configuration = nil
			del.SupplementaryConfiguration = map[string]json.RawMessage{}
			del.Tags, del.Relationships, del.RelatedEvents = map[string]string{}, []Relationship{}, []string{}
			next = storedItem{Item: del}
		case cur != nil && cur.Hash == hash && cur.Item.Status != StatusDeleted:
			return nil
		default:
			next = storedItem{Item: *it, Hash: hash}
			next.Item.Status = StatusOK
			if cur == nil || cur.Item.Status == StatusDeleted {
				next.Item.Status = StatusDiscovered
			}
		}
		next.V = recordVersion
		next.Seq = 1
		prevState := ""
		if cur != nil {
			next.Seq = cur.Seq + 1
			prevState = cur.Item.StateID
		}
		next.Item.CaptureTime = now
		next.Item.StateID = nextStateID(prevState, now)
		if err := putJSON(t, histKey(k, next.Seq), &next); err != nil {
			return err
		}
		changed = true
		return putJSON(t, curKey(k), &next)
	})
	if err != nil {
		return nil, false, fmt.Errorf("configsvc: record %s %s: %w", k.Type, k.ID, err)
	}
	return it, changed, nil
}

// newID returns n random bytes in hex.
func (s *Service) newID(n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		panic("configsvc: random source failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}
