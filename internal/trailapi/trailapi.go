// Package trailapi serves the subset of the AWS CloudTrail API that reads
// shelf's trail (json protocol, X-Amz-Target
// com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.<Op>, SigV4 service
// cloudtrail): LookupEvents over the audit log (internal/audit),
// ListPublicKeys for the digest keys, DescribeTrails and GetTrailStatus for
// the trail (internal/trail). Every call is authorized as cloudtrail:<Op>
// through the edge's Authorizer.
//
// It also serves the one shelf-specific call that audit reports need,
// SignAuditManifest (signing service "shelf", X-Amz-Target
// ShelfAudit.SignAuditManifest), which signs a report manifest with the
// trail's report key; see ReportSigner.
//
// trailapi imports edge, audit and trail; it must not import meta, control
// or any engine.
package trailapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/edge/jsonapi"
	"github.com/shelf-efs/shelf/internal/trail"
)

// TargetPrefix precedes the operation name in X-Amz-Target; the SDKs send
// the short form, ShortTargetPrefix.
const (
	TargetPrefix      = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
	ShortTargetPrefix = "CloudTrail_20131101."
)

// Limits of LookupEvents.
const (
	maxResults = 50
	// maxScanned bounds the records one LookupEvents call reads; past it
	// the call returns what it found with a NextToken.
	maxScanned = 20000
	// timeSlack is how far eventTime may run behind the log order (the
	// edge stamps a call when it arrives and appends it when it ends).
	timeSlack   = 5 * time.Minute
	maxValueLen = 2000
	maxTokenLen = 64
)

// Trail is the part of *trail.Trail the API uses.
type Trail interface {
	ARN() string
	TrailName() string
	Bucket() string
	Region() string
	PublicKeys() []trail.PublicKey
	Status(ctx context.Context) (trail.Status, error)
	SignManifest(manifest []byte) trail.ManifestSignature
}

var _ Trail = (*trail.Trail)(nil)

// Records is the part of *audit.Log the API uses.
type Records interface {
	NextSeq(ctx context.Context) (uint64, error)
	Scan(ctx context.Context, fromSeq uint64, fn func(seq uint64, e *audit.Event) error) error
}

// Service is the CloudTrail API. It is safe for concurrent use.
type Service struct {
	tr    Trail
	recs  Records
	authz edge.Authorizer
	log   *slog.Logger
	// now is the clock (time.Now outside tests).
	now func() time.Time
}

var (
	_ edge.Service          = (*Service)(nil)
	_ edge.ProtocolService  = (*Service)(nil)
	_ edge.VersionedService = (*Service)(nil)
)

// New returns the CloudTrail API over tr and recs.
func New(tr Trail, recs Records, authz edge.Authorizer, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{tr: tr, recs: recs, authz: authz, log: log, now: time.Now}
}

// SigningName is "cloudtrail".
func (s *Service) SigningName() string { return "cloudtrail" }

// Protocol is json.
func (s *Service) Protocol() edge.Protocol { return edge.JSON }

// APIVersion is 2013-11-01.
func (s *Service) APIVersion() string { return "2013-11-01" }

type apiError = edge.APIError

var errf = jsonapi.Errf

// internalFailure is CloudTrail's answer to a failure of the server.
func internalFailure() *apiError {
	return &apiError{Code: "InternalFailure", Status: http.StatusInternalServerError, Message: "The request processing has failed because of an unknown error, exception or failure."}
}

type handler func(s *Service, ctx context.Context, c *edge.Call, body []byte, out *edge.Outcome) (any, *apiError)

var handlers = &jsonapi.Table[handler]{Prefixes: []string{TargetPrefix, ShortTargetPrefix}, Ops: map[string]jsonapi.Op[handler]{
	"LookupEvents":   {Fn: (*Service).lookupEvents, ReadOnly: true},
	"ListPublicKeys": {Fn: (*Service).listPublicKeys, ReadOnly: true},
	"DescribeTrails": {Fn: (*Service).describeTrails, ReadOnly: true},
	"GetTrailStatus": {Fn: (*Service).getTrailStatus, ReadOnly: true},
}}

// ServeCall serves one CloudTrail request.
func (s *Service) ServeCall(w http.ResponseWriter, r *http.Request, body []byte, c *edge.Call) edge.Outcome {
	op, h, ok := handlers.Lookup(r)
	out := edge.Outcome{EventName: op, ReadOnly: true}
	switch {
	case !ok:
		out.EventName = ""
		return jsonapi.Fail(w, c.RequestID, &out, errf("UnknownOperationException", "Unknown operation %q.", truncate(r.Header.Get("X-Amz-Target"), 128)))
	case r.Method != http.MethodPost:
		return jsonapi.Fail(w, c.RequestID, &out, errf("SerializationException", "CloudTrail requests are POSTs."))
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	res, e := h.Fn(s, r.Context(), c, body, &out)
	return jsonapi.Reply(w, c.RequestID, &out, res, e, func(error) *apiError { return internalFailure() })
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// authorize maps an Authorizer decision to the CloudTrail error.
func (s *Service) authorize(ctx context.Context, c *edge.Call, action, resource string) *apiError {
	err := s.authz.Authorize(ctx, c, "cloudtrail:"+action, resource, nil)
	var denied *edge.AccessDeniedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &denied):
		return &apiError{Code: "AccessDeniedException", Status: http.StatusBadRequest, Message: denied.Error()}
	case errors.Is(err, edge.ErrAccessDenied):
		return &apiError{Code: "AccessDeniedException", Status: http.StatusBadRequest, Message: "Access denied."}
	}
	s.log.Error("authorization failed", "action", action, "err", err)
	return internalFailure()
}

func internal(s *Service, what string, err error) *apiError {
	s.log.Error("cloudtrail api failed", "op", what, "err", err)
	return internalFailure()
}

// decode reads a JSON request body into v, answering SerializationException
// for anything that is not a JSON object of the right types.
func decode(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		return errf("SerializationException", "The request body could not be parsed: %s", serializationDetail(err))
	}
	return nil
}

func serializationDetail(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "field " + truncate(te.Field, 64) + " has the wrong type"
	}
	return "not a JSON object"
}

// epoch renders a time as the json protocol's epoch seconds.
func epoch(t time.Time) *float64 {
	if t.IsZero() {
		return nil
	}
	v := float64(t.UnixNano()) / 1e9
	return &v
}

// parseEpoch turns epoch seconds into a time, refusing values no timestamp
// can have.
func parseEpoch(v float64) (time.Time, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 253402300799 { // 9999-12-31T23:59:59Z
		return time.Time{}, false
	}
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// --- LookupEvents ---

// LookupAttribute keys CloudTrail accepts.
var attributeKeys = map[string]bool{
	"EventId": true, "EventName": true, "ReadOnly": true, "Username": true, "ResourceType": true,
	"ResourceName": true, "EventSource": true, "AccessKeyId": true,
}

type lookupAttribute struct {
	AttributeKey   *string `json:"AttributeKey"`
	AttributeValue *string `json:"AttributeValue"`
}

type lookupInput struct {
	LookupAttributes []lookupAttribute `json:"LookupAttributes"`
	StartTime        *float64          `json:"StartTime"`
	EndTime          *float64          `json:"EndTime"`
	EventCategory    *string           `json:"EventCategory"`
	MaxResults       *int64            `json:"MaxResults"`
	NextToken        *string           `json:"NextToken"`
}

// lookup is a validated LookupEvents request.
type lookup struct {
	key, value string // key "" : no filter
	start, end time.Time
	max        int
	fromSeq    uint64 // 0: from the newest
	insight    bool
	// rawStart and rawEnd are the times as given (the defaults move with
	// the clock, so a token binds to what the caller sent).
	rawStart, rawEnd *float64
}

// paramHash binds a token to the parameters of its request.
func (q *lookup) paramHash() [8]byte {
	h := sha256.New()
	raw := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprint(*v)
	}
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%t", q.key, q.value, raw(q.rawStart), raw(q.rawEnd), q.insight)
	var out [8]byte
	copy(out[:], h.Sum(nil))
	return out
}

const tokenVersion = 1

// encodeToken makes the NextToken of the page starting at seq.
func encodeToken(seq uint64, ph [8]byte) string {
	b := make([]byte, 0, 17)
	b = append(b, tokenVersion)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = append(b, ph[:]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeToken returns the sequence number a token starts at, or false for a
// token that this server did not make for these parameters.
func decodeToken(tok string, ph [8]byte) (uint64, bool) {
	if len(tok) == 0 || len(tok) > maxTokenLen {
		return 0, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || len(b) != 17 || b[0] != tokenVersion {
		return 0, false
	}
	seq := binary.BigEndian.Uint64(b[1:9])
	if seq == 0 || [8]byte(b[9:17]) != ph {
		return 0, false
	}
	return seq, true
}

// parseLookup validates a LookupEvents body; now is the current time (the
// default end of the range).
func parseLookup(body []byte, now time.Time) (*lookup, *apiError) {
	var in lookupInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	q := &lookup{max: maxResults, end: now.UTC(), start: now.UTC().AddDate(0, 0, -90), rawStart: in.StartTime, rawEnd: in.EndTime}
	switch n := len(in.LookupAttributes); {
	case n > 1:
		return nil, errf("InvalidLookupAttributesException", "You cannot specify more than one lookup attribute.")
	case n == 1:
		a := in.LookupAttributes[0]
		if a.AttributeKey == nil || !attributeKeys[*a.AttributeKey] {
			return nil, errf("InvalidLookupAttributesException", "AttributeKey must be one of EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource, AccessKeyId.")
		}
		if a.AttributeValue == nil || len(*a.AttributeValue) == 0 || len(*a.AttributeValue) > maxValueLen {
			return nil, errf("InvalidLookupAttributesException", "AttributeValue must be 1 to %d characters.", maxValueLen)
		}
		q.key, q.value = *a.AttributeKey, *a.AttributeValue
		if q.key == "ReadOnly" && q.value != "true" && q.value != "false" {
			return nil, errf("InvalidLookupAttributesException", "The ReadOnly attribute value must be true or false.")
		}
	}
	if in.StartTime != nil {
		t, ok := parseEpoch(*in.StartTime)
		if !ok {
			return nil, errf("InvalidTimeRangeException", "StartTime is outside the range of possible values.")
		}
		q.start = t
	}
	if in.EndTime != nil {
		t, ok := parseEpoch(*in.EndTime)
		if !ok {
			return nil, errf("InvalidTimeRangeException", "EndTime is outside the range of possible values.")
		}
		q.end = t
	}
	if q.start.After(q.end) {
		return nil, errf("InvalidTimeRangeException", "The start time occurs after the end time.")
	}
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxResults {
			return nil, errf("InvalidMaxResultsException", "MaxResults must be between 1 and %d.", maxResults)
		}
		q.max = int(*in.MaxResults)
	}
	if in.EventCategory != nil {
		if *in.EventCategory != "insight" {
			return nil, errf("InvalidEventCategoryException", "EventCategory must be insight.")
		}
		q.insight = true
	}
	if in.NextToken != nil {
		seq, ok := decodeToken(*in.NextToken, q.paramHash())
		if !ok {
			return nil, errf("InvalidNextTokenException", "The token is not valid, or was used in a request with different parameters.")
		}
		q.fromSeq = seq
	}
	return q, nil
}

// matches applies the lookup attribute to a record.
func (q *lookup) matches(e *audit.Event) bool {
	switch q.key {
	case "":
		return true
	case "EventId":
		return e.EventID == q.value
	case "EventName":
		return e.EventName == q.value
	case "ReadOnly":
		return (q.value == "true") == e.ReadOnly
	case "Username":
		return username(e) == q.value
	case "AccessKeyId":
		return e.UserIdentity.AccessKeyID == q.value
	case "EventSource":
		return e.EventSource == q.value
	case "ResourceType":
		for _, r := range e.Resources {
			if r.Type == q.value {
				return true
			}
		}
	case "ResourceName":
		for _, r := range e.Resources {
			if r.ARN == q.value || resourceName(r.ARN) == q.value {
				return true
			}
		}
	}
	return false
}

// username is the Username CloudTrail shows: the IAM user's name, "root"
// for the account root.
func username(e *audit.Event) string {
	if e.UserIdentity.Type == audit.IdentityRoot {
		return "root"
	}
	return e.UserIdentity.UserName
}

// resourceName is the resource ID at the end of an ARN (fs-…, fsap-…).
func resourceName(arn string) string {
	if i := strings.LastIndexAny(arn, "/:"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

type outResource struct {
	ResourceType string `json:"ResourceType,omitempty"`
	ResourceName string `json:"ResourceName,omitempty"`
}

type outEvent struct {
	EventID         string        `json:"EventId"`
	EventName       string        `json:"EventName"`
	ReadOnly        string        `json:"ReadOnly"`
	AccessKeyID     string        `json:"AccessKeyId,omitempty"`
	EventTime       *float64      `json:"EventTime"`
	EventSource     string        `json:"EventSource"`
	Username        string        `json:"Username,omitempty"`
	Resources       []outResource `json:"Resources"`
	CloudTrailEvent string        `json:"CloudTrailEvent"`
}

func toOut(e *audit.Event) (outEvent, error) {
	raw, err := json.Marshal(e)
	if err != nil {
		return outEvent{}, err
	}
	t, _ := time.Parse(audit.TimeLayout, e.EventTime)
	o := outEvent{
		EventID: e.EventID, EventName: e.EventName, ReadOnly: fmt.Sprint(e.ReadOnly), AccessKeyID: e.UserIdentity.AccessKeyID,
		EventTime: epoch(t), EventSource: e.EventSource, Username: username(e), Resources: []outResource{}, CloudTrailEvent: string(raw),
	}
	for _, r := range e.Resources {
		o.Resources = append(o.Resources, outResource{ResourceType: r.Type, ResourceName: resourceName(r.ARN)})
	}
	return o, nil
}

type lookupOutput struct {
	Events    []outEvent `json:"Events"`
	NextToken *string    `json:"NextToken,omitempty"`
}

func (s *Service) lookupEvents(ctx context.Context, c *edge.Call, body []byte, out *edge.Outcome) (any, *apiError) {
	q, e := parseLookup(body, s.now())
	if e != nil {
		return nil, e
	}
	out.RequestParameters = lookupParams(q)
	if e := s.authorize(ctx, c, "LookupEvents", "*"); e != nil {
		return nil, e
	}
	res := lookupOutput{Events: []outEvent{}}
	if q.insight { // shelf has no Insights events
		return res, nil
	}
	hi := q.fromSeq
	if hi == 0 {
		var err error
		if hi, err = s.upperBound(ctx, q.end.Add(timeSlack)); err != nil {
			return nil, internal(s, "LookupEvents", err)
		}
	}
	floor := q.start.Add(-timeSlack)
	scanned := 0
	const chunk = 256
	for hi >= 1 {
		lo := uint64(1)
		if hi > chunk {
			lo = hi - chunk + 1
		}
		var batch []*audit.Event
		var seqs []uint64
		err := s.recs.Scan(ctx, lo, func(seq uint64, ev *audit.Event) error {
			if seq > hi {
				return audit.ErrStop
			}
			batch, seqs = append(batch, ev), append(seqs, seq)
			return nil
		})
		if err != nil {
			return nil, internal(s, "LookupEvents", err)
		}
		for i := len(batch) - 1; i >= 0; i-- {
			ev, seq := batch[i], seqs[i]
			t, err := time.Parse(audit.TimeLayout, ev.EventTime)
			if err != nil {
				continue
			}
			if t.Before(floor) {
				return res, nil
			}
			scanned++
			if t.Before(q.start) || t.After(q.end) || !q.matches(ev) {
				if scanned >= maxScanned && seq > 1 {
					tok := encodeToken(seq-1, q.paramHash())
					res.NextToken = &tok
					return res, nil
				}
				continue
			}
			if len(res.Events) == q.max {
				tok := encodeToken(seq, q.paramHash())
				res.NextToken = &tok
				return res, nil
			}
			o, err := toOut(ev)
			if err != nil {
				return nil, internal(s, "LookupEvents", err)
			}
			res.Events = append(res.Events, o)
		}
		if lo == 1 {
			break
		}
		hi = lo - 1
	}
	return res, nil
}

// upperBound returns the highest sequence number whose record is not newer
// than t, by binary search (eventTime grows with the sequence, up to
// timeSlack, which the caller adds).
func (s *Service) upperBound(ctx context.Context, t time.Time) (uint64, error) {
	next, err := s.recs.NextSeq(ctx)
	if err != nil {
		return 0, err
	}
	timeOf := func(seq uint64) (time.Time, error) {
		var mt time.Time
		err := s.recs.Scan(ctx, seq, func(_ uint64, ev *audit.Event) error {
			mt, _ = time.Parse(audit.TimeLayout, ev.EventTime)
			return audit.ErrStop
		})
		return mt, err
	}
	lo, hi := uint64(0), next-1 // answer in [lo, hi]
	if hi == 0 {
		return 0, nil
	}
	// The usual range ends now: the newest record is the bound.
	if newest, err := timeOf(hi); err != nil || !newest.After(t) {
		return hi, err
	}
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		mt, err := timeOf(mid)
		if err != nil {
			return 0, err
		}
		if mt.After(t) {
			hi = mid - 1
		} else {
			lo = mid
		}
	}
	return lo, nil
}

func lookupParams(q *lookup) map[string]any {
	p := map[string]any{"startTime": q.start.Format(audit.TimeLayout), "endTime": q.end.Format(audit.TimeLayout), "maxResults": q.max}
	if q.key != "" {
		p["lookupAttributes"] = []map[string]string{{"attributeKey": q.key, "attributeValue": q.value}}
	}
	return p
}

// --- ListPublicKeys, DescribeTrails, GetTrailStatus ---

type listKeysInput struct {
	StartTime *float64 `json:"StartTime"`
	EndTime   *float64 `json:"EndTime"`
	NextToken *string  `json:"NextToken"`
}

type publicKey struct {
	Value             []byte   `json:"Value"`
	ValidityStartTime *float64 `json:"ValidityStartTime"`
	ValidityEndTime   *float64 `json:"ValidityEndTime"`
	Fingerprint       string   `json:"Fingerprint"`
}

func (s *Service) listPublicKeys(ctx context.Context, c *edge.Call, body []byte, _ *edge.Outcome) (any, *apiError) {
	var in listKeysInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	var start, end time.Time
	if in.StartTime != nil {
		t, ok := parseEpoch(*in.StartTime)
		if !ok {
			return nil, errf("InvalidTimeRangeException", "StartTime is outside the range of possible values.")
		}
		start = t
	}
	if in.EndTime != nil {
		t, ok := parseEpoch(*in.EndTime)
		if !ok {
			return nil, errf("InvalidTimeRangeException", "EndTime is outside the range of possible values.")
		}
		end = t
	}
	if !start.IsZero() && !end.IsZero() && start.After(end) {
		return nil, errf("InvalidTimeRangeException", "The start time occurs after the end time.")
	}
	if in.NextToken != nil {
		return nil, errf("InvalidTokenException", "The token is not valid.")
	}
	if e := s.authorize(ctx, c, "ListPublicKeys", "*"); e != nil {
		return nil, e
	}
	out := struct {
		PublicKeyList []publicKey `json:"PublicKeyList"`
	}{PublicKeyList: []publicKey{}}
	for _, k := range s.tr.PublicKeys() {
		if (!end.IsZero() && k.ValidityStart.After(end)) || (!start.IsZero() && k.ValidityEnd.Before(start)) {
			continue
		}
		out.PublicKeyList = append(out.PublicKeyList, publicKey{Value: k.DER, ValidityStartTime: epoch(k.ValidityStart), ValidityEndTime: epoch(k.ValidityEnd), Fingerprint: k.Fingerprint})
	}
	return out, nil
}

type trailOut struct {
	Name                       string `json:"Name"`
	S3BucketName               string `json:"S3BucketName"`
	IncludeGlobalServiceEvents bool   `json:"IncludeGlobalServiceEvents"`
	IsMultiRegionTrail         bool   `json:"IsMultiRegionTrail"`
	HomeRegion                 string `json:"HomeRegion"`
	TrailARN                   string `json:"TrailARN"`
	LogFileValidationEnabled   bool   `json:"LogFileValidationEnabled"`
	HasCustomEventSelectors    bool   `json:"HasCustomEventSelectors"`
	HasInsightSelectors        bool   `json:"HasInsightSelectors"`
	IsOrganizationTrail        bool   `json:"IsOrganizationTrail"`
}

// maxTrailNames bounds trailNameList.
const maxTrailNames = 100

func (s *Service) describeTrails(ctx context.Context, c *edge.Call, body []byte, out *edge.Outcome) (any, *apiError) {
	var in struct {
		TrailNameList       []string `json:"trailNameList"`
		IncludeShadowTrails *bool    `json:"includeShadowTrails"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if len(in.TrailNameList) > maxTrailNames {
		return nil, errf("InvalidParameterException", "trailNameList has more than %d names.", maxTrailNames)
	}
	if e := s.authorize(ctx, c, "DescribeTrails", "*"); e != nil {
		return nil, e
	}
	res := struct {
		TrailList []trailOut `json:"trailList"`
	}{TrailList: []trailOut{}}
	match := len(in.TrailNameList) == 0
	for _, n := range in.TrailNameList {
		if n == s.tr.TrailName() || n == s.tr.ARN() {
			match = true
		}
	}
	if match {
		res.TrailList = append(res.TrailList, trailOut{
			Name: s.tr.TrailName(), S3BucketName: s.tr.Bucket(), IncludeGlobalServiceEvents: true,
			HomeRegion: s.tr.Region(), TrailARN: s.tr.ARN(), LogFileValidationEnabled: true,
		})
	}
	return res, nil
}

func (s *Service) getTrailStatus(ctx context.Context, c *edge.Call, body []byte, out *edge.Outcome) (any, *apiError) {
	var in struct {
		Name *string `json:"Name"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Name == nil || *in.Name == "" || len(*in.Name) > 256 {
		return nil, errf("InvalidTrailNameException", "Name must be the trail's name or ARN.")
	}
	out.RequestParameters = map[string]string{"name": *in.Name}
	if *in.Name != s.tr.TrailName() && *in.Name != s.tr.ARN() {
		return nil, errf("TrailNotFoundException", "Unknown trail: %s for the user: %s", truncate(*in.Name, 256), c.Principal.Account)
	}
	out.Resources = []string{s.tr.ARN()}
	if e := s.authorize(ctx, c, "GetTrailStatus", s.tr.ARN()); e != nil {
		return nil, e
	}
	st, err := s.tr.Status(ctx)
	if err != nil {
		return nil, internal(s, "GetTrailStatus", err)
	}
	res := struct {
		IsLogging                 bool     `json:"IsLogging"`
		LatestDeliveryTime        *float64 `json:"LatestDeliveryTime,omitempty"`
		LatestDigestDeliveryTime  *float64 `json:"LatestDigestDeliveryTime,omitempty"`
		StartLoggingTime          *float64 `json:"StartLoggingTime,omitempty"`
		LatestDeliveryError       string   `json:"LatestDeliveryError,omitempty"`
		LatestDeliveryAttemptTime string   `json:"LatestDeliveryAttemptTime,omitempty"`
		TimeLoggingStarted        string   `json:"TimeLoggingStarted,omitempty"`
	}{
		IsLogging:                st.IsLogging,
		LatestDeliveryTime:       epoch(st.LatestDeliveryTime),
		LatestDigestDeliveryTime: epoch(st.LatestDigestDeliveryTime),
		StartLoggingTime:         epoch(st.StartLoggingTime),
		LatestDeliveryError:      st.LatestDeliveryError,
	}
	if !st.LatestDeliveryTime.IsZero() {
		res.LatestDeliveryAttemptTime = st.LatestDeliveryTime.UTC().Format(trail.TimeLayout)
	}
	if !st.StartLoggingTime.IsZero() {
		res.TimeLoggingStarted = st.StartLoggingTime.UTC().Format(trail.TimeLayout)
	}
	return res, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return fmt.Sprintf("%x", s[:])
}
