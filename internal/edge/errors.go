package edge

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strconv"
)

// APIError is an AWS error as a client sees it: the code clients switch on,
// the HTTP status and a message. Messages never carry paths, keys or
// stacks.
type APIError struct {
	Code    string
	Status  int
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// HeaderRequestID is the response header that carries the request ID.
const HeaderRequestID = "X-Amzn-Requestid"

// WriteError writes e in protocol p:
//
//   - rest-json: X-Amzn-ErrorType: <Code>, body {"ErrorCode","Message"} (the
//     EFS error shape) plus "__type" as a fallback for proxies that strip
//     headers (reference/aws-clients.md §2.3);
//   - json: X-Amzn-ErrorType and body {"__type","message"} (botocore reads
//     only __type for this protocol);
//   - query: <ErrorResponse><Error><Type>Sender|Receiver</Type><Code>…;
//   - ec2: <Response><Errors><Error><Code>…</Errors><RequestID>….
//
// The request ID header is set as well.
func WriteError(w http.ResponseWriter, p Protocol, requestID string, e *APIError) {
	h := w.Header()
	if requestID != "" {
		h.Set(HeaderRequestID, requestID)
	}
	h.Del("Content-Length")
	var body []byte
	switch p {
	case Query:
		typ := "Sender"
		if e.Status >= 500 {
			typ = "Receiver"
		}
		body = xmlBody(queryError{Type: typ, Code: e.Code, Message: e.Message, RequestID: requestID})
		h.Set("Content-Type", "text/xml")
	case EC2Query:
		r := ec2ErrorResponse{RequestID: requestID}
		r.Errors.Error = []ec2Error{{Code: e.Code, Message: e.Message}}
		body = xmlBody(r)
		h.Set("Content-Type", "text/xml;charset=UTF-8")
	case JSON:
		body, _ = json.Marshal(struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}{e.Code, e.Message})
		h.Set("Content-Type", "application/x-amz-json-1.1")
		h.Set("X-Amzn-Errortype", e.Code)
	default:
		body, _ = json.Marshal(struct {
			ErrorCode string `json:"ErrorCode"`
			Message   string `json:"Message"`
			Type      string `json:"__type"`
		}{e.Code, e.Message, e.Code})
		h.Set("Content-Type", "application/json")
		h.Set("X-Amzn-Errortype", e.Code)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

type queryError struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

type ec2Error struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

type ec2ErrorResponse struct {
	XMLName xml.Name `xml:"Response"`
	Errors  struct {
		Error []ec2Error `xml:"Error"`
	} `xml:"Errors"`
	RequestID string `xml:"RequestID"`
}

func xmlBody(v any) []byte {
	b, err := xml.Marshal(v)
	if err != nil {
		// The structs above always marshal; a failure is a broken
		// invariant.
		panic("edge: marshal error response: " + err.Error())
	}
	return append([]byte(xml.Header), b...)
}

// Kinds of failure the edge itself answers, before or around a service.
type failure int

const (
	failMissingAuth failure = iota
	failIncompleteSignature
	failUnknownKey
	failBadSignature
	failExpired
	failBodyTooLarge
	failInternal
	failUnavailable
	failThrottled
)

// edgeError renders failure f with message msg (empty: the usual message)
// as the error a client of protocol p expects. AWS services answer
// authentication failures with codes that differ by protocol; the table
// follows what the services answer and what the clients understand:
//
//	failure            rest-json / json                       query (IAM, STS)                  ec2
//	missing auth       MissingAuthenticationTokenException 403 MissingAuthenticationToken 403   MissingAuthenticationToken 401
//	incomplete sig     IncompleteSignatureException 400       IncompleteSignature 400          IncompleteSignature 400
//	unknown key        UnrecognizedClientException 403        InvalidClientTokenId 403         AuthFailure 401
//	bad signature      InvalidSignatureException 403          SignatureDoesNotMatch 403        AuthFailure 401
//	expired/future     InvalidSignatureException 403          SignatureDoesNotMatch 403        RequestExpired 400
//	body too large     RequestEntityTooLargeException 413     RequestEntityTooLarge 413        RequestEntityTooLarge 413
//	internal           InternalServerError (rest-json) /      InternalFailure 500              InternalError 500
//	                   InternalFailure (json) 500
//	unavailable        ServiceUnavailableException 503        ServiceUnavailable 503           Unavailable 503
//	throttled          ThrottlingException 429 (json: 400)    Throttling 400                   RequestLimitExceeded 503
func edgeError(p Protocol, f failure, msg string) *APIError {
	type row struct {
		code   [4]string // by Protocol
		status [4]int
		msg    string
	}
	const (
		badSig  = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
		badKey  = "The security token included in the request is invalid."
		ec2Auth = "AWS was not able to validate the provided access credentials"
	)
	var r row
	switch f {
	case failMissingAuth:
		r = row{[4]string{"MissingAuthenticationTokenException", "MissingAuthenticationTokenException", "MissingAuthenticationToken", "MissingAuthenticationToken"},
			[4]int{403, 403, 403, 401}, "Missing Authentication Token"}
	case failIncompleteSignature:
		r = row{[4]string{"IncompleteSignatureException", "IncompleteSignatureException", "IncompleteSignature", "IncompleteSignature"},
			[4]int{400, 400, 400, 400}, "The request signature does not conform to AWS standards."}
	case failUnknownKey:
		r = row{[4]string{"UnrecognizedClientException", "UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure"},
			[4]int{403, 403, 403, 401}, badKey}
		if p == EC2Query {
			r.msg = ec2Auth
		}
	case failBadSignature:
		r = row{[4]string{"InvalidSignatureException", "InvalidSignatureException", "SignatureDoesNotMatch", "AuthFailure"},
			[4]int{403, 403, 403, 401}, badSig}
		if p == EC2Query {
			r.msg = ec2Auth
		}
	case failExpired:
		r = row{[4]string{"InvalidSignatureException", "InvalidSignatureException", "SignatureDoesNotMatch", "RequestExpired"},
			[4]int{403, 403, 403, 400}, "Signature expired."}
	case failBodyTooLarge:
		r = row{[4]string{"RequestEntityTooLargeException", "RequestEntityTooLargeException", "RequestEntityTooLarge", "RequestEntityTooLarge"},
			[4]int{413, 413, 413, 413}, "Request body is larger than " + strconv.Itoa(MaxBodyBytes) + " bytes."}
	case failUnavailable:
		r = row{[4]string{"ServiceUnavailableException", "ServiceUnavailableException", "ServiceUnavailable", "Unavailable"},
			[4]int{503, 503, 503, 503}, "The service is unavailable. Please try again later."}
	case failThrottled:
		r = row{[4]string{"ThrottlingException", "ThrottlingException", "Throttling", "RequestLimitExceeded"},
			[4]int{429, 400, 400, 503}, "Rate exceeded"}
	default:
		r = row{[4]string{"InternalServerError", "InternalFailure", "InternalFailure", "InternalError"},
			[4]int{500, 500, 500, 500}, "The request processing has failed because of an unknown error, exception or failure."}
	}
	if p < RESTJSON || p > EC2Query {
		p = RESTJSON
	}
	if msg == "" {
		msg = r.msg
	}
	return &APIError{Code: r.code[p], Status: r.status[p], Message: msg}
}
