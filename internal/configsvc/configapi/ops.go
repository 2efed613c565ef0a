package configapi

import (
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shelf-efs/shelf/internal/configsvc"
)

// Wire shapes of the AWS Config API (2014-11-12).

type scopeWire struct {
	ComplianceResourceTypes []string `json:"ComplianceResourceTypes,omitempty"`
	TagKey                  string   `json:"TagKey,omitempty"`
	TagValue                string   `json:"TagValue,omitempty"`
	ComplianceResourceID    string   `json:"ComplianceResourceId,omitempty"`
}

type sourceDetailWire struct {
	EventSource               string `json:"EventSource,omitempty"`
	MessageType               string `json:"MessageType,omitempty"`
	MaximumExecutionFrequency string `json:"MaximumExecutionFrequency,omitempty"`
}

type customPolicyWire struct {
	PolicyRuntime          string `json:"PolicyRuntime"`
	PolicyText             string `json:"PolicyText"`
	EnableDebugLogDelivery bool   `json:"EnableDebugLogDelivery,omitempty"`
}

type sourceWire struct {
	Owner               string             `json:"Owner"`
	SourceIdentifier    string             `json:"SourceIdentifier,omitempty"`
	SourceDetails       []sourceDetailWire `json:"SourceDetails,omitempty"`
	CustomPolicyDetails *customPolicyWire  `json:"CustomPolicyDetails,omitempty"`
}

type modeWire struct {
	Mode string `json:"Mode"`
}

type configRuleWire struct {
	ConfigRuleName            string     `json:"ConfigRuleName,omitempty"`
	ConfigRuleArn             string     `json:"ConfigRuleArn,omitempty"`
	ConfigRuleID              string     `json:"ConfigRuleId,omitempty"`
	Description               string     `json:"Description,omitempty"`
	Scope                     *scopeWire `json:"Scope,omitempty"`
	Source                    sourceWire `json:"Source"`
	InputParameters           string     `json:"InputParameters,omitempty"`
	MaximumExecutionFrequency string     `json:"MaximumExecutionFrequency,omitempty"`
	ConfigRuleState           string     `json:"ConfigRuleState,omitempty"`
	CreatedBy                 string     `json:"CreatedBy,omitempty"`
	EvaluationModes           []modeWire `json:"EvaluationModes,omitempty"`
}

func ruleWire(r configsvc.Rule) configRuleWire {
	w := configRuleWire{ConfigRuleName: r.Name, ConfigRuleArn: r.ARN, ConfigRuleID: r.ID, Description: r.Description,
		Source:          sourceWire{Owner: r.Source.Owner, SourceIdentifier: r.Source.SourceIdentifier},
		InputParameters: r.InputParameters, MaximumExecutionFrequency: r.MaximumExecutionFrequency,
		ConfigRuleState: r.State, EvaluationModes: []modeWire{{Mode: "DETECTIVE"}}}
	if sc := r.Scope; len(sc.ComplianceResourceTypes) > 0 || sc.TagKey != "" || sc.ComplianceResourceID != "" {
		w.Scope = &scopeWire{ComplianceResourceTypes: sc.ComplianceResourceTypes, TagKey: sc.TagKey, TagValue: sc.TagValue,
			ComplianceResourceID: sc.ComplianceResourceID}
	}
	for _, d := range r.Source.SourceDetails {
		w.Source.SourceDetails = append(w.Source.SourceDetails, sourceDetailWire(d))
	}
	if p := r.Source.CustomPolicy; p != nil {
		w.Source.CustomPolicyDetails = &customPolicyWire{PolicyRuntime: p.PolicyRuntime, PolicyText: p.PolicyText, EnableDebugLogDelivery: p.EnableDebugLogDelivery}
	}
	return w
}

func ruleFromWire(w configRuleWire) configsvc.Rule {
	r := configsvc.Rule{Name: w.ConfigRuleName, ARN: w.ConfigRuleArn, ID: w.ConfigRuleID, Description: w.Description,
		Source:          configsvc.Source{Owner: w.Source.Owner, SourceIdentifier: w.Source.SourceIdentifier},
		InputParameters: w.InputParameters, MaximumExecutionFrequency: w.MaximumExecutionFrequency, State: w.ConfigRuleState}
	if w.Scope != nil {
		r.Scope = configsvc.Scope{ComplianceResourceTypes: w.Scope.ComplianceResourceTypes, TagKey: w.Scope.TagKey,
			TagValue: w.Scope.TagValue, ComplianceResourceID: w.Scope.ComplianceResourceID}
	}
	for _, d := range w.Source.SourceDetails {
		r.Source.SourceDetails = append(r.Source.SourceDetails, configsvc.SourceDetail(d))
	}
	if p := w.Source.CustomPolicyDetails; p != nil {
		r.Source.CustomPolicy = &configsvc.CustomPolicy{PolicyRuntime: p.PolicyRuntime, PolicyText: p.PolicyText, EnableDebugLogDelivery: p.EnableDebugLogDelivery}
	}
	return r
}

// epoch renders a time as the json protocol does: seconds since the
// epoch, with milliseconds.
func epoch(t time.Time) float64 { return math.Round(float64(t.UnixMilli())) / 1000 }

func epochPtr(t time.Time) *float64 {
	if t.IsZero() {
		return nil
	}
	v := epoch(t)
	return &v
}

// maxRuleNames bounds the ConfigRuleNames of a request (AWS: 25 for
// DescribeConfigRules and StartConfigRulesEvaluation).
const maxRuleNames = 25

func checkNames(names []string) *apiError {
	if len(names) > maxRuleNames {
		return errf("InvalidParameterValueException", "At most %d ConfigRuleNames may be given.", maxRuleNames)
	}
	for _, n := range names {
		if strings.TrimSpace(n) == "" || len(n) > 128 {
			return errf("InvalidParameterValueException", "A ConfigRuleName must be 1 to 128 characters.")
		}
	}
	return nil
}

func (s *Service) putConfigRule(c *call) (any, *apiError) {
	var in struct {
		ConfigRule *configRuleWire `json:"ConfigRule"`
		Tags       []struct {
			Key   string `json:"Key"`
			Value string `json:"Value"`
		} `json:"Tags"`
	}
	if e := decode(c, &in); e != nil {
		return nil, e
	}
	if in.ConfigRule == nil {
		return nil, errf("ValidationException", "1 validation error detected: Value null at 'configRule' failed to satisfy constraint: Member must not be null")
	}
	if len(in.Tags) > 0 {
		return nil, errf("InvalidParameterValueException", "Tags are not supported on config rules.")
	}
	r, err := s.cfg.PutRule(c.ctx, ruleFromWire(*in.ConfigRule))
	if err != nil {
		return nil, s.domainError(c, err)
	}
	c.resources = []string{r.ARN}
	return struct{}{}, nil
}

func (s *Service) describeConfigRules(c *call) (any, *apiError) {
	var in struct {
		ConfigRuleNames []string `json:"ConfigRuleNames"`
		NextToken       string   `json:"NextToken"`
	}
	if e := decode(c, &in); e != nil {
		return nil, e
	}
	if e := checkNames(in.ConfigRuleNames); e != nil {
		return nil, e
	}
	pg, e := newPage[configRuleWire](c.op, in.NextToken, 25)
	if e != nil {
		return nil, e
	}
	rules, err := s.cfg.Rules(c.ctx, in.ConfigRuleNames)
	if err != nil {
		return nil, s.domainError(c, err)
	}
	for _, r := range rules {
		if !pg.skip(r.Name) && !pg.add(r.Name, ruleWire(r)) {
			break
		}
	}
	return struct {
		ConfigRules []configRuleWire `json:"ConfigRules"`
		NextToken   string           `json:"NextToken,omitempty"`
	}{pg.items, pg.next}, nil
}

func (s *Service) deleteConfigRule(c *call) (any, *apiError) {
	var in struct {
		ConfigRuleName string `json:"ConfigRuleName"`
	}
	if e := decode(c, &in); e != nil {
		return nil, e
	}
	if e := checkNames([]string{in.ConfigRuleName}); e != nil {
		return nil, e
	}
	if err := s.cfg.DeleteRule(c.ctx, in.ConfigRuleName); err != nil {
		return nil, s.domainError(c, err)
	}
	return struct{}{}, nil
}

func (s *Service) startConfigRulesEvaluation(c *call) (any, *apiError) {
	var in struct {
		ConfigRuleNames []string `json:"ConfigRuleNames"`
	}
	if e := decode(c, &in); e != nil {
		return nil, e
	}
	if len(in.ConfigRuleNames) == 0 {
		return nil, errf("InvalidParameterValueException", "ConfigRuleNames must name 1 to %d rules.", maxRuleNames)
	}
	if e := checkNames(in.ConfigRuleNames); e != nil {
		return nil, e
	}
	if err := s.cfg.StartEvaluation(c.ctx, in.ConfigRuleNames); err != nil {
		return nil, s.domainError(c, err)
	}
	return struct{}{}, nil
}

type countWire struct {
	CappedCount int  `json:"CappedCount"`
	CapExceeded bool `json:"CapExceeded"`
}

type complianceWire struct {
	ComplianceType             string     `json:"ComplianceType"`
	ComplianceContributorCount *countWire `json:"ComplianceContributorCount,omitempty"`
}

// maxContributors caps ComplianceContributorCount, as AWS Config does.
const maxContributors = 100

// summarize folds results into one compliance: NON_COMPLIANT if any is
// (counting them), else COMPLIANT if any is, else INSUFFICIENT_DATA.
func summarize(evs []configsvc.Evaluation) complianceWire {
	nc, compliant := 0, false
	for _, e := range evs {
		switch e.Compliance {
		case configsvc.NonCompliant:
			nc++
		case configsvc.Compliant:
			compliant = true
		}
	}
	switch {
	case nc > 0:
		return complianceWire{ComplianceType: configsvc.NonCompliant,
			ComplianceContributorCount: &countWire{CappedCount: min(nc, maxContributors), CapExceeded: nc > maxContributors}}
	case compliant:
		return complianceWire{ComplianceType: configsvc.Compliant}
	}
	return complianceWire{ComplianceType: configsvc.InsufficientData}
}

var summaryTypes = []string{configsvc.Compliant, configsvc.NonCompliant, configsvc.InsufficientData}
var resultTypes = []string{configsvc.Compliant, configsvc.NonCompliant, configsvc.NotApplicable}

func checkTypes(types, allowed []string) *apiError {
	if len(types) > 3 {
		return errf("InvalidParameterValueException", "At most 3 ComplianceTypes may be given.")
	}
	for _, t := range types {
		if !slices.Contains(allowed, t) {
			return errf("InvalidParameterValueException", "ComplianceType %q is invalid; valid values are %s.", clip(t), strings.Join(allowed, ", "))
		}
	}
	return nil
}

func wanted(types []string, t string) bool { return len(types) == 0 || slices.Contains(types, t) }

func (s *Service) describeComplianceByConfigRule(c *call) (any, *apiError) {
	var in struct {
		ConfigRuleNames []string `json:"ConfigRuleNames"`
		ComplianceTypes []string `json:"ComplianceTypes"`
		NextToken       string   `json:"NextToken"`
	}
	if e := decode(c, &in); e != nil {
		return nil, e
	}
	if e := checkNames(in.ConfigRuleNames); e != nil {
		return nil, e
	}
	if e := checkTypes(in.ComplianceTypes, summaryTypes); e != nil {
		return nil, e
	}
	type entry struct {
		ConfigRuleName string         `json:"ConfigRuleName"`
		Compliance     complianceWire `json:"Compliance"`
	}
	pg, e := newPage[entry](c.op, in.NextToken, 25)
	if e != nil {
		return nil, e
	}
	rules, err := s.cfg.Rules(c.ctx, in.ConfigRuleNames)
	if err != nil {
		return nil, s.domainError(c, err)
	}
	for _, r := range rules {
		if pg.skip(r.Name) {
			continue
		}
		evs, err := s.cfg.RuleEvaluations(c.ctx, r.Name)
		if err != nil {
			return nil, s.domainError(c, err)
		}
		sum := summarize(evs)
		if !wanted(in.ComplianceTypes, sum.ComplianceType) {
			continue
		}
		if !pg.add(r.Name, entry{r.Name, sum}) {
			break
		}
	}
	return struct {
		ComplianceByConfigRules []entry `json:"ComplianceByConfigRules"`
		NextToken               string  `json:"NextToken,omitempty"`
	}{pg.items, pg.next}, nil
}

var resourceTypePattern = regexp.MustCompile(`^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$`)

func checkResourceType(t string) *apiError {
	if !resourceTypePattern.MatchString(t) || len(t) > 256 {
		return errf("ValidationException", "1 validation error detected: Value '%s' at 'resourceType' failed to satisfy constraint: Member must satisfy enum value set", clip(t))
	}
	return nil
}

func (s *Service) describeComplianceByResource(c *call) (any, *apiError) {
	var in struct {
		ResourceType    string   `json:"ResourceType"`
		ResourceID      string   `json:"ResourceId"`
		ComplianceTypes []string `json:"ComplianceTypes"`
		Limit           int      `json:"Limit"`
		NextToken       string   `json:"NextToken"`
	}
	if e := decode(c, &in); e != nil {
		return nil, e
	}
	if in.ResourceType != "" {
		if e := checkResourceType(in.ResourceType); e != nil {
			return nil, e
		}
	}
	if in.ResourceID != "" && in.ResourceType == "" {
		return nil, errf("InvalidParameterValueException", "ResourceId needs ResourceType.")
	}
	if len(in.ResourceID) > 768 {
		return nil, errf("InvalidParameterValueException", "ResourceId is longer than 768 characters.")
	}
	if e := checkTypes(in.ComplianceTypes, summaryTypes); e != nil {
		return nil, e
	}
	limit, e := checkLimit("limit", in.Limit, 100, 100)
	if e != nil {
		return nil, e
	}
	type entry struct {
		ResourceType string         `json:"ResourceType"`
		ResourceID   string         `json:"ResourceId"`
		Compliance   complianceWire `json:"Compliance"`
	}
	pg, e := newPage[entry](c.op, in.NextToken, limit)
	if e != nil {
		return nil, e
	}
	var evs []configsvc.Evaluation
	if in.ResourceType == "" || slices.Contains(configsvc.ResourceTypes, in.ResourceType) {
		var err error
		if evs, err = s.cfg.ResourceEvaluations(c.ctx, in.ResourceType, in.ResourceID); err != nil {
			return nil, s.domainError(c, err)
		}
	}
	groups := map[[2]string][]configsvc.Evaluation{}
	var keys [][2]string
	for _, ev := range evs {
		k := [2]string{ev.ResourceType, ev.ResourceID}
		if _, seen := groups[k]; !seen {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], ev)
	}
	if in.ResourceID != "" && len(keys) == 0 {
		keys = append(keys, [2]string{in.ResourceType, in.ResourceID})
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+"/"+keys[i][1] < keys[j][0]+"/"+keys[j][1] })
	for _, k := range keys {
		key := k[0] + "/" + k[1]
		if pg.skip(key) {
			continue
		}
		sum := summarize(groups[k])
		if !wanted(in.ComplianceTypes, sum.ComplianceType) {
			continue
		}
		if !pg.add(key, entry{k[0], k[1], sum}) {
			break
		}
	}
	return struct {
		ComplianceByResources []entry `json:"ComplianceByResources"`
		NextToken             string  `json:"NextToken,omitempty"`
	}{pg.items, pg.next}, nil
}

type qualifierWire struct {
	ConfigRuleName string `json:"ConfigRuleName"`
	ResourceType   string `json:"ResourceType"`
	ResourceID     string `json:"ResourceId"`
	EvaluationMode string `json:"EvaluationMode"`
}

type identifierWire struct {
	EvaluationResultQualifier qualifierWire `json:"EvaluationResultQualifier"`
	OrderingTimestamp         float64       `json:"OrderingTimestamp"`
}

type evaluationResultWire struct {
	EvaluationResultIdentifier identifierWire `json:"EvaluationResultIdentifier"`
	ComplianceType             string         `json:"ComplianceType"`
	ResultRecordedTime         float64        `json:"ResultRecordedTime"`
	ConfigRuleInvokedTime      float64        `json:"ConfigRuleInvokedTime"`
	Annotation                 string         `json:"Annotation,omitempty"`
}

func (s *Service) getComplianceDetailsByConfigRule(c *call) (any, *apiError) {
	var in struct {
		ConfigRuleName  string   `json:"ConfigRuleName"`
		ComplianceTypes []string `json:"ComplianceTypes"`
		Limit           int      `json:"Limit"`
		NextToken       string   `json:"NextToken"`
	}
	if e := decode(c, &in); e != nil {
		return nil, e
	}
	if e := checkNames([]string{in.ConfigRuleName}); e != nil {
		return nil, e
	}
	if e := checkTypes(in.ComplianceTypes, resultTypes); e != nil {
		return nil, e
	}
	limit, e := checkLimit("limit", in.Limit, 100, 100)
	if e != nil {
		return nil, e
	}
	pg, e := newPage[evaluationResultWire](c.op, in.NextToken, limit)
	if e != nil {
		return nil, e
	}
	evs, err := s.cfg.RuleEvaluations(c.ctx, in.ConfigRuleName)
	if err != nil {
		return nil, s.domainError(c, err)
	}
	for _, ev := range evs { // ordered by resource type and ID
		key := ev.ResourceType + "/" + ev.ResourceID
		if pg.skip(key) || !wanted(in.ComplianceTypes, ev.Compliance) {
			continue
		}
		if !pg.add(key, evaluationResultWire{
			EvaluationResultIdentifier: identifierWire{
				EvaluationResultQualifier: qualifierWire{ConfigRuleName: ev.RuleName, ResourceType: ev.ResourceType, ResourceID: ev.ResourceID, EvaluationMode: "DETECTIVE"},
				OrderingTimestamp:         epoch(ev.Ordering)},
			ComplianceType: ev.Compliance, ResultRecordedTime: epoch(ev.Recorded), ConfigRuleInvokedTime: epoch(ev.Invoked),
			Annotation: ev.Annotation}) {
			break
		}
	}
	return struct {
		EvaluationResults []evaluationResultWire `json:"EvaluationResults"`
		NextToken         string                 `json:"NextToken,omitempty"`
	}{pg.items, pg.next}, nil
}

type relationshipWire struct {
	ResourceType     string `json:"resourceType"`
	ResourceID       string `json:"resourceId"`
	ResourceName     string `json:"resourceName,omitempty"`
	RelationshipName string `json:"relationshipName"`
}

type itemWire struct {
	Version                      string             `json:"version"`
	AccountID                    string             `json:"accountId"`
	ConfigurationItemCaptureTime float64            `json:"configurationItemCaptureTime"`
	ConfigurationItemStatus      string             `json:"configurationItemStatus"`
	ConfigurationStateID         string             `json:"configurationStateId"`
	ARN                          string             `json:"arn"`
	ResourceType                 string             `json:"resourceType"`
	ResourceID                   string             `json:"resourceId"`
	ResourceName                 string             `json:"resourceName,omitempty"`
	AWSRegion                    string             `json:"awsRegion"`
	AvailabilityZone             string             `json:"availabilityZone"`
	ResourceCreationTime         *float64           `json:"resourceCreationTime,omitempty"`
	Tags                         map[string]string  `json:"tags"`
	RelatedEvents                []string           `json:"relatedEvents"`
	Relationships                []relationshipWire `json:"relationships"`
	Configuration                *string            `json:"configuration"`
	SupplementaryConfiguration   map[string]string  `json:"supplementaryConfiguration"`
	RecordingFrequency           string             `json:"recordingFrequency"`
}

func itemToWire(it configsvc.Item) itemWire {
	w := itemWire{Version: it.Version, AccountID: it.AccountID, ConfigurationItemCaptureTime: epoch(it.CaptureTime),
		ConfigurationItemStatus: it.Status, ConfigurationStateID: it.StateID, ARN: it.ARN, ResourceType: it.ResourceType,
		ResourceID: it.ResourceID, ResourceName: it.ResourceName, AWSRegion: it.AWSRegion, AvailabilityZone: it.AvailabilityZone,
		ResourceCreationTime: epochPtr(it.ResourceCreationTime), Tags: it.Tags, RelatedEvents: it.RelatedEvents,
		Relationships: []relationshipWire{}, SupplementaryConfiguration: map[string]string{}, RecordingFrequency: "CONTINUOUS"}
	if w.Tags == nil {
		w.Tags = map[string]string{}
	}
	if w.RelatedEvents == nil {
		w.RelatedEvents = []string{}
	}
	for _, r := range it.Relationships {
		w.Relationships = append(w.Relationships, relationshipWire(r))
	}
	if len(it.Configuration) > 0 && string(it.Configuration) != "null" {
		s := string(it.Configuration)
		w.Configuration = &s
	}
	for k, v := range it.SupplementaryConfiguration {
		w.SupplementaryConfiguration[k] = string(v)
	}
	return w
}

// historyToken positions a history page by configurationStateId.
func (s *Service) getResourceConfigHistory(c *call) (any, *apiError) {
	var in struct {
		ResourceType       string   `json:"resourceType"`
		ResourceID         string   `json:"resourceId"`
		LaterTime          *float64 `json:"laterTime"`
		EarlierTime        *float64 `json:"earlierTime"`
		ChronologicalOrder string   `json:"chronologicalOrder"`
		Limit              int      `json:"limit"`
		NextToken          string   `json:"nextToken"`
	}
	if e := decode(c, &in); e != nil {
		return nil, e
	}
	if in.ResourceType == "" || in.ResourceID == "" {
		return nil, errf("ValidationException", "resourceType and resourceId are required.")
	}
	if e := checkResourceType(in.ResourceType); e != nil {
		return nil, e
	}
	if len(in.ResourceID) > 768 {
		return nil, errf("ValidationException", "resourceId is longer than 768 characters.")
	}
	order := in.ChronologicalOrder
	if order == "" {
		order = "Reverse"
	}
	if order != "Reverse" && order != "Forward" {
		return nil, errf("ValidationException", "chronologicalOrder must be Reverse or Forward.")
	}
	limit, e := checkLimit("limit", in.Limit, 10, 100)
	if e != nil {
		return nil, e
	}
	var earlier, later time.Time
	toTime := func(f *float64) (time.Time, *apiError) {
		if f == nil {
			return time.Time{}, nil
		}
		if math.IsNaN(*f) || *f < 0 || *f > 1e11 {
			return time.Time{}, errf("InvalidTimeRangeException", "The time is out of range.")
		}
		return time.UnixMilli(int64(*f * 1000)).UTC(), nil
	}
	if earlier, e = toTime(in.EarlierTime); e != nil {
		return nil, e
	}
	if later, e = toTime(in.LaterTime); e != nil {
		return nil, e
	}
	if !earlier.IsZero() && !later.IsZero() && earlier.After(later) {
		return nil, errf("InvalidTimeRangeException", "The earlierTime is later than the laterTime.")
	}
	after, e := decodeToken(c.op, in.NextToken)
	if e != nil {
		return nil, e
	}
	notFound := errf("ResourceNotDiscoveredException", "Resource %s of resourceType:%s is unknown or has not been discovered", clip(in.ResourceID), clip(in.ResourceType))
	if !slices.Contains(configsvc.ResourceTypes, in.ResourceType) {
		return nil, notFound
	}
	items, found, err := s.cfg.History(c.ctx, in.ResourceType, in.ResourceID, earlier, later)
	if err != nil {
		return nil, s.domainError(c, err)
	}
	if !found {
		return nil, notFound
	}
	if order == "Reverse" {
		slices.Reverse(items)
	}
	out := struct {
		ConfigurationItems []itemWire `json:"configurationItems"`
		NextToken          string     `json:"nextToken,omitempty"`
	}{ConfigurationItems: []itemWire{}}
	skipping := after != ""
	for _, it := range items {
		if skipping {
			if it.StateID == after {
				skipping = false
			}
			continue
		}
		if len(out.ConfigurationItems) == limit {
			out.NextToken = encodeToken(c.op, out.ConfigurationItems[limit-1].ConfigurationStateID)
			break
		}
		out.ConfigurationItems = append(out.ConfigurationItems, itemToWire(it))
	}
	if skipping {
		return nil, errf("InvalidNextTokenException", "The nextToken provided is invalid.")
	}
	return out, nil
}

func (s *Service) recorderNames(c *call) ([]string, *apiError) {
	var in struct {
		ConfigurationRecorderNames []string `json:"ConfigurationRecorderNames"`
	}
	if e := decode(c, &in); e != nil {
		return nil, e
	}
	for _, n := range in.ConfigurationRecorderNames {
		if n != configsvc.RecorderName {
			return nil, errf("NoSuchConfigurationRecorderException", "Cannot find configuration recorder with the specified name '%s'.", clip(n))
		}
	}
	return in.ConfigurationRecorderNames, nil
}

func (s *Service) describeConfigurationRecorders(c *call) (any, *apiError) {
	if _, e := s.recorderNames(c); e != nil {
		return nil, e
	}
	type recorder struct {
		Name           string `json:"name"`
		RoleARN        string `json:"roleARN"`
		RecordingGroup struct {
			AllSupported               bool     `json:"allSupported"`
			IncludeGlobalResourceTypes bool     `json:"includeGlobalResourceTypes"`
			ResourceTypes              []string `json:"resourceTypes"`
			RecordingStrategy          struct {
				UseOnly string `json:"useOnly"`
			} `json:"recordingStrategy"`
		} `json:"recordingGroup"`
		RecordingMode struct {
			RecordingFrequency string `json:"recordingFrequency"`
		} `json:"recordingMode"`
	}
	r := recorder{Name: configsvc.RecorderName,
		RoleARN: "arn:aws:iam::" + s.account + ":role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"}
	r.RecordingGroup.ResourceTypes = configsvc.ResourceTypes
	r.RecordingGroup.RecordingStrategy.UseOnly = "INCLUSION_BY_RESOURCE_TYPES"
	r.RecordingMode.RecordingFrequency = "CONTINUOUS"
	return struct {
		ConfigurationRecorders []recorder `json:"ConfigurationRecorders"`
	}{[]recorder{r}}, nil
}

func (s *Service) describeConfigurationRecorderStatus(c *call) (any, *apiError) {
	if _, e := s.recorderNames(c); e != nil {
		return nil, e
	}
	st := s.cfg.Status()
	type status struct {
		Name                 string   `json:"name"`
		LastStartTime        *float64 `json:"lastStartTime,omitempty"`
		Recording            bool     `json:"recording"`
		LastStatus           string   `json:"lastStatus"`
		LastErrorCode        string   `json:"lastErrorCode,omitempty"`
		LastErrorMessage     string   `json:"lastErrorMessage,omitempty"`
		LastStatusChangeTime *float64 `json:"lastStatusChangeTime,omitempty"`
	}
	out := status{Name: configsvc.RecorderName, LastStartTime: epochPtr(st.Started), Recording: !st.Started.IsZero(),
		LastStatus: "PENDING", LastStatusChangeTime: epochPtr(st.LastSuccess)}
	switch {
	case st.LastError != "":
		out.LastStatus, out.LastErrorCode, out.LastErrorMessage = "FAILURE", "InternalFailure", "Recording failed; it is retried."
	case !st.LastSuccess.IsZero():
		out.LastStatus = "SUCCESS"
	}
	return struct {
		ConfigurationRecordersStatus []status `json:"ConfigurationRecordersStatus"`
	}{[]status{out}}, nil
}
