package users

import (
	"context"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shelf-efs/shelf/internal/edge"
)

// The IAM query protocol (API version 2010-05-08): each request is a form
// (POST body, or GET query) with Action and Version; each response is XML
// in the IAM namespace, <OpResponse><OpResult>…</OpResult>
// <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></OpResponse>,
// and each error <ErrorResponse><Error><Type>Sender</Type><Code>…</Code>
// <Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>.
const (
	// APIVersion is the IAM API version served.
	APIVersion = "2010-05-08"
	// Namespace is the XML namespace of every response.
	Namespace = "https://iam.amazonaws.com/doc/2010-05-08/"
	// SigningName is the SigV4 service name of IAM.
	SigningName = "iam"
)

// Service serves the IAM query API for users, access keys and inline user
// policies. The account root may call every operation; any other
// principal only what the Authorizer allows as "iam:<Operation>" on the
// ARN of the user concerned. Safe for concurrent use.
type Service struct {
	store *Store
	authz edge.Authorizer
	log   *slog.Logger
}

var _ edge.Service = (*Service)(nil)

// NewService returns the IAM API over store. authz decides for principals
// other than the root; a nil authz denies them everything. A nil log
// discards.
func NewService(store *Store, authz edge.Authorizer, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, authz: authz, log: log}
}

// SigningName returns "iam".
func (s *Service) SigningName() string { return SigningName }

// apiError is an answer that is not a Store error: the request itself is
// wrong, or access is denied.
type apiError struct {
	code    string
	status  int
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// call is the state of one request, filled in by the operation.
type call struct {
	ctx    context.Context
	form   url.Values
	edge   *edge.Call
	op     string
	params map[string]any // CloudTrail requestParameters
	result any            // the <OpResult> element; nil for none
	// response is CloudTrail's responseElements (never a secret).
	response any
	resource string
}

// param returns form value name and records it as a request parameter.
func (c *call) param(name string) string {
	v := c.form.Get(name)
	if _, ok := c.form[name]; ok {
		c.params[lowerFirst(name)] = v
	}
	return v
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func (c *call) maxItems() (int, error) {
	v := c.param("MaxItems")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxMaxItems {
		return 0, invalid("maxItems", shorten(v), "have value between 1 and 1000")
	}
	return n, nil
}

type operation struct {
	readOnly bool
	run      func(s *Service, c *call) error
}

var operations = map[string]operation{
	"CreateUser":       {run: (*Service).createUser},
	"GetUser":          {readOnly: true, run: (*Service).getUser},
	"ListUsers":        {readOnly: true, run: (*Service).listUsers},
	"DeleteUser":       {run: (*Service).deleteUser},
	"CreateAccessKey":  {run: (*Service).createAccessKey},
	"ListAccessKeys":   {readOnly: true, run: (*Service).listAccessKeys},
	"UpdateAccessKey":  {run: (*Service).updateAccessKey},
	"DeleteAccessKey":  {run: (*Service).deleteAccessKey},
	"PutUserPolicy":    {run: (*Service).putUserPolicy},
	"GetUserPolicy":    {readOnly: true, run: (*Service).getUserPolicy},
	"ListUserPolicies": {readOnly: true, run: (*Service).listUserPolicies},
	"DeleteUserPolicy": {run: (*Service).deleteUserPolicy},
}

// ServeCall handles one authenticated IAM request.
func (s *Service) ServeCall(w http.ResponseWriter, r *http.Request, body []byte, ec *edge.Call) edge.Outcome {
	c := &call{ctx: r.Context(), edge: ec, params: map[string]any{}}
	var op operation
	err := func() error {
		form, err := parseForm(r, body)
		if err != nil {
			return err
		}
		c.form = form
		c.op = form.Get("Action")
		if c.op == "" {
			return &apiError{"MissingAction", http.StatusBadRequest, "Missing Action"}
		}
		var ok bool
		op, ok = operations[c.op]
		if v := form.Get("Version"); !ok || v != "" && v != APIVersion {
			c.op = ""
			return &apiError{"InvalidAction", http.StatusBadRequest,
				"Could not find operation " + shorten(form.Get("Action")) + " for version " + shorten(form.Get("Version"))}
		}
		return op.run(s, c)
	}()
	out := edge.Outcome{EventName: c.op, ReadOnly: op.readOnly, ResponseElements: c.response}
	if len(c.params) > 0 {
		out.RequestParameters = c.params
	}
	if c.resource != "" {
		out.Resources = []string{c.resource}
	}
	if err != nil {
		out.ErrorCode, out.Status, out.ErrorMessage = s.errorCode(c, err)
		out.ResponseElements = nil
		writeXML(w, out.Status, errorResponse{
			Xmlns:     Namespace,
			Error:     errorBody{Type: errorType(out.Status), Code: out.ErrorCode, Message: out.ErrorMessage},
			RequestID: ec.RequestID,
		}, ec.RequestID)
		return out
	}
	out.Status = http.StatusOK
	writeXML(w, out.Status, queryResponse{
		XMLName:   xml.Name{Local: c.op + "Response"},
		Xmlns:     Namespace,
		Result:    c.result,
		RequestID: ec.RequestID,
	}, ec.RequestID)
	return out
}

// parseForm reads the parameters: the urlencoded body of a POST, and the
// query string (for GET, as IAM also accepts).
func parseForm(r *http.Request, body []byte) (url.Values, error) {
	bad := &apiError{"MalformedQueryString", http.StatusBadRequest, "The request parameters are not a well-formed urlencoded form."}
	form, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, bad
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		fromBody, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, bad
		}
		for k, vs := range fromBody {
			form[k] = append(form[k], vs...)
		}
	default:
		return nil, &apiError{"InvalidAction", http.StatusBadRequest, "IAM accepts only GET and POST requests."}
	}
	return form, nil
}

// errorCode maps an error to the IAM code, status and message: an
// exhaustive switch over the Store vocabulary, the API's own errors and
// access denial; anything else is a ServiceFailure whose cause is logged
// and not sent.
func (s *Service) errorCode(c *call, err error) (code string, status int, message string) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.code, ae.status, ae.message
	}
	var ue *Error
	if errors.As(err, &ue) {
		switch {
		case errors.Is(err, ErrNoSuchEntity):
			return "NoSuchEntity", http.StatusNotFound, ue.Message
		case errors.Is(err, ErrEntityAlreadyExists):
			return "EntityAlreadyExists", http.StatusConflict, ue.Message
		case errors.Is(err, ErrDeleteConflict):
			return "DeleteConflict", http.StatusConflict, ue.Message
		case errors.Is(err, ErrLimitExceeded):
			return "LimitExceeded", http.StatusConflict, ue.Message
		case errors.Is(err, ErrValidation):
			return "ValidationError", http.StatusBadRequest, ue.Message
		case errors.Is(err, ErrMalformedPolicyDocument):
			return "MalformedPolicyDocument", http.StatusBadRequest, ue.Message
		}
	}
	s.log.Error("iam api call failed", "op", c.op, "req_id", c.edge.RequestID, "err", err)
	return "ServiceFailure", http.StatusInternalServerError, "The request processing has failed because of an unknown error, exception or failure."
}

func errorType(status int) string {
	if status >= 500 {
		return "Receiver"
	}
	return "Sender"
}

// authorize lets the root do anything and asks the Authorizer for anyone
// else, for "iam:<op>" on resource.
func (s *Service) authorize(c *call, resource string) error {
	c.resource = resource
	p := c.edge.Principal
	if p.IsRoot && p.Account == s.store.Account() {
		return nil
	}
	action := "iam:" + c.op
	denied := &apiError{"AccessDenied", http.StatusForbidden,
		"User: " + p.ARN + " is not authorized to perform: " + action + " on resource: " + resource}
	if s.authz == nil {
		return denied
	}
	err := s.authz.Authorize(c.ctx, c.edge, action, resource, nil)
	if errors.Is(err, edge.ErrAccessDenied) {
		return denied
	}
	return err
}

// targetUser resolves the UserName parameter of an operation on a user
// that defaults to the caller: "" (the root) when absent and the caller is
// the root. It returns the name and the user's ARN for authorization (with
// the path "/" when the user does not exist, which the operation then
// reports).
func (s *Service) targetUser(c *call, defaultToCaller bool) (string, string, error) {
	name := c.param("UserName")
	if name == "" && defaultToCaller {
		p := c.edge.Principal
		if p.IsRoot {
			return "", s.store.RootARN(), nil
		}
		name = p.UserName
	}
	if err := validateUserName(name); err != nil {
		return "", "", err
	}
	u, err := s.store.GetUser(c.ctx, name)
	switch {
	case errors.Is(err, ErrNoSuchEntity):
		return name, s.store.UserARN("/", name), nil
	case err != nil:
		return "", "", err
	}
	return u.UserName, u.ARN, nil
}

// XML shapes of the responses.

type queryResponse struct {
	XMLName   xml.Name
	Xmlns     string `xml:"xmlns,attr"`
	Result    any
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

type errorResponse struct {
	XMLName   xml.Name  `xml:"ErrorResponse"`
	Xmlns     string    `xml:"xmlns,attr"`
	Error     errorBody `xml:"Error"`
	RequestID string    `xml:"RequestId"`
}

type errorBody struct {
	Type    string
	Code    string
	Message string
}

const timeFormat = "2006-01-02T15:04:05Z"

type xmlUser struct {
	Path       string `xml:",omitempty"`
	UserName   string `xml:",omitempty"`
	UserID     string `xml:"UserId"`
	ARN        string `xml:"Arn"`
	CreateDate string
}

func toXMLUser(u User) xmlUser {
	return xmlUser{Path: u.Path, UserName: u.UserName, UserID: u.UserID, ARN: u.ARN, CreateDate: u.CreateDate.UTC().Format(timeFormat)}
}

type userResult struct {
	XMLName xml.Name
	User    xmlUser
}

type userList struct {
	Member []xmlUser `xml:"member"`
}

type listUsersResult struct {
	XMLName     xml.Name
	Users       userList
	IsTruncated bool
	Marker      string `xml:",omitempty"`
}

type xmlAccessKey struct {
	UserName        string `xml:",omitempty"`
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string
	SecretAccessKey string `xml:",omitempty"`
	CreateDate      string
}

type createAccessKeyResult struct {
	XMLName   xml.Name
	AccessKey xmlAccessKey
}

type keyList struct {
	Member []xmlAccessKey `xml:"member"`
}

type listAccessKeysResult struct {
	XMLName           xml.Name
	UserName          string `xml:",omitempty"`
	AccessKeyMetadata keyList
	IsTruncated       bool
}

type getUserPolicyResult struct {
	XMLName        xml.Name
	UserName       string
	PolicyName     string
	PolicyDocument string
}

type nameList struct {
	Member []string `xml:"member"`
}

type listUserPoliciesResult struct {
	XMLName     xml.Name
	PolicyNames nameList
	IsTruncated bool
	Marker      string `xml:",omitempty"`
}

func (c *call) resultName() xml.Name { return xml.Name{Local: c.op + "Result"} }

func writeXML(w http.ResponseWriter, status int, v any, requestID string) {
	out, err := xml.Marshal(v)
	if err != nil {
		// Every shape above marshals; this is a broken invariant.
		panic("users: marshal IAM response: " + err.Error())
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(out)))
	if requestID != "" {
		w.Header().Set("X-Amzn-Requestid", requestID)
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}

// encodePolicy percent-encodes a policy document as IAM returns it (RFC
// 3986, space as %20); the AWS CLI decodes it, the SDKs leave that to the
// caller.
func encodePolicy(doc []byte) string {
	return strings.ReplaceAll(url.QueryEscape(string(doc)), "+", "%20")
}

// CloudTrail responseElements of the mutations (never a secret).
func userElements(u User) map[string]any {
	return map[string]any{"user": map[string]any{
		"path": u.Path, "userName": u.UserName, "userId": u.UserID, "arn": u.ARN, "createDate": u.CreateDate.UTC().Format(time.RFC3339),
	}}
}

// The operations.

func (s *Service) createUser(c *call) error {
	name, path := c.param("UserName"), c.param("Path")
	if err := validateUserName(name); err != nil {
		return err
	}
	if path == "" {
		path = "/"
	}
	if err := validatePath(path); err != nil {
		return err
	}
	if err := s.authorize(c, s.store.UserARN(path, name)); err != nil {
		return err
	}
	u, err := s.store.CreateUser(c.ctx, name, path)
	if err != nil {
		return err
	}
	c.result = userResult{XMLName: c.resultName(), User: toXMLUser(u)}
	c.response = userElements(u)
	return nil
}

func (s *Service) getUser(c *call) error {
	name, arn, err := s.targetUser(c, true)
	if err != nil {
		return err
	}
	if err := s.authorize(c, arn); err != nil {
		return err
	}
	u := s.store.Root()
	if name != "" {
		if u, err = s.store.GetUser(c.ctx, name); err != nil {
			return err
		}
	}
	c.result = userResult{XMLName: c.resultName(), User: toXMLUser(u)}
	return nil
}

func (s *Service) listUsers(c *call) error {
	prefix, marker := c.param("PathPrefix"), c.param("Marker")
	maxItems, err := c.maxItems()
	if err != nil {
		return err
	}
	if prefix == "" {
		prefix = "/"
	}
	if err := validatePathPrefix(prefix); err != nil {
		return err
	}
	if err := s.authorize(c, s.store.UserARN(prefix, "")); err != nil {
		return err
	}
	users, next, err := s.store.ListUsers(c.ctx, prefix, marker, maxItems)
	if err != nil {
		return err
	}
	res := listUsersResult{XMLName: c.resultName(), IsTruncated: next != "", Marker: next}
	for _, u := range users {
		res.Users.Member = append(res.Users.Member, toXMLUser(u))
	}
	c.result = res
	return nil
}

func (s *Service) deleteUser(c *call) error {
	name, arn, err := s.targetUser(c, false)
	if err != nil {
		return err
	}
	if err := s.authorize(c, arn); err != nil {
		return err
	}
	return s.store.DeleteUser(c.ctx, name)
}

func (s *Service) createAccessKey(c *call) error {
	name, arn, err := s.targetUser(c, true)
	if err != nil {
		return err
	}
	if err := s.authorize(c, arn); err != nil {
		return err
	}
	k, secret, err := s.store.CreateAccessKey(c.ctx, name)
	if err != nil {
		return err
	}
	c.result = createAccessKeyResult{XMLName: c.resultName(), AccessKey: xmlAccessKey{
		UserName: k.UserName, AccessKeyID: k.AccessKeyID, Status: k.Status, SecretAccessKey: secret,
		CreateDate: k.CreateDate.UTC().Format(timeFormat),
	}}
	c.response = map[string]any{"accessKey": map[string]any{
		"userName": k.UserName, "accessKeyId": k.AccessKeyID, "status": k.Status, "createDate": k.CreateDate.UTC().Format(time.RFC3339),
	}}
	return nil
}

func (s *Service) listAccessKeys(c *call) error {
	name, arn, err := s.targetUser(c, true)
	if err != nil {
		return err
	}
	if _, err := c.maxItems(); err != nil {
		return err
	}
	c.param("Marker") // at most two keys: one page always
	if err := s.authorize(c, arn); err != nil {
		return err
	}
	keys, err := s.store.ListAccessKeys(c.ctx, name)
	if err != nil {
		return err
	}
	res := listAccessKeysResult{XMLName: c.resultName(), UserName: name}
	for _, k := range keys {
		res.UserName = k.UserName
		res.AccessKeyMetadata.Member = append(res.AccessKeyMetadata.Member, xmlAccessKey{
			UserName: k.UserName, AccessKeyID: k.AccessKeyID, Status: k.Status, CreateDate: k.CreateDate.UTC().Format(timeFormat),
		})
	}
	c.result = res
	return nil
}

func (s *Service) updateAccessKey(c *call) error {
	name, arn, err := s.targetUser(c, true)
	if err != nil {
		return err
	}
	id, status := c.param("AccessKeyId"), c.param("Status")
	if err := validateKeyID(id); err != nil {
		return err
	}
	if err := validateStatus(status); err != nil {
		return err
	}
	if err := s.authorize(c, arn); err != nil {
		return err
	}
	return s.store.UpdateAccessKey(c.ctx, name, id, status)
}

func (s *Service) deleteAccessKey(c *call) error {
	name, arn, err := s.targetUser(c, true)
	if err != nil {
		return err
	}
	id := c.param("AccessKeyId")
	if err := validateKeyID(id); err != nil {
		return err
	}
	if err := s.authorize(c, arn); err != nil {
		return err
	}
	return s.store.DeleteAccessKey(c.ctx, name, id)
}

func (s *Service) putUserPolicy(c *call) error {
	name, arn, err := s.targetUser(c, false)
	if err != nil {
		return err
	}
	policy, doc := c.param("PolicyName"), c.param("PolicyDocument")
	if err := validatePolicyName(policy); err != nil {
		return err
	}
	if err := s.authorize(c, arn); err != nil {
		return err
	}
	return s.store.PutUserPolicy(c.ctx, name, policy, []byte(doc))
}

func (s *Service) getUserPolicy(c *call) error {
	name, arn, err := s.targetUser(c, false)
	if err != nil {
		return err
	}
	policy := c.param("PolicyName")
	if err := validatePolicyName(policy); err != nil {
		return err
	}
	if err := s.authorize(c, arn); err != nil {
		return err
	}
	doc, err := s.store.GetUserPolicy(c.ctx, name, policy)
	if err != nil {
		return err
	}
	c.result = getUserPolicyResult{XMLName: c.resultName(), UserName: name, PolicyName: policy, PolicyDocument: encodePolicy(doc)}
	return nil
}

func (s *Service) listUserPolicies(c *call) error {
	name, arn, err := s.targetUser(c, false)
	if err != nil {
		return err
	}
	marker := c.param("Marker")
	maxItems, err := c.maxItems()
	if err != nil {
		return err
	}
	if err := s.authorize(c, arn); err != nil {
		return err
	}
	names, next, err := s.store.ListUserPolicies(c.ctx, name, marker, maxItems)
	if err != nil {
		return err
	}
	c.result = listUserPoliciesResult{XMLName: c.resultName(), PolicyNames: nameList{Member: names}, IsTruncated: next != "", Marker: next}
	return nil
}

func (s *Service) deleteUserPolicy(c *call) error {
	name, arn, err := s.targetUser(c, false)
	if err != nil {
		return err
	}
	policy := c.param("PolicyName")
	if err := validatePolicyName(policy); err != nil {
		return err
	}
	if err := s.authorize(c, arn); err != nil {
		return err
	}
	return s.store.DeleteUserPolicy(c.ctx, name, policy)
}
