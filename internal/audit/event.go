// Package audit owns the CloudTrail-format record of every API call and the
// durable, ordered log that holds the records until they are delivered as
// CloudTrail log files (a later issue adds delivery, digests and lookup).
//
// An Event is the CloudTrail record, field for field (see
// reference/efs-reference.md §8 and the CloudTrail "record contents"
// documentation): the JSON that Event marshals to is what a CloudTrail log
// file holds in its "Records" array. The edge (internal/edge) builds one
// Event per call and appends it with Log.Append before the HTTP response is
// written, so a reply means the call is on record.
//
// audit imports only internal/meta: it must not import edge, control or any
// engine.
package audit

import (
	"encoding/json"
	"fmt"
	"time"
)

// Field values CloudTrail uses.
const (
	// EventVersion is the record format version.
	EventVersion = "1.08"
	// EventTypeAPICall is the eventType of an API call.
	EventTypeAPICall = "AwsApiCall"
	// EventTypeServiceEvent is the eventType of an event the service
	// emits itself (NewClientConnection, UpdateClientConnection).
	EventTypeServiceEvent = "AwsServiceEvent"
	// CategoryManagement is the eventCategory of management events.
	CategoryManagement = "Management"

	// IdentityRoot and IdentityIAMUser are userIdentity.type values.
	IdentityRoot    = "Root"
	IdentityIAMUser = "IAMUser"
	// IdentityUnknown is used for a call whose access key belongs to no
	// principal of the account.
	IdentityUnknown = "Unknown"

	// TimeLayout is eventTime's format: UTC, second precision.
	TimeLayout = "2006-01-02T15:04:05Z"
)

// Event is one CloudTrail record. Field order and JSON names follow
// CloudTrail; optional fields are omitted when empty, except
// requestParameters and responseElements, which CloudTrail writes as null
// when absent.
type Event struct {
	EventVersion    string       `json:"eventVersion"`
	UserIdentity    UserIdentity `json:"userIdentity"`
	EventTime       string       `json:"eventTime"`
	EventSource     string       `json:"eventSource"`
	EventName       string       `json:"eventName"`
	AWSRegion       string       `json:"awsRegion"`
	SourceIPAddress string       `json:"sourceIPAddress"`
	UserAgent       string       `json:"userAgent"`
	// ErrorCode and ErrorMessage are set for failed calls only.
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
	// RequestParameters and ResponseElements are JSON objects or null.
	// They never hold secrets (secret keys, policies' confidential parts,
	// file contents).
	RequestParameters json.RawMessage `json:"requestParameters"`
	ResponseElements  json.RawMessage `json:"responseElements"`
	RequestID         string          `json:"requestID"`
	EventID           string          `json:"eventID"`
	ReadOnly          bool            `json:"readOnly"`
	Resources         []Resource      `json:"resources,omitempty"`
	EventType         string          `json:"eventType"`
	APIVersion        string          `json:"apiVersion,omitempty"`
	ManagementEvent   bool            `json:"managementEvent"`
	// RecipientAccountID is the account the record is delivered to.
	RecipientAccountID string `json:"recipientAccountId"`
	// ServiceEventDetails is set for AwsServiceEvent records.
	ServiceEventDetails json.RawMessage `json:"serviceEventDetails,omitempty"`
	EventCategory       string          `json:"eventCategory"`
	// TLSDetails is set when the call came over TLS.
	TLSDetails *TLSDetails `json:"tlsDetails,omitempty"`
}

// UserIdentity says who made the call.
type UserIdentity struct {
	// Type is Root, IAMUser (or Unknown).
	Type string `json:"type"`
	// PrincipalID is the account ID for the root, the user's unique ID
	// (AIDA…) for an IAM user.
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	// UserName is set for IAM users.
	UserName string `json:"userName,omitempty"`
	// InvokedBy names the AWS service that made the call on the
	// principal's behalf (AwsServiceEvent records).
	InvokedBy string `json:"invokedBy,omitempty"`
}

// Resource is one entry of the resources array.
type Resource struct {
	ARN       string `json:"ARN"`
	AccountID string `json:"accountId"`
	// Type is the resource type, e.g. AWS::EFS::FileSystem.
	Type string `json:"type,omitempty"`
}

// TLSDetails describes the TLS connection of a call.
type TLSDetails struct {
	// TLSVersion is "TLSv1.2" or "TLSv1.3".
	TLSVersion string `json:"tlsVersion"`
	// CipherSuite is the OpenSSL-style name CloudTrail uses
	// (TLS_AES_128_GCM_SHA256, ECDHE-RSA-AES128-GCM-SHA256).
	CipherSuite string `json:"cipherSuite"`
	// ClientProvidedHostHeader is the Host header the client sent.
	ClientProvidedHostHeader string `json:"clientProvidedHostHeader"`
}

// FormatTime renders t as eventTime: UTC, truncated to the second.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// EventSource returns the eventSource of a SigV4 signing service:
// "elasticfilesystem" → "elasticfilesystem.amazonaws.com".
func EventSource(signingName string) string { return signingName + ".amazonaws.com" }

// Validate checks the fields every record must have. Append refuses an
// Event that fails it, so the log never holds a half-filled record.
func (e *Event) Validate() error {
	missing := func(name string) error { return fmt.Errorf("audit: event without %s", name) }
	switch {
	case e.EventVersion == "":
		return missing("eventVersion")
	case e.UserIdentity.Type == "":
		return missing("userIdentity.type")
	case e.EventTime == "":
		return missing("eventTime")
	case e.EventSource == "":
		return missing("eventSource")
	case e.EventName == "":
		return missing("eventName")
	case e.AWSRegion == "":
		return missing("awsRegion")
	case e.EventID == "":
		return missing("eventID")
	case e.EventType == "":
		return missing("eventType")
	case e.RecipientAccountID == "":
		return missing("recipientAccountId")
	case e.EventCategory == "":
		return missing("eventCategory")
	}
	// time.Parse accepts fractional seconds the layout lacks: compare the
	// round trip so that only second precision passes.
	if t, err := time.Parse(TimeLayout, e.EventTime); err != nil || t.Format(TimeLayout) != e.EventTime {
		return fmt.Errorf("audit: eventTime %q is not %s", e.EventTime, TimeLayout)
	}
	for _, raw := range []json.RawMessage{e.RequestParameters, e.ResponseElements, e.ServiceEventDetails} {
		if len(raw) > 0 && !json.Valid(raw) {
			return fmt.Errorf("audit: event %s carries invalid JSON", e.EventName)
		}
	}
	return nil
}
