package configsvc

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/meta"
)

// Webhook signing (documented in README.md, "Config rules and compliance
// alerts"): every POST carries
//
//	X-Shelf-Timestamp:  <unix seconds when the attempt was made>
//	X-Shelf-Signature:  v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//	X-Shelf-Notification-Id: <id, the same for every attempt of one notification>
//
// A receiver recomputes the HMAC over the raw body, compares in constant
// time, and rejects timestamps too far from its clock (replays).
const (
	HeaderTimestamp      = "X-Shelf-Timestamp"
	HeaderSignature      = "X-Shelf-Signature"
	HeaderNotificationID = "X-Shelf-Notification-Id"
	HeaderAttempt        = "X-Shelf-Delivery-Attempt"
	signatureVersion     = "v1"
)

// Webhook delivery defaults.
const (
	DefaultWebhookTimeout     = 10 * time.Second
	DefaultWebhookMaxAttempts = 8
	DefaultWebhookBackoff     = 2 * time.Second
	DefaultWebhookMaxBackoff  = 5 * time.Minute
	DefaultWebhookMaxAge      = time.Hour
	// maxResponseBytes of a webhook's answer are read (and discarded) so
	// that the connection can be reused.
	maxResponseBytes = 64 << 10
	// alertBatch is how many pending alerts one pass reads.
	alertBatch = 32
)

// Webhook is an endpoint that receives compliance-change notifications.
type Webhook struct {
	// URL is an http or https URL.
	URL string
	// Secret keys the HMAC-SHA256 signature.
	Secret []byte
	// Timeout bounds one attempt (0: DefaultWebhookTimeout).
	Timeout time.Duration
	// MaxAttempts bounds the attempts of one notification (0: default).
	MaxAttempts int
	// Backoff is the wait after the first failure; it doubles after each
	// further failure up to MaxBackoff (0: defaults).
	Backoff, MaxBackoff time.Duration
	// MaxAge: a notification not delivered this long after it was raised
	// is abandoned (0: DefaultWebhookMaxAge).
	MaxAge time.Duration
}

// hook is a configured webhook.
type hook struct {
	Webhook
	id   string // stable across restarts: a hash of the URL
	show string // the URL without query, user info or fragment, for records
	wake chan struct{}
}

func newHook(w Webhook) (*hook, error) {
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("configsvc: webhook URL must be an http or https URL")
	}
	if len(w.Secret) == 0 {
		return nil, fmt.Errorf("configsvc: webhook %s has no secret", u.Host)
	}
	if w.Timeout <= 0 {
		w.Timeout = DefaultWebhookTimeout
	}
	if w.MaxAttempts <= 0 {
		w.MaxAttempts = DefaultWebhookMaxAttempts
	}
	if w.Backoff <= 0 {
		w.Backoff = DefaultWebhookBackoff
	}
	if w.MaxBackoff <= 0 {
		w.MaxBackoff = DefaultWebhookMaxBackoff
	}
	if w.MaxAge <= 0 {
		w.MaxAge = DefaultWebhookMaxAge
	}
	sum := sha256.Sum256([]byte(w.URL))
	return &hook{Webhook: w, id: hex.EncodeToString(sum[:8]),
		show: (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String(), wake: make(chan struct{}, 1)}, nil
}

func (h *hook) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Sign returns the X-Shelf-Signature value of body sent at timestamp ts
// (unix seconds) with secret.
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return signatureVersion + "=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks a signature header in constant time.
func VerifySignature(secret []byte, ts int64, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, ts, body)), []byte(header))
}

// alertRecord is a notification waiting for delivery to one webhook.
type alertRecord struct {
	V            int             `json:"v"`
	Seq          uint64          `json:"seq"`
	Body         json.RawMessage `json:"body"`
	RuleName     string          `json:"rule"`
	RuleARN      string          `json:"rule_arn"`
	ResourceType string          `json:"type"`
	ResourceID   string          `json:"id"`
	ResourceARN  string          `json:"arn"`
	Compliance   string          `json:"compliance"`
	Created      time.Time       `json:"created"`
	Attempts     int             `json:"attempts"`
	Next         time.Time       `json:"next"`
}

// The ComplianceChangeNotification message of AWS Config (the message it
// publishes to its SNS topic), with RFC 3339 times.
type notification struct {
	AWSAccountID             string        `json:"awsAccountId"`
	ConfigRuleName           string        `json:"configRuleName"`
	ConfigRuleARN            string        `json:"configRuleARN"`
	ResourceType             string        `json:"resourceType"`
	ResourceID               string        `json:"resourceId"`
	AWSRegion                string        `json:"awsRegion"`
	NewEvaluationResult      *notifyResult `json:"newEvaluationResult"`
	OldEvaluationResult      *notifyResult `json:"oldEvaluationResult"`
	NotificationCreationTime string        `json:"notificationCreationTime"`
	MessageType              string        `json:"messageType"`
	RecordVersion            string        `json:"recordVersion"`
}

type notifyResult struct {
	EvaluationResultIdentifier struct {
		EvaluationResultQualifier struct {
			ConfigRuleName string `json:"configRuleName"`
			ResourceType   string `json:"resourceType"`
			ResourceID     string `json:"resourceId"`
		} `json:"evaluationResultQualifier"`
		OrderingTimestamp string `json:"orderingTimestamp"`
	} `json:"evaluationResultIdentifier"`
	ComplianceType        string  `json:"complianceType"`
	ResultRecordedTime    string  `json:"resultRecordedTime"`
	ConfigRuleInvokedTime string  `json:"configRuleInvokedTime"`
	Annotation            *string `json:"annotation"`
	ResultToken           *string `json:"resultToken"`
}

const notifyTime = "2006-01-02T15:04:05.000Z"

func toNotifyResult(e *evalRecord) *notifyResult {
	if e == nil {
		return nil
	}
	var r notifyResult
	q := &r.EvaluationResultIdentifier.EvaluationResultQualifier
	q.ConfigRuleName, q.ResourceType, q.ResourceID = e.RuleName, e.ResourceType, e.ResourceID
	r.EvaluationResultIdentifier.OrderingTimestamp = e.Ordering.UTC().Format(notifyTime)
	r.ComplianceType = e.Compliance
	r.ResultRecordedTime = e.Recorded.UTC().Format(notifyTime)
	r.ConfigRuleInvokedTime = e.Invoked.UTC().Format(notifyTime)
	if e.Annotation != "" {
		a := e.Annotation
		r.Annotation = &a
	}
	return &r
}

// queueAlerts stores, inside t, one pending notification per webhook.
func (s *Service) queueAlerts(t meta.Txn, rule *Rule, it *Item, old, cur *evalRecord) error {
	if len(s.hooks) == 0 {
		return nil
	}
	now := s.clock.Now().UTC()
	body, err := json.Marshal(notification{AWSAccountID: s.account, ConfigRuleName: rule.Name, ConfigRuleARN: rule.ARN,
		ResourceType: it.ResourceType, ResourceID: it.ResourceID, AWSRegion: s.region,
		NewEvaluationResult: toNotifyResult(cur), OldEvaluationResult: toNotifyResult(old),
		NotificationCreationTime: now.Format(notifyTime), MessageType: "ComplianceChangeNotification", RecordVersion: "1.0"})
	if err != nil {
		return err
	}
	seq, err := nextSeq(t, alertNextKey())
	if err != nil {
		return err
	}
	for _, h := range s.hooks {
		rec := alertRecord{V: recordVersion, Seq: seq, Body: body, RuleName: rule.Name, RuleARN: rule.ARN,
			ResourceType: it.ResourceType, ResourceID: it.ResourceID, ResourceARN: it.ARN, Compliance: cur.Compliance,
			Created: now, Next: now}
		if err := putJSON(t, alertKey(h.id, seq), &rec); err != nil {
			return err
		}
	}
	return nil
}

// PendingAlerts counts the notifications not yet delivered (or
// abandoned), over every webhook.
func (s *Service) PendingAlerts(ctx context.Context) (int, error) {
	n := 0
	err := s.meta.View(ctx, func(r meta.Reader) error {
		n = 0
		p := ckey("alert/")
		return r.Scan(p, meta.PrefixEnd(p), func(_, _ []byte) (bool, error) {
			n++
			return true, nil
		})
	})
	return n, err
}

// deliverLoop delivers h's pending notifications until ctx ends. One
// attempt at a time per webhook: a slow endpoint delays only itself, and
// each attempt is bounded by the webhook's timeout.
func (s *Service) deliverLoop(ctx context.Context, h *hook) {
	for ctx.Err() == nil {
		wait, err := s.deliverDue(ctx, h)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("webhook delivery pass failed", "webhook", h.show, "err", err)
			wait = h.Backoff
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-h.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// idleWait is how long a webhook loop sleeps with nothing pending (a new
// alert wakes it at once).
const idleWait = time.Hour

// deliverDue attempts every due notification of h and returns how long to
// wait for the next one.
func (s *Service) deliverDue(ctx context.Context, h *hook) (time.Duration, error) {
	for {
		var batch []alertRecord
		err := s.meta.View(ctx, func(r meta.Reader) error {
			batch = batch[:0]
			return scanJSON(r, alertPrefix(h.id), nil, func(_ []byte, a *alertRecord) (bool, error) {
				batch = append(batch, *a)
				return len(batch) < alertBatch, nil
			})
		})
		if err != nil {
			return 0, err
		}
		now := s.clock.Now()
		wait := idleWait
		attempted := false
		for i := range batch {
			a := &batch[i]
			if d := a.Next.Sub(now); d > 0 {
				wait = min(wait, d)
				continue
			}
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			attempted = true
			if err := s.attempt(ctx, h, a); err != nil {
				return 0, err
			}
			now = s.clock.Now()
		}
		if !attempted || len(batch) < alertBatch {
			if attempted {
				continue // re-read: retries may be due sooner than idleWait
			}
			return wait, nil
		}
	}
}

// attempt makes one delivery attempt of a, records its outcome in the
// audit trail, and reschedules, removes or abandons a.
func (s *Service) attempt(ctx context.Context, h *hook, a *alertRecord) error {
	a.Attempts++
	status, failure := s.post(ctx, h, a)
	now := s.clock.Now().UTC()
	outcome := "Delivered"
	keep := false
	if failure != "" {
		outcome = "Failed"
		backoff := h.Backoff << min(a.Attempts-1, 30)
		if backoff > h.MaxBackoff || backoff <= 0 {
			backoff = h.MaxBackoff
		}
		a.Next = now.Add(backoff)
		if a.Attempts >= h.MaxAttempts || a.Next.After(a.Created.Add(h.MaxAge)) {
			outcome = "Abandoned"
		} else {
			keep = true
		}
	}
	s.recordAttempt(ctx, h, a, outcome, status, failure)
	return s.meta.Update(ctx, func(t meta.Txn) error {
		if keep {
			return putJSON(t, alertKey(h.id, a.Seq), a)
		}
		return t.Delete(alertKey(h.id, a.Seq))
	})
}

// post sends a to h once. It returns the HTTP status (0 without an answer)
// and, for a failure, a short reason that names no secret and no URL.
func (s *Service) post(ctx context.Context, h *hook, a *alertRecord) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(a.Body))
	if err != nil {
		return 0, "InvalidRequest"
	}
	ts := s.clock.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "shelf-config-alerts/1")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(h.Secret, ts, a.Body))
	req.Header.Set(HeaderNotificationID, strconv.FormatUint(a.Seq, 10))
	req.Header.Set(HeaderAttempt, strconv.Itoa(a.Attempts))
	resp, err := s.client.Do(req)
	if err != nil {
		var ne net.Error
		switch {
		case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
			return 0, "Timeout"
		case ctx.Err() != nil:
			return 0, "Cancelled"
		}
		return 0, "ConnectionError"
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, "HTTP" + strconv.Itoa(resp.StatusCode)
	}
	return resp.StatusCode, ""
}

// recordAttempt appends the CloudTrail-format record of one attempt.
func (s *Service) recordAttempt(ctx context.Context, h *hook, a *alertRecord, outcome string, status int, failure string) {
	if s.audit == nil {
		return
	}
	details := map[string]any{
		"notificationId": strconv.FormatUint(a.Seq, 10), "webhook": h.show, "attempt": a.Attempts,
		"outcome": outcome, "configRuleName": a.RuleName, "resourceType": a.ResourceType,
		"resourceId": a.ResourceID, "complianceType": a.Compliance,
	}
	if status != 0 {
		details["httpStatusCode"] = status
	}
	if outcome == "Failed" {
		details["nextAttemptTime"] = a.Next.UTC().Format(audit.TimeLayout)
	}
	b, _ := json.Marshal(details)
	e := &audit.Event{
		EventVersion:        audit.EventVersion,
		UserIdentity:        audit.UserIdentity{Type: "AWSService", InvokedBy: "config.amazonaws.com"},
		EventTime:           audit.FormatTime(s.clock.Now()),
		EventSource:         audit.EventSource("config"),
		EventName:           "ComplianceChangeNotificationDelivery",
		AWSRegion:           s.region,
		SourceIPAddress:     "config.amazonaws.com",
		UserAgent:           "config.amazonaws.com",
		ErrorCode:           failure,
		EventID:             uuid(s.newID(16)),
		ReadOnly:            false,
		EventType:           audit.EventTypeServiceEvent,
		ManagementEvent:     true,
		RecipientAccountID:  s.account,
		ServiceEventDetails: b,
		EventCategory:       audit.CategoryManagement,
		Resources: []audit.Resource{{ARN: a.RuleARN, AccountID: s.account, Type: "AWS::Config::ConfigRule"},
			{ARN: a.ResourceARN, AccountID: s.account, Type: a.ResourceType}},
	}
	if failure != "" {
		e.ErrorMessage = "The webhook delivery failed: " + failure + "."
	}
	if err := s.audit.Append(ctx, e); err != nil && ctx.Err() == nil {
		s.log.Error("audit record of a webhook delivery failed", "webhook", h.show, "err", err)
	}
}

// uuid formats 32 hex digits as a version-4 UUID.
func uuid(h string) string {
	b := []byte(h)
	b[12] = '4'
	b[16] = "89ab"[b[16]%4]
	return string(b[0:8]) + "-" + string(b[8:12]) + "-" + string(b[12:16]) + "-" + string(b[16:20]) + "-" + string(b[20:32])
}
