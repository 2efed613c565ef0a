package configsvc

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shelf-efs/shelf/internal/control"
)

// Rule is a Config rule, field for field AWS Config's ConfigRule.
type Rule struct {
	Name        string `json:"name"`
	ARN         string `json:"arn"`
	ID          string `json:"id"`
	Description string `json:"descr,omitempty"`
	Scope       Scope  `json:"scope"`
	Source      Source `json:"source"`
	// InputParameters is the JSON object text the rule was put with.
	InputParameters           string    `json:"params,omitempty"`
	MaximumExecutionFrequency string    `json:"freq,omitempty"`
	State                     string    `json:"state"`
	Created                   time.Time `json:"created"`
}

// Scope limits the resources a rule evaluates.
type Scope struct {
	ComplianceResourceTypes []string `json:"types,omitempty"`
	TagKey                  string   `json:"tag_key,omitempty"`
	TagValue                string   `json:"tag_value,omitempty"`
	ComplianceResourceID    string   `json:"resource_id,omitempty"`
}

// Source says what evaluates a rule.
type Source struct {
	// Owner is AWS (a managed rule named by SourceIdentifier) or
	// CUSTOM_POLICY (a CEL expression in CustomPolicyDetails).
	Owner            string         `json:"owner"`
	SourceIdentifier string         `json:"identifier,omitempty"`
	SourceDetails    []SourceDetail `json:"details,omitempty"`
	CustomPolicy     *CustomPolicy  `json:"policy,omitempty"`
}

// SourceDetail is kept as given (shelf evaluates on every change and
// periodically, whatever it says).
type SourceDetail struct {
	EventSource               string `json:"event_source,omitempty"`
	MessageType               string `json:"message_type,omitempty"`
	MaximumExecutionFrequency string `json:"freq,omitempty"`
}

// CustomPolicy is the policy of a CUSTOM_POLICY rule.
type CustomPolicy struct {
	PolicyRuntime          string `json:"runtime"`
	PolicyText             string `json:"text"`
	EnableDebugLogDelivery bool   `json:"debug,omitempty"`
}

// Rule sources, states and limits.
const (
	OwnerAWS          = "AWS"
	OwnerCustomPolicy = "CUSTOM_POLICY"
	OwnerCustomLambda = "CUSTOM_LAMBDA"
	RuleStateActive   = "ACTIVE"
	// PolicyRuntimeCEL is the PolicyRuntime of CEL rules.
	PolicyRuntimeCEL = "cel-1.0"

	MaxRules              = 1000
	MaxRuleNameChars      = 128
	MaxDescriptionChars   = 256
	MaxInputParamChars    = 1024
	MaxPolicyTextChars    = 10000
	MaxScopeResourceTypes = 100
)

var frequencies = []string{"One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours"}

// InvalidError is a rule or request that AWS Config would refuse; Code is
// the AWS Config error code (InvalidParameterValueException, …).
type InvalidError struct {
	Code    string
	Message string
}

func (e *InvalidError) Error() string { return e.Code + ": " + e.Message }

func invalid(format string, args ...any) *InvalidError {
	return &InvalidError{Code: "InvalidParameterValueException", Message: fmt.Sprintf(format, args...)}
}

// paramKind is the type of a managed rule's parameter.
type paramKind int

const (
	pString  paramKind = iota
	pStrings           // comma-separated list
	pIDs               // comma-separated list of POSIX IDs (uint32)
	pPaths             // comma-separated list of absolute paths
	pInt               // a positive integer
	pBool              // true or false
	pTagMap            // a JSON object of tag keys to values
	pUnit              // hours or days
)

// params are the parsed parameters of a managed rule.
type params struct {
	strs  map[string][]string
	ids   map[string][]uint32
	ints  map[string]int
	bools map[string]bool
	tags  map[string]map[string]string
}

func (p params) str(name string) string {
	if v := p.strs[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// verdict is the outcome of evaluating one resource.
type verdict struct {
	Compliance string
	Annotation string
}

func ok() verdict { return verdict{Compliance: Compliant} }
func bad(format string, args ...any) verdict {
	return verdict{NonCompliant, truncate(fmt.Sprintf(format, args...), 256)}
}
func notApplicable(why string) verdict { return verdict{NotApplicable, why} }

// related gives a rule the current items of other resources.
type related func(k resourceKey) *Item

// managedRule is one AWS managed rule that shelf evaluates.
type managedRule struct {
	// Identifier is the SourceIdentifier (EFS_ENCRYPTED_CHECK); the rule's
	// name in the AWS documentation is its lower-case, dashed form.
	Identifier string
	Types      []string
	Params     map[string]paramKind
	eval       func(it *Item, p params, rel related) verdict
}

// automaticBackupRetentionDays is how long EFS automatic backups keep a
// recovery point (the default backup plan of EFS automatic backups).
const automaticBackupRetentionDays = 35

// maxRecoveryPointAgeHours bounds recoveryPointAgeValue in hours (AWS: 744).
const maxRecoveryPointAgeHours = 744

var fsOnly = []string{control.ResourceTypeFileSystem}
var apOnly = []string{control.ResourceTypeAccessPoint}

// managedRules are the EFS managed rules (AWS Config developer guide, the
// rule pages named after them).
var managedRules = map[string]*managedRule{}

func init() {
	for _, r := range []*managedRule{
		{Identifier: "EFS_ENCRYPTED_CHECK", Types: fsOnly, Params: map[string]paramKind{"KmsKeyId": pString}, eval: evalEncrypted("KmsKeyId")},
		{Identifier: "EFS_FILESYSTEM_CT_ENCRYPTED", Types: fsOnly, Params: map[string]paramKind{"kmsKeyArns": pStrings}, eval: evalEncrypted("kmsKeyArns")},
		{Identifier: "EFS_ACCESS_POINT_ENFORCE_ROOT_DIRECTORY", Types: apOnly, Params: map[string]paramKind{"approvedDirectories": pPaths}, eval: evalRootDirectory},
		{Identifier: "EFS_ACCESS_POINT_ENFORCE_USER_IDENTITY", Types: apOnly, Params: map[string]paramKind{"approvedUids": pIDs, "approvedGids": pIDs}, eval: evalUserIdentity},
		{Identifier: "EFS_IN_BACKUP_PLAN", Types: fsOnly, Params: map[string]paramKind{}, eval: evalInBackupPlan},
		{Identifier: "EFS_RESOURCES_PROTECTED_BY_BACKUP_PLAN", Types: fsOnly, Params: map[string]paramKind{
			"resourceTags": pTagMap, "resourceId": pString, "crossRegionList": pStrings, "crossAccountList": pStrings,
			"minRetentionDays": pInt, "maxRetentionDays": pInt, "backupVaultLockCheck": pBool}, eval: evalProtectedByBackupPlan},
		{Identifier: "EFS_AUTOMATIC_BACKUPS_ENABLED", Types: fsOnly, Params: map[string]paramKind{}, eval: evalAutomaticBackups},
		{Identifier: "EFS_LAST_BACKUP_RECOVERY_POINT_CREATED", Types: fsOnly, Params: map[string]paramKind{
			"resourceTags": pTagMap, "resourceId": pString, "recoveryPointAgeValue": pInt, "recoveryPointAgeUnit": pUnit}, eval: evalLastRecoveryPoint},
		{Identifier: "EFS_MOUNT_TARGET_PUBLIC_ACCESSIBLE", Types: fsOnly, Params: map[string]paramKind{}, eval: evalMountTargetPublic},
		{Identifier: "EFS_FILE_SYSTEM_TAGGED", Types: fsOnly, Params: map[string]paramKind{"requiredKeyTags": pStrings}, eval: evalTagged},
		{Identifier: "EFS_ACCESS_POINT_TAGGED", Types: apOnly, Params: map[string]paramKind{"requiredKeyTags": pStrings}, eval: evalTagged},
	} {
		managedRules[r.Identifier] = r
	}
}

// ManagedRuleIdentifiers lists the managed rules shelf evaluates.
func ManagedRuleIdentifiers() []string {
	out := make([]string, 0, len(managedRules))
	for id := range managedRules {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// lookupManaged finds a managed rule by its SourceIdentifier; the
// documentation's dashed lower-case name is accepted too.
func lookupManaged(id string) *managedRule {
	return managedRules[strings.ToUpper(strings.ReplaceAll(id, "-", "_"))]
}

const maxParamListItems = 100

// parseParams checks a rule's InputParameters against the parameters of
// managed rule r (r nil: a custom rule, whose parameters are free-form
// strings) and parses them.
func parseParams(text string, r *managedRule) (params, map[string]string, error) {
	p := params{strs: map[string][]string{}, ids: map[string][]uint32{}, ints: map[string]int{},
		bools: map[string]bool{}, tags: map[string]map[string]string{}}
	raw := map[string]string{}
	if strings.TrimSpace(text) == "" {
		return p, raw, nil
	}
	if len(text) > MaxInputParamChars {
		return p, nil, invalid("InputParameters is longer than %d characters.", MaxInputParamChars)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &m); err != nil || m == nil {
		return p, nil, invalid("InputParameters must be a JSON object whose values are strings.")
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	var unknown []string
	for _, name := range names {
		var s string
		if err := json.Unmarshal(m[name], &s); err != nil {
			// AWS Config takes parameter values as strings; numbers and
			// booleans are accepted in their JSON form.
			v := strings.TrimSpace(string(m[name]))
			if _, err := strconv.ParseFloat(v, 64); err != nil && v != "true" && v != "false" {
				return p, nil, invalid("The value of parameter %s must be a string.", clip(name))
			}
			s = v
		}
		raw[name] = s
		if r == nil {
			continue
		}
		kind, known := r.Params[name]
		if !known {
			unknown = append(unknown, clip(name))
			continue
		}
		if strings.TrimSpace(s) == "" {
			continue // an empty optional parameter is no parameter
		}
		if err := p.parse(name, kind, s); err != nil {
			return p, nil, err
		}
	}
	if len(unknown) > 0 {
		return p, nil, invalid("Unknown parameters provided in the input parameters for the rule %s: %s.", r.Identifier, strings.Join(unknown, ", "))
	}
	if r != nil && r.Identifier == "EFS_RESOURCES_PROTECTED_BY_BACKUP_PLAN" {
		lo, hasLo := p.ints["minRetentionDays"]
		hi, hasHi := p.ints["maxRetentionDays"]
		if hasLo && hasHi && lo > hi {
			return p, nil, invalid("minRetentionDays (%d) is greater than maxRetentionDays (%d).", lo, hi)
		}
	}
	if v, ok := p.ints["recoveryPointAgeValue"]; ok && p.str("recoveryPointAgeUnit") == "hours" && v > maxRecoveryPointAgeHours {
		return p, nil, invalid("recoveryPointAgeValue must be at most %d hours.", maxRecoveryPointAgeHours)
	}
	return p, raw, nil
}

func clip(s string) string { return truncate(s, 64) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (p params) parse(name string, kind paramKind, s string) error {
	switch kind {
	case pString:
		p.strs[name] = []string{strings.TrimSpace(s)}
	case pStrings, pPaths:
		l := splitList(s)
		if len(l) > maxParamListItems {
			return invalid("Parameter %s has more than %d items.", name, maxParamListItems)
		}
		if kind == pPaths {
			for _, d := range l {
				if !strings.HasPrefix(d, "/") || control.ValidateRootPath(d) != nil {
					return invalid("Parameter %s: %q is not an absolute directory path.", name, clip(d))
				}
			}
		}
		p.strs[name] = l
	case pIDs:
		l := splitList(s)
		if len(l) > maxParamListItems {
			return invalid("Parameter %s has more than %d items.", name, maxParamListItems)
		}
		for _, f := range l {
			n, err := strconv.ParseUint(f, 10, 32)
			if err != nil {
				return invalid("Parameter %s must be a comma-separated list of POSIX IDs (0 to 4294967295); %q is not one.", name, clip(f))
			}
			p.ids[name] = append(p.ids[name], uint32(n))
		}
	case pInt:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 36500 {
			return invalid("Parameter %s must be an integer from 1 to 36500.", name)
		}
		p.ints[name] = n
	case pBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			p.bools[name] = true
		case "false":
			p.bools[name] = false
		default:
			return invalid("Parameter %s must be true or false.", name)
		}
	case pUnit:
		u := strings.ToLower(strings.TrimSpace(s))
		if u != "hours" && u != "days" {
			return invalid("Parameter %s must be hours or days.", name)
		}
		p.strs[name] = []string{u}
	case pTagMap:
		var m map[string]string
		if err := json.Unmarshal([]byte(s), &m); err != nil || len(m) > 50 {
			return invalid("Parameter %s must be a JSON object of at most 50 tag keys and string values.", name)
		}
		p.tags[name] = m
	}
	return nil
}

// fsView is what the file-system rules read from an item.
type fsView struct {
	Encrypted bool   `json:"Encrypted"`
	KmsKeyID  string `json:"KmsKeyId"`
}

func decode[T any](raw json.RawMessage) (T, bool) {
	var v T
	err := json.Unmarshal(raw, &v)
	return v, err == nil
}

// keyMatches reports whether a file system's key (a key ARN) is the key
// want names, given as a key ARN or key ID.
func keyMatches(have, want string) bool {
	return have == want || strings.HasSuffix(have, ":key/"+want)
}

func evalEncrypted(param string) func(*Item, params, related) verdict {
	return func(it *Item, p params, _ related) verdict {
		f, okk := decode[fsView](it.Configuration)
		if !okk {
			return bad("The configuration of the file system cannot be read.")
		}
		if !f.Encrypted {
			return bad("The file system is not encrypted at rest.")
		}
		want := p.strs[param]
		if len(want) == 0 {
			return ok()
		}
		for _, w := range want {
			if keyMatches(f.KmsKeyID, w) {
				return ok()
			}
		}
		return bad("The file system is encrypted with %s, which is not an approved key.", f.KmsKeyID)
	}
}

type apView struct {
	PosixUser *struct {
		UID           uint32   `json:"Uid"`
		GID           uint32   `json:"Gid"`
		SecondaryGIDs []uint32 `json:"SecondaryGids"`
	} `json:"PosixUser"`
	RootDirectory struct {
		Path string `json:"Path"`
	} `json:"RootDirectory"`
}

func evalRootDirectory(it *Item, p params, _ related) verdict {
	a, okk := decode[apView](it.Configuration)
	if !okk {
		return bad("The configuration of the access point cannot be read.")
	}
	path := a.RootDirectory.Path
	if path == "" || path == "/" {
		return bad("The access point's root directory is the file system's root (/).")
	}
	if approved := p.strs["approvedDirectories"]; len(approved) > 0 {
		clean := strings.TrimSuffix(path, "/")
		for _, d := range approved {
			if strings.TrimSuffix(d, "/") == clean {
				return ok()
			}
		}
		return bad("The access point's root directory %s is not an approved directory.", path)
	}
	return ok()
}

func evalUserIdentity(it *Item, p params, _ related) verdict {
	a, okk := decode[apView](it.Configuration)
	if !okk {
		return bad("The configuration of the access point cannot be read.")
	}
	if a.PosixUser == nil {
		return bad("The access point does not enforce a POSIX user identity.")
	}
	if uids := p.ids["approvedUids"]; len(uids) > 0 && !slices.Contains(uids, a.PosixUser.UID) {
		return bad("The access point's user ID %d is not approved.", a.PosixUser.UID)
	}
	if gids := p.ids["approvedGids"]; len(gids) > 0 {
		for _, g := range append([]uint32{a.PosixUser.GID}, a.PosixUser.SecondaryGIDs...) {
			if !slices.Contains(gids, g) {
				return bad("The access point's group ID %d is not approved.", g)
			}
		}
	}
	return ok()
}

func backupStatus(it *Item) string {
	b, okk := decode[struct {
		Status string `json:"Status"`
	}](it.SupplementaryConfiguration["BackupPolicy"])
	if !okk {
		return ""
	}
	return b.Status
}

func evalInBackupPlan(it *Item, _ params, _ related) verdict {
	if backupStatus(it) != control.StatusEnabled {
		return bad("The file system is in no backup plan: automatic backups are %s.", strings.ToLower(backupStatus(it)))
	}
	return ok()
}

func evalAutomaticBackups(it *Item, _ params, _ related) verdict {
	switch backupStatus(it) {
	case control.StatusEnabled, control.StatusEnabling:
		return ok()
	}
	return bad("Automatic backups are %s (BackupPolicy.Status %s).", strings.ToLower(backupStatus(it)), backupStatus(it))
}

// inResourceScope applies the resourceId and resourceTags parameters of
// the backup rules.
func inResourceScope(it *Item, p params) bool {
	if id := p.str("resourceId"); id != "" && id != it.ResourceID && id != it.ARN {
		return false
	}
	for k, v := range p.tags["resourceTags"] {
		if have, okk := it.Tags[k]; !okk || have != v {
			return false
		}
	}
	return true
}

func evalProtectedByBackupPlan(it *Item, p params, rel related) verdict {
	if !inResourceScope(it, p) {
		return notApplicable("The file system is outside the rule's resourceId/resourceTags scope.")
	}
	if v := evalInBackupPlan(it, p, rel); v.Compliance != Compliant {
		return v
	}
	// The only backup plan is EFS automatic backups: daily, kept 35 days,
	// in the file system's own region and account, in a vault without a
	// lock.
	if n, has := p.ints["minRetentionDays"]; has && automaticBackupRetentionDays < n {
		return bad("Recovery points are kept %d days, less than minRetentionDays %d.", automaticBackupRetentionDays, n)
	}
	if n, has := p.ints["maxRetentionDays"]; has && automaticBackupRetentionDays > n {
		return bad("Recovery points are kept %d days, more than maxRetentionDays %d.", automaticBackupRetentionDays, n)
	}
	if len(p.strs["crossRegionList"]) > 0 {
		return bad("No backup plan copies recovery points to another region.")
	}
	if len(p.strs["crossAccountList"]) > 0 {
		return bad("No backup plan copies recovery points to another account.")
	}
	if p.bools["backupVaultLockCheck"] {
		return bad("The automatic-backup vault has no vault lock.")
	}
	return ok()
}

func evalLastRecoveryPoint(it *Item, p params, _ related) verdict {
	if !inResourceScope(it, p) {
		return notApplicable("The file system is outside the rule's resourceId/resourceTags scope.")
	}
	n, unit := 1, "days"
	if v, has := p.ints["recoveryPointAgeValue"]; has {
		n = v
	}
	if u := p.str("recoveryPointAgeUnit"); u != "" {
		unit = u
	}
	return bad("No recovery point was created in the last %d %s: shelf keeps no AWS Backup recovery points.", n, unit)
}

func evalMountTargetPublic(it *Item, _ params, rel related) verdict {
	for _, r := range it.Relationships {
		if r.ResourceType != control.ResourceTypeMountTarget {
			continue
		}
		mt := rel(resourceKey{r.ResourceType, r.ResourceID})
		if mt == nil {
			continue
		}
		sn, okk := decode[struct {
			SubnetID string `json:"SubnetId"`
			Public   bool   `json:"MapPublicIpOnLaunch"`
		}](mt.SupplementaryConfiguration["Subnet"])
		if okk && sn.Public {
			return bad("Mount target %s is in subnet %s, which assigns public addresses.", mt.ResourceID, sn.SubnetID)
		}
	}
	return ok()
}

func evalTagged(it *Item, p params, _ related) verdict {
	req := p.strs["requiredKeyTags"]
	if len(req) == 0 {
		if len(it.Tags) == 0 {
			return bad("The resource has no tags.")
		}
		return ok()
	}
	for _, k := range req {
		if _, has := it.Tags[k]; !has {
			return bad("The resource has no tag %s.", k)
		}
	}
	return ok()
}
