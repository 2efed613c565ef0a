package efscert

import (
	"crypto/x509"
	"encoding/asn1"
	"regexp"
	"time"
	"unicode/utf8"
)

// The private extensions of efs-utils, under Amazon's enterprise arc
// 1.3.6.1.4.1.4843.7.
var (
	OIDAccessPoint  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 4843, 7, 1}
	OIDIAM          = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 4843, 7, 2}
	OIDFileSystemID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 4843, 7, 3}
	OIDClientInfo   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 4843, 7, 4}
)

// Bounds on what a client controls. An extension or field above its bound
// is refused before it is decoded further.
const (
	// maxIAMExtensionBytes bounds extension 7.2 as a whole; it is dominated
	// by the session token.
	maxIAMExtensionBytes = 10 << 10
	// maxSessionTokenBytes bounds an STS session token (they run to a
	// few KiB with session tags).
	maxSessionTokenBytes = 8 << 10
	// maxSmallExtensionBytes bounds extensions 7.1, 7.3 and 7.4.
	maxSmallExtensionBytes = 512
	// maxClientInfoFieldBytes bounds each field of extension 7.4
	// (efs-utils caps the source at 100 characters).
	maxClientInfoFieldBytes = 128
)

// The value forms efs-utils accepts (constants.py: AP_REGEX_PATTERN,
// FS_ID_REGEX_PATTERN, ACCESS_KEY_ID_REGEX_PATTERN,
// SESSION_TOKEN_REGEX_PATTERN), with the file-system ID bounded.
var (
	accessPointIDPattern  = regexp.MustCompile(`^fsap-[0-9a-f]{17}$`)
	fileSystemIDPattern   = regexp.MustCompile(`^fs-[0-9a-f]{8,40}$`)
	accessKeyIDPattern    = regexp.MustCompile(`^[A-Za-z0-9_]{16,128}$`)
	sessionTokenPattern   = regexp.MustCompile(`^[A-Za-z0-9+/=_-]+$`)
	hexSignaturePattern   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	clientInfoTextPattern = regexp.MustCompile(`^[\x20-\x7e]*$`)
)

// Claims are the efs-utils extensions of a certificate, as the client wrote
// them: well-formed, not verified.
type Claims struct {
	// AccessPointID is extension 7.1, "" when absent.
	AccessPointID string
	// FileSystemID is extension 7.3 (required).
	FileSystemID string
	// IAM is extension 7.2, nil when absent (a mount without -o iam).
	IAM *IAMClaim
	// ClientInfo is extension 7.4, nil when absent.
	ClientInfo *ClientInfo
}

// IAMClaim is the content of extension 7.2.
type IAMClaim struct {
	AccessKeyID string
	// Signature is the 64 lower-case hex characters of the SigV4 signature.
	Signature string
	// Date is sigv4DateTime: the X-Amz-Date of the signature, UTC.
	Date time.Time
	// SessionToken is "" when absent.
	SessionToken string
}

// ClientInfo is the content of extension 7.4.
type ClientInfo struct {
	// Source is "unknown", "macos" or the client's configured source.
	Source string
	// Version is the client software's version (efs_utils_version).
	Version string
}

// Parse reads the efs-utils extensions of cert. It checks their DER
// strictly (exact tags, minimal lengths, no trailing data), bounds their
// sizes and checks each value's form; extension 7.3 is required. It refuses
// with an *Error of ReasonMalformed. Other extensions, including unknown
// ones under 1.3.6.1.4.1.4843.7, are ignored. Parse does not verify
// anything; see Verify.
func Parse(cert *x509.Certificate) (Claims, error) {
	var c Claims
	var sawFS bool
	for _, ext := range cert.Extensions {
		var err *Error
		switch {
		case ext.Id.Equal(OIDAccessPoint):
			c.AccessPointID, err = parseAccessPoint(ext.Value)
		case ext.Id.Equal(OIDIAM):
			c.IAM, err = parseIAM(ext.Value)
		case ext.Id.Equal(OIDFileSystemID):
			c.FileSystemID, err = parseFileSystemID(ext.Value)
			sawFS = true
		case ext.Id.Equal(OIDClientInfo):
			c.ClientInfo, err = parseClientInfo(ext.Value)
		}
		if err != nil {
			return Claims{}, err
		}
	}
	if !sawFS {
		return Claims{}, refusef(ReasonMalformed, "no file-system ID extension (1.3.6.1.4.1.4843.7.3)")
	}
	return c, nil
}

func parseAccessPoint(der []byte) (string, *Error) {
	s, err := parseStringExtension(der, "access point (7.1)")
	if err != nil {
		return "", err
	}
	if !accessPointIDPattern.MatchString(s) {
		return "", refusef(ReasonMalformed, "access point (7.1): %s is not an access point ID", printable(s))
	}
	return s, nil
}

func parseFileSystemID(der []byte) (string, *Error) {
	s, err := parseStringExtension(der, "file-system ID (7.3)")
	if err != nil {
		return "", err
	}
	if !fileSystemIDPattern.MatchString(s) {
		return "", refusef(ReasonMalformed, "file-system ID (7.3): %s is not a file-system ID", printable(s))
	}
	return s, nil
}

// parseStringExtension reads an extension whose whole value is one
// UTF8String.
func parseStringExtension(der []byte, what string) (string, *Error) {
	if len(der) > maxSmallExtensionBytes {
		return "", refusef(ReasonMalformed, "%s: %d bytes, more than %d", what, len(der), maxSmallExtensionBytes)
	}
	s, rest, err := readUTF8String(der)
	if err != nil {
		return "", refusef(ReasonMalformed, "%s: %s", what, err.Message)
	}
	if len(rest) != 0 {
		return "", refusef(ReasonMalformed, "%s: %d bytes of trailing data", what, len(rest))
	}
	return s, nil
}

func parseIAM(der []byte) (*IAMClaim, *Error) {
	const what = "IAM (7.2)"
	if len(der) > maxIAMExtensionBytes {
		return nil, refusef(ReasonMalformed, "%s: %d bytes, more than %d", what, len(der), maxIAMExtensionBytes)
	}
	body, rest, err := readElement(der, asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, refusef(ReasonMalformed, "%s: %s", what, err.Message)
	}
	if len(rest) != 0 {
		return nil, refusef(ReasonMalformed, "%s: trailing data after the SEQUENCE", what)
	}
	var c IAMClaim
	if c.AccessKeyID, body, err = readUTF8String(body); err != nil {
		return nil, refusef(ReasonMalformed, "%s: accessKeyId: %s", what, err.Message)
	}
	if !accessKeyIDPattern.MatchString(c.AccessKeyID) {
		return nil, refusef(ReasonMalformed, "%s: accessKeyId %s is not an access key ID", what, printable(c.AccessKeyID))
	}
	var sig []byte
	if sig, body, err = readElement(body, asn1.ClassUniversal, asn1.TagOctetString, false); err != nil {
		return nil, refusef(ReasonMalformed, "%s: signature: %s", what, err.Message)
	}
	if !hexSignaturePattern.Match(sig) {
		return nil, refusef(ReasonMalformed, "%s: signature is not 64 lower-case hex characters", what)
	}
	c.Signature = string(sig)
	var date []byte
	if date, body, err = readElement(body, asn1.ClassUniversal, asn1.TagUTCTime, false); err != nil {
		return nil, refusef(ReasonMalformed, "%s: sigv4DateTime: %s", what, err.Message)
	}
	if c.Date, err = parseUTCTime(date); err != nil {
		return nil, refusef(ReasonMalformed, "%s: sigv4DateTime: %s", what, err.Message)
	}
	if len(body) > 0 {
		var tok []byte
		if tok, body, err = readElement(body, asn1.ClassContextSpecific, 0, true); err != nil {
			return nil, refusef(ReasonMalformed, "%s: sessionToken: %s", what, err.Message)
		}
		var inner []byte
		if c.SessionToken, inner, err = readUTF8String(tok); err != nil {
			return nil, refusef(ReasonMalformed, "%s: sessionToken: %s", what, err.Message)
		}
		if len(inner) != 0 {
			return nil, refusef(ReasonMalformed, "%s: sessionToken: trailing data", what)
		}
		if len(c.SessionToken) > maxSessionTokenBytes || !sessionTokenPattern.MatchString(c.SessionToken) {
			return nil, refusef(ReasonMalformed, "%s: sessionToken is not a session token", what)
		}
	}
	if len(body) != 0 {
		return nil, refusef(ReasonMalformed, "%s: unexpected element after sessionToken", what)
	}
	return &c, nil
}

func parseClientInfo(der []byte) (*ClientInfo, *Error) {
	const what = "client info (7.4)"
	if len(der) > maxSmallExtensionBytes {
		return nil, refusef(ReasonMalformed, "%s: %d bytes, more than %d", what, len(der), maxSmallExtensionBytes)
	}
	body, rest, err := readElement(der, asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, refusef(ReasonMalformed, "%s: %s", what, err.Message)
	}
	if len(rest) != 0 {
		return nil, refusef(ReasonMalformed, "%s: trailing data after the SEQUENCE", what)
	}
	var ci ClientInfo
	for _, f := range []struct {
		name string
		dst  *string
	}{{"source", &ci.Source}, {"efs_utils_version", &ci.Version}} {
		if *f.dst, body, err = readUTF8String(body); err != nil {
			return nil, refusef(ReasonMalformed, "%s: %s: %s", what, f.name, err.Message)
		}
		if len(*f.dst) > maxClientInfoFieldBytes || !clientInfoTextPattern.MatchString(*f.dst) {
			return nil, refusef(ReasonMalformed, "%s: %s is not printable ASCII of at most %d characters", what, f.name, maxClientInfoFieldBytes)
		}
	}
	if len(body) != 0 {
		return nil, refusef(ReasonMalformed, "%s: unexpected element after efs_utils_version", what)
	}
	return &ci, nil
}

// readElement reads one DER element of the given class, tag and form from
// the front of der and returns its content and what follows it.
// encoding/asn1 refuses indefinite and non-minimal lengths.
func readElement(der []byte, class, tag int, compound bool) (content, rest []byte, e *Error) {
	if len(der) == 0 {
		return nil, nil, &Error{Reason: ReasonMalformed, Message: "missing"}
	}
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(der, &raw)
	if err != nil {
		return nil, nil, &Error{Reason: ReasonMalformed, Message: "bad DER", Err: err}
	}
	if raw.Class != class || raw.Tag != tag || raw.IsCompound != compound {
		return nil, nil, refusef(ReasonMalformed, "unexpected element (class %d, tag %d)", raw.Class, raw.Tag)
	}
	return raw.Bytes, rest, nil
}

// readUTF8String reads a UTF8String holding valid UTF-8.
func readUTF8String(der []byte) (string, []byte, *Error) {
	b, rest, err := readElement(der, asn1.ClassUniversal, asn1.TagUTF8String, false)
	if err != nil {
		return "", nil, err
	}
	if !utf8.Valid(b) {
		return "", nil, &Error{Reason: ReasonMalformed, Message: "UTF8String is not valid UTF-8"}
	}
	return string(b), rest, nil
}

// parseUTCTime reads the content of a UTCTime in the only form DER allows,
// YYMMDDHHMMSSZ, with RFC 5280 §4.1.2.5.1's century rule (50–99 → 19xx).
func parseUTCTime(b []byte) (time.Time, *Error) {
	if len(b) != len("060102150405Z") {
		return time.Time{}, &Error{Reason: ReasonMalformed, Message: "UTCTime is not YYMMDDHHMMSSZ"}
	}
	t, err := time.Parse("060102150405Z", string(b))
	if err != nil {
		return time.Time{}, &Error{Reason: ReasonMalformed, Message: "UTCTime is not YYMMDDHHMMSSZ"}
	}
	if t.Year() >= 2050 {
		t = t.AddDate(-100, 0, 0)
	}
	return t.UTC(), nil
}
