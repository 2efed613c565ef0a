package api

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shelf-efs/shelf/internal/control"
)

// Constraints of the EFS API model (efs-service-2.json, plus the members
// of the newer model the Go SDK is generated from). Values that break them
// are answered with ValidationException and the message EFS's front end
// writes ("1 validation error detected: Value 'x' at 'fileSystemId' failed
// to satisfy constraint: …"), before anything is authorized or changed.
const (
	patFileSystemID  = `^(arn:aws[-a-z]*:elasticfilesystem:[0-9a-z-:]+:file-system/fs-[0-9a-f]{8,40}|fs-[0-9a-f]{8,40})$`
	patAccessPointID = `^(arn:aws[-a-z]*:elasticfilesystem:[0-9a-z-:]+:access-point/fsap-[0-9a-f]{8,40}|fsap-[0-9a-f]{8,40})$`
	patMountTargetID = `^fsmt-[0-9a-f]{8,40}$`
	patResourceID    = `^(arn:aws[-a-z]*:elasticfilesystem:[0-9a-z-:]+:(access-point/fsap|file-system/fs)-[0-9a-f]{8,40}|fs(ap)?-[0-9a-f]{8,40})$`
	patSubnetID      = `^subnet-[0-9a-f]{8,40}$`
	patSecurityGroup = `^sg-[0-9a-f]{8,40}`
	patIPAddress     = `^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$`
	patKmsKeyID      = `^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|alias/[a-zA-Z0-9/_-]+|(arn:aws[-a-z]*:kms:[a-z0-9-]+:\d{12}:((key/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})|(key/mrk-[0-9a-f]{32})|(alias/[a-zA-Z0-9/_-]+))))$`
	patTagKey        = `^(?![aA]{1}[wW]{1}[sS]{1}:)([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$`
	patTagValue      = `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`
	patPath          = "^(\\/|(\\/(?!\\.)+[^$#<>;`|&?{}^*/\\n]+){1,4})$"
	patPermissions   = `^[0-7]{3,4}$`
	patAnyLine       = `.+`
	patPolicy        = `[\s\S]+`
	patRegionName    = `^[a-z]{2}-((iso[a-z]{0,1}-)|(gov-)){0,1}[a-z]+-{0,1}[0-9]{0,1}$`
	patRoleARN       = `arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`
	maxUint32        = 4294967295
)

var regexps = map[string]*regexp.Regexp{}

func init() {
	for _, p := range []string{patFileSystemID, patAccessPointID, patMountTargetID, patResourceID, patSubnetID,
		patSecurityGroup, patIPAddress, patKmsKeyID, patTagValue, patPermissions, patRegionName} {
		regexps[p] = regexp.MustCompile(p)
	}
	// The role pattern is not anchored in the model; Coral matches whole
	// strings.
	regexps[patRoleARN] = regexp.MustCompile(`^(?:` + patRoleARN + `)$`)
}

// Enums of the model.
var (
	enumPerformanceMode = []string{"generalPurpose", "maxIO"}
	enumThroughputMode  = []string{"bursting", "provisioned", "elastic"}
	enumTransitionToIA  = []string{"AFTER_7_DAYS", "AFTER_14_DAYS", "AFTER_30_DAYS", "AFTER_60_DAYS", "AFTER_90_DAYS",
		"AFTER_1_DAY", "AFTER_180_DAYS", "AFTER_270_DAYS", "AFTER_365_DAYS"}
	enumTransitionToArchive = []string{"AFTER_1_DAY", "AFTER_7_DAYS", "AFTER_14_DAYS", "AFTER_30_DAYS", "AFTER_60_DAYS",
		"AFTER_90_DAYS", "AFTER_180_DAYS", "AFTER_270_DAYS", "AFTER_365_DAYS"}
	enumTransitionToPrimary = []string{"AFTER_1_ACCESS"}
	enumStatus              = []string{"ENABLED", "ENABLING", "DISABLED", "DISABLING"}
	enumResourceIDType      = []string{"LONG_ID", "SHORT_ID"}
	enumProtection          = []string{"ENABLED", "DISABLED", "REPLICATING"}
	enumIPAddressType       = []string{"IPV4_ONLY", "IPV6_ONLY", "DUAL_STACK"}
	enumDeletionMode        = []string{"ALL_CONFIGURATIONS", "LOCAL_CONFIGURATION_ONLY"}
)

// validator collects constraint violations in the order found.
type validator struct{ errs []string }

func (v *validator) add(value any, at, constraint string) {
	var val string
	switch x := value.(type) {
	case nil:
		val = "Value null"
	case string:
		if len(x) > 100 {
			x = x[:100] + "…"
		}
		val = fmt.Sprintf("Value '%s'", x)
	default:
		val = fmt.Sprintf("Value '%v'", x)
	}
	v.errs = append(v.errs, fmt.Sprintf("%s at '%s' failed to satisfy constraint: %s", val, at, constraint))
}

func (v *validator) err() error {
	switch len(v.errs) {
	case 0:
		return nil
	case 1:
		return &apiError{code: "ValidationException", status: 400, msg: "1 validation error detected: " + v.errs[0]}
	}
	return &apiError{code: "ValidationException", status: 400,
		msg: fmt.Sprintf("%d validation errors detected: %s", len(v.errs), strings.Join(v.errs, "; "))}
}

func (v *validator) required(present bool, at string) bool {
	if !present {
		v.add(nil, at, "Member must not be null")
	}
	return present
}

// str checks a string: length bounds in characters (max < 0: none) and a
// pattern ("" none).
func (v *validator) str(s *string, at string, minLen, maxLen int, pattern string) {
	if s == nil {
		return
	}
	n := utf8.RuneCountInString(*s)
	if n < minLen {
		v.add(*s, at, fmt.Sprintf("Member must have length greater than or equal to %d", minLen))
		return
	}
	if maxLen >= 0 && n > maxLen {
		v.add(*s, at, fmt.Sprintf("Member must have length less than or equal to %d", maxLen))
		return
	}
	if pattern != "" && !matches(pattern, *s) {
		v.add(*s, at, "Member must satisfy regular expression pattern: "+pattern)
	}
}

func (v *validator) enum(s *string, at string, values []string) {
	if s == nil {
		return
	}
	for _, x := range values {
		if *s == x {
			return
		}
	}
	v.add(*s, at, "Member must satisfy enum value set: ["+strings.Join(values, ", ")+"]")
}

func (v *validator) long(n *int64, at string, minV, maxV int64) {
	if n == nil {
		return
	}
	if *n < minV {
		v.add(*n, at, fmt.Sprintf("Member must have value greater than or equal to %d", minV))
	} else if *n > maxV {
		v.add(*n, at, fmt.Sprintf("Member must have value less than or equal to %d", maxV))
	}
}

func (v *validator) listLen(n int, at string, minLen, maxLen int) {
	if n < minLen {
		v.add(fmt.Sprintf("[%d items]", n), at, fmt.Sprintf("Member must have length greater than or equal to %d", minLen))
	} else if maxLen >= 0 && n > maxLen {
		v.add(fmt.Sprintf("[%d items]", n), at, fmt.Sprintf("Member must have length less than or equal to %d", maxLen))
	}
}

// matches implements the model's patterns, including the three that use
// look-ahead (which Go's regexp lacks) and Java's "." (no line
// terminators).
func matches(pattern, s string) bool {
	switch pattern {
	case patAnyLine:
		return s != "" && !strings.ContainsAny(s, "\n\r\u0085\u2028\u2029")
	case patPolicy:
		return s != ""
	case patTagKey:
		if len(s) >= 4 && strings.EqualFold(s[:4], "aws:") {
			return false
		}
		return s != "" && tagChars(s)
	case patPath:
		return control.ValidateRootPath(s) == nil
	}
	re, ok := regexps[pattern]
	if !ok {
		panic("api: no regexp for " + pattern)
	}
	return re.MatchString(s)
}

func tagChars(s string) bool {
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.In(r, unicode.Z) || unicode.IsNumber(r) || strings.ContainsRune("_.:/=+-@", r)) {
			return false
		}
	}
	return utf8.ValidString(s)
}

func (v *validator) tags(tags []tagIn, at string) {
	for i, t := range tags {
		p := fmt.Sprintf("%s.%d.member", at, i+1)
		if v.required(t.Key != nil, p+".key") {
			v.str(t.Key, p+".key", 1, 128, patTagKey)
		}
		if v.required(t.Value != nil, p+".value") {
			v.str(t.Value, p+".value", 0, 256, patTagValue)
		}
	}
}

func (v *validator) tagKeys(keys []string, at string) {
	v.listLen(len(keys), at, 1, 50)
	for i := range keys {
		v.str(&keys[i], fmt.Sprintf("%s.%d.member", at, i+1), 1, 128, patTagKey)
	}
}
