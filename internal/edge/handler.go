package edge

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/sigv4"
)

// knownServices are the signing names whose protocol and API version the
// edge knows (from the service models, reference/aws-clients.md §0). A
// Service can override both (ProtocolService, VersionedService).
var knownServices = map[string]struct {
	protocol   Protocol
	apiVersion string
}{
	"elasticfilesystem": {RESTJSON, "2015-02-01"},
	"ec2":               {EC2Query, "2016-11-15"},
	"iam":               {Query, "2010-05-08"},
	"sts":               {Query, "2011-06-15"},
	"kms":               {JSON, "2014-11-01"},
	"cloudtrail":        {JSON, "2013-11-01"},
	"config":            {JSON, "2014-11-12"},
}

// globalServices may be signed for us-east-1 whatever the configured
// region (the SDKs sign IAM for us-east-1).
var globalServices = map[string]bool{"iam": true}

// ServeHTTP is the edge's request path:
//
//  1. a request ID (x-amzn-RequestId), a deadline, and a slot among
//     Deps.MaxInFlight (else the protocol's throttling error);
//  2. the Authorization header is parsed: its signing service selects the
//     Service and so the protocol of every error below;
//  3. the body is read, bounded by MaxBodyBytes;
//  4. the access key is looked up and the signature verified;
//  5. the Service serves the call into a buffer, with panics recovered;
//  6. the CloudTrail record is appended durably, then the response is
//     written. If the record cannot be stored the client gets a 500
//     instead, so no answered call is missing from the trail.
//
// Calls whose access key is known are recorded, whether they succeed, are
// denied or fail their signature check. Requests without a valid access key
// ID (missing or malformed authorization, unknown key) are only logged:
// they have no principal and no account to be delivered to, and recording
// them would let anyone on the network fill the audit log.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := s.clock.Now()
	reqID := s.newID()
	w.Header().Set(HeaderRequestID, reqID)
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	r = r.WithContext(ctx)

	a, authErr := sigv4.ParseAuthorization(r)
	svc := s.service(a.Service)
	proto := protocolFor(a.Service, svc, r)
	log := s.log.With("req_id", reqID)

	select {
	case s.inFlight <- struct{}{}:
		defer func() { <-s.inFlight }()
	default:
		log.Warn("API request refused: too many in flight", "limit", cap(s.inFlight))
		WriteError(w, proto, reqID, edgeError(proto, failThrottled, ""))
		return
	}

	body, err := readBody(w, r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			log.Info("API request body too large", "service", a.Service, "limit", MaxBodyBytes)
			WriteError(w, proto, reqID, edgeError(proto, failBodyTooLarge, ""))
			return
		}
		// The client went away or sent a broken body; nothing to answer.
		log.Debug("API request body unreadable", "err", err)
		WriteError(w, proto, reqID, &APIError{Code: "IncompleteBody", Status: http.StatusBadRequest, Message: "The request body could not be read."})
		return
	}
	if authErr != nil {
		f, msg := classifyAuthError(authErr)
		log.Info("API request not authenticated", "service", a.Service, "code", edgeError(proto, f, msg).Code, "source_ip", sourceIP(r))
		WriteError(w, proto, reqID, edgeError(proto, f, msg))
		return
	}
	if svc == nil {
		log.Info("API request for a service not served here", "service", a.Service)
		WriteError(w, proto, reqID, edgeError(proto, failBadSignature,
			fmt.Sprintf("Credential should be scoped to a valid service: '%s' is not served by this endpoint.", a.Service)))
		return
	}
	principal, secret, err := s.deps.Credentials.Lookup(ctx, a.AccessKeyID)
	switch {
	case errors.Is(err, ErrUnknownAccessKey):
		log.Info("API request with an unknown access key", "service", a.Service, "access_key_id", a.AccessKeyID, "source_ip", sourceIP(r))
		WriteError(w, proto, reqID, edgeError(proto, failUnknownKey, ""))
		return
	case err != nil:
		log.Error("access key lookup failed", "err", err)
		WriteError(w, proto, reqID, edgeError(proto, failUnavailable, ""))
		return
	}

	call := &Call{
		Principal: principal,
		Service:   a.Service,
		Region:    a.Region,
		SourceIP:  sourceIP(r),
		UserAgent: r.UserAgent(),
		Host:      r.Host,
		RequestID: reqID,
		Time:      now,
	}
	if r.TLS != nil {
		call.Secure = true
		call.TLSVersion, call.TLSCipher = tlsNames(r.TLS)
	}
	buf := newBufferedResponse()
	buf.Header().Set(HeaderRequestID, reqID)
	var out Outcome
	err = sigv4.Verify(r, body, a, secret, now)
	if err == nil {
		regions := []string{s.deps.Region}
		if globalServices[a.Service] {
			regions = append(regions, "us-east-1")
		}
		err = sigv4.CheckScope(a, regions...)
	}
	switch {
	case err != nil:
		f, msg := classifyAuthError(err)
		out = s.fail(buf, r, body, call, svc, proto, edgeError(proto, f, msg))
	default:
		out = s.serve(buf, r, body, call, svc, proto, log)
	}
	if out.Status == 0 {
		out.Status = buf.statusCode()
	}
	if out.EventName == "" {
		out.EventName = operationName(svc, proto, r, body)
	}

	// The record is stored even if the client has gone away: the call
	// happened.
	actx, acancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	err = s.deps.Audit.Append(actx, s.event(call, svc, out))
	acancel()
	if err != nil {
		log.Error("audit record not stored; answering 500", "service", call.Service, "op", out.EventName, "err", err)
		WriteError(w, proto, reqID, edgeError(proto, failInternal, ""))
		return
	}
	log.Debug("API call", "service", call.Service, "op", out.EventName, "principal", principal.ARN,
		"status", out.Status, "err_code", out.ErrorCode, "ms", s.clock.Now().Sub(now).Milliseconds())
	buf.flush(w)
}

// serve runs the service, turning a panic into a 500 in the service's
// protocol.
func (s *Server) serve(buf *bufferedResponse, r *http.Request, body []byte, call *Call, svc Service, proto Protocol, log interface {
	Error(string, ...any)
}) (out Outcome) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		log.Error("panic serving an API call", "service", call.Service, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		out = s.fail(buf, r, body, call, svc, proto, edgeError(proto, failInternal, ""))
	}()
	return svc.ServeCall(buf, r, body, call)
}

// fail writes e into buf (dropping anything written before) and returns its
// outcome.
func (s *Server) fail(buf *bufferedResponse, r *http.Request, body []byte, call *Call, svc Service, proto Protocol, e *APIError) Outcome {
	buf.reset()
	buf.Header().Set(HeaderRequestID, call.RequestID)
	WriteError(buf, proto, call.RequestID, e)
	name := operationName(svc, proto, r, body)
	return Outcome{EventName: name, ReadOnly: readOnlyName(name), ErrorCode: e.Code, ErrorMessage: e.Message, Status: e.Status}
}

// event builds the CloudTrail record of a call.
func (s *Server) event(call *Call, svc Service, out Outcome) *audit.Event {
	p := call.Principal
	id := audit.UserIdentity{
		Type: audit.IdentityIAMUser, PrincipalID: p.UserID, ARN: p.ARN,
		AccountID: p.Account, AccessKeyID: p.AccessKeyID, UserName: p.UserName,
	}
	if p.IsRoot {
		id.Type, id.PrincipalID, id.UserName = audit.IdentityRoot, p.Account, ""
	}
	e := &audit.Event{
		EventVersion:       audit.EventVersion,
		UserIdentity:       id,
		EventTime:          audit.FormatTime(call.Time),
		EventSource:        audit.EventSource(call.Service),
		EventName:          out.EventName,
		AWSRegion:          call.Region,
		SourceIPAddress:    call.SourceIP,
		UserAgent:          call.UserAgent,
		ErrorCode:          out.ErrorCode,
		ErrorMessage:       out.ErrorMessage,
		RequestParameters:  rawJSON(out.RequestParameters),
		ResponseElements:   rawJSON(out.ResponseElements),
		RequestID:          call.RequestID,
		EventID:            s.newID(),
		ReadOnly:           out.ReadOnly,
		EventType:          audit.EventTypeAPICall,
		APIVersion:         apiVersion(call.Service, svc),
		ManagementEvent:    true,
		RecipientAccountID: s.deps.Account,
		EventCategory:      audit.CategoryManagement,
	}
	for _, arn := range out.Resources {
		e.Resources = append(e.Resources, audit.Resource{ARN: arn, AccountID: s.deps.Account, Type: resourceType(arn)})
	}
	if call.Secure {
		e.TLSDetails = &audit.TLSDetails{TLSVersion: call.TLSVersion, CipherSuite: call.TLSCipher, ClientProvidedHostHeader: call.Host}
	}
	return e
}

// rawJSON marshals a CloudTrail requestParameters/responseElements value:
// nil stays nil (null), json.RawMessage and []byte holding JSON are kept.
func rawJSON(v any) json.RawMessage {
	switch x := v.(type) {
	case nil:
		return nil
	case json.RawMessage:
		if len(x) == 0 || !json.Valid(x) {
			return nil
		}
		return x
	case []byte:
		if len(x) == 0 || !json.Valid(x) {
			return nil
		}
		return json.RawMessage(x)
	}
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return nil
	}
	return b
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, &http.MaxBytesError{Limit: MaxBodyBytes}
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
}

// classifyAuthError maps a SigV4 parse or verification error to the edge
// failure and the message to show (empty: the usual one).
func classifyAuthError(err error) (failure, string) {
	_, _, msg := sigv4.ErrorCode(err)
	switch {
	case errors.Is(err, sigv4.ErrMissingAuthentication):
		return failMissingAuth, ""
	case errors.Is(err, sigv4.ErrIncompleteSignature):
		return failIncompleteSignature, msg
	case errors.Is(err, sigv4.ErrUnknownAccessKey):
		return failUnknownKey, ""
	case errors.Is(err, sigv4.ErrSignatureExpired):
		return failExpired, msg
	}
	return failBadSignature, msg
}

// protocolFor is the protocol of the service named signing, or a guess from
// the request when it names none the edge serves.
func protocolFor(signing string, svc Service, r *http.Request) Protocol {
	if ps, ok := svc.(ProtocolService); ok {
		return ps.Protocol()
	}
	if k, ok := knownServices[signing]; ok {
		return k.protocol
	}
	switch ct := r.Header.Get("Content-Type"); {
	case r.Header.Get("X-Amz-Target") != "" || strings.HasPrefix(ct, "application/x-amz-json"):
		return JSON
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		return Query
	}
	return RESTJSON
}

func apiVersion(signing string, svc Service) string {
	if vs, ok := svc.(VersionedService); ok {
		return vs.APIVersion()
	}
	return knownServices[signing].apiVersion
}

// operationName names the operation of a request the service did not name.
func operationName(svc Service, proto Protocol, r *http.Request, body []byte) string {
	if n, ok := svc.(OperationNamer); ok {
		if name := n.OperationName(r, body); name != "" {
			return name
		}
	}
	switch proto {
	case Query, EC2Query:
		if v, err := url.ParseQuery(string(body)); err == nil && validName(v.Get("Action")) {
			return v.Get("Action")
		}
		if a := r.URL.Query().Get("Action"); validName(a) {
			return a
		}
	case JSON:
		t := r.Header.Get("X-Amz-Target")
		if i := strings.LastIndexByte(t, '.'); i >= 0 && validName(t[i+1:]) {
			return t[i+1:]
		}
	}
	return "Unknown"
}

// validName accepts operation names: letters and digits, at most 64.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// readOnlyName reports whether an operation name reads only.
func readOnlyName(name string) bool {
	for _, p := range []string{"Describe", "List", "Get", "Lookup"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// resourceType maps an ARN to its CloudTrail resource type.
func resourceType(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	kind, _, _ := strings.Cut(parts[5], "/")
	switch parts[2] + ":" + kind {
	case "elasticfilesystem:file-system":
		return "AWS::EFS::FileSystem"
	case "elasticfilesystem:access-point":
		return "AWS::EFS::AccessPoint"
	case "ec2:security-group":
		return "AWS::EC2::SecurityGroup"
	case "ec2:vpc":
		return "AWS::EC2::VPC"
	case "ec2:subnet":
		return "AWS::EC2::Subnet"
	case "iam:user":
		return "AWS::IAM::User"
	case "kms:key":
		return "AWS::KMS::Key"
	}
	return ""
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// opensslCiphers are CloudTrail's names for the TLS 1.2 suites Go offers
// (TLS 1.3 names are the same in both worlds).
var opensslCiphers = map[uint16]string{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:       "ECDHE-ECDSA-AES128-GCM-SHA256",
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:         "ECDHE-RSA-AES128-GCM-SHA256",
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:       "ECDHE-ECDSA-AES256-GCM-SHA384",
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:         "ECDHE-RSA-AES256-GCM-SHA384",
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-ECDSA-CHACHA20-POLY1305",
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:   "ECDHE-RSA-CHACHA20-POLY1305",
}

// tlsNames renders a connection's version and cipher as CloudTrail does
// ("TLSv1.3", "TLS_AES_128_GCM_SHA256").
func tlsNames(cs *tls.ConnectionState) (version, cipher string) {
	switch cs.Version {
	case tls.VersionTLS12:
		version = "TLSv1.2"
	case tls.VersionTLS13:
		version = "TLSv1.3"
	default:
		version = tls.VersionName(cs.Version)
	}
	if n, ok := opensslCiphers[cs.CipherSuite]; ok {
		return version, n
	}
	return version, tls.CipherSuiteName(cs.CipherSuite)
}

// bufferedResponse holds a service's response until its audit record is
// stored.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newBufferedResponse() *bufferedResponse { return &bufferedResponse{header: http.Header{}} }

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedResponse) statusCode() int {
	if b.status == 0 {
		return http.StatusOK
	}
	return b.status
}

func (b *bufferedResponse) reset() {
	b.header = http.Header{}
	b.status = 0
	b.body.Reset()
}

func (b *bufferedResponse) flush(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range b.header {
		h[k] = v
	}
	w.WriteHeader(b.statusCode())
	_, _ = w.Write(b.body.Bytes())
}
