package configsvc

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shelf-efs/shelf/internal/meta"
)

// NoSuchRuleError names a rule that does not exist.
type NoSuchRuleError struct{ Name string }

func (e *NoSuchRuleError) Error() string {
	return "The ConfigRule '" + clip(e.Name) + "' provided in the request is invalid. Please check the configRule name."
}

// ErrTooManyRules is returned by PutRule past MaxRules.
var ErrTooManyRules = errors.New("configsvc: too many config rules")

var ruleIDPattern = regexp.MustCompile(`^config-rule-[a-z0-9]{6}$`)

// RuleARN is the ARN of a rule with id.
func (s *Service) RuleARN(id string) string {
	return "arn:aws:config:" + s.region + ":" + s.account + ":config-rule/" + id
}

// PutRule creates or updates a rule, named by Name (or, for an update, by
// ARN or ID). It checks the rule (parameters, CEL text) and queues its
// evaluation over every resource in scope. Errors are *InvalidError or
// ErrTooManyRules.
func (s *Service) PutRule(ctx context.Context, in Rule) (Rule, error) {
	if in.Name == "" && (in.ARN != "" || in.ID != "") {
		found, err := s.findRule(ctx, in.ARN, in.ID)
		if err != nil {
			return Rule{}, err
		}
		in.Name = found
	}
	switch {
	case strings.TrimSpace(in.Name) == "":
		return Rule{}, invalid("ConfigRuleName must not be empty.")
	case utf8.RuneCountInString(in.Name) > MaxRuleNameChars || !utf8.ValidString(in.Name):
		return Rule{}, invalid("ConfigRuleName must be at most %d characters of UTF-8.", MaxRuleNameChars)
	case utf8.RuneCountInString(in.Description) > MaxDescriptionChars:
		return Rule{}, invalid("Description must be at most %d characters.", MaxDescriptionChars)
	case in.MaximumExecutionFrequency != "" && !slices.Contains(frequencies, in.MaximumExecutionFrequency):
		return Rule{}, invalid("MaximumExecutionFrequency must be one of %s.", strings.Join(frequencies, ", "))
	case in.State != "" && in.State != RuleStateActive:
		return Rule{}, invalid("ConfigRuleState can only be ACTIVE when a rule is put.")
	case len(in.Scope.ComplianceResourceTypes) > MaxScopeResourceTypes:
		return Rule{}, invalid("Scope.ComplianceResourceTypes has more than %d types.", MaxScopeResourceTypes)
	case in.Scope.ComplianceResourceID != "" && len(in.Scope.ComplianceResourceTypes) != 1:
		return Rule{}, invalid("Scope.ComplianceResourceId needs exactly one type in Scope.ComplianceResourceTypes.")
	case in.Scope.TagValue != "" && in.Scope.TagKey == "":
		return Rule{}, invalid("Scope.TagValue needs Scope.TagKey.")
	case len(in.Scope.TagKey) > 128 || len(in.Scope.TagValue) > 256 || len(in.Scope.ComplianceResourceID) > 768:
		return Rule{}, invalid("Scope.TagKey, TagValue or ComplianceResourceId is too long.")
	}
	for _, sd := range in.Source.SourceDetails {
		if sd.MaximumExecutionFrequency != "" && !slices.Contains(frequencies, sd.MaximumExecutionFrequency) {
			return Rule{}, invalid("SourceDetails.MaximumExecutionFrequency must be one of %s.", strings.Join(frequencies, ", "))
		}
	}
	if len(in.Source.SourceDetails) > 25 {
		return Rule{}, invalid("Source.SourceDetails has more than 25 entries.")
	}
	for _, t := range in.Scope.ComplianceResourceTypes {
		if !knownType(t) {
			return Rule{}, invalid("The resource type %s is not recorded; supported types are %s.", clip(t), strings.Join(ResourceTypes, ", "))
		}
	}
	in.State = RuleStateActive
	var out Rule
	err := s.meta.Update(ctx, func(t meta.Txn) error {
		var have ruleRecord
		err := getJSON(t, ruleKey(in.Name), &have)
		switch {
		case err == nil:
			if in.ID != "" && in.ID != have.Rule.ID || in.ARN != "" && in.ARN != have.Rule.ARN {
				return invalid("ConfigRuleArn or ConfigRuleId does not match the rule named %s.", clip(in.Name))
			}
			in.ID, in.ARN, in.Created = have.Rule.ID, have.Rule.ARN, have.Rule.Created
		case errors.Is(err, meta.ErrNotFound):
			if in.ID != "" || in.ARN != "" {
				return invalid("ConfigRuleArn and ConfigRuleId must not be given for a new rule.")
			}
			n := 0
			if err := t.Scan(rulePrefix(), meta.PrefixEnd(rulePrefix()), func(_, _ []byte) (bool, error) {
				n++
				return n < MaxRules, nil
			}); err != nil {
				return err
			}
			if n >= MaxRules {
				return ErrTooManyRules
			}
			in.ID = "config-rule-" + s.newID(3)
			in.ARN = s.RuleARN(in.ID)
			in.Created = s.clock.Now().UTC()
		default:
			return err
		}
		if _, err := s.compile(in); err != nil {
			return err
		}
		out = in
		return putJSON(t, ruleKey(in.Name), &ruleRecord{V: recordVersion, Rule: in})
	})
	if err != nil {
		return Rule{}, err
	}
	s.requestRules(out.Name)
	return out, nil
}

// findRule finds the name of the rule with the given ARN or ID.
func (s *Service) findRule(ctx context.Context, arn, id string) (string, error) {
	rules, err := s.Rules(ctx, nil)
	if err != nil {
		return "", err
	}
	for _, r := range rules {
		if arn != "" && r.ARN == arn || id != "" && r.ID == id {
			return r.Name, nil
		}
	}
	return "", &NoSuchRuleError{Name: arn + id}
}

// Rules returns the named rules, or every rule for no names, in name
// order; an unknown name is a *NoSuchRuleError.
func (s *Service) Rules(ctx context.Context, names []string) ([]Rule, error) {
	var out []Rule
	err := s.meta.View(ctx, func(r meta.Reader) error {
		out = out[:0]
		if len(names) == 0 {
			return scanJSON(r, rulePrefix(), nil, func(_ []byte, rr *ruleRecord) (bool, error) {
				out = append(out, rr.Rule)
				return true, nil
			})
		}
		for _, n := range names {
			var rr ruleRecord
			if err := getJSON(r, ruleKey(n), &rr); errors.Is(err, meta.ErrNotFound) {
				return &NoSuchRuleError{Name: n}
			} else if err != nil {
				return err
			}
			out = append(out, rr.Rule)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	out = slices.CompactFunc(out, func(a, b Rule) bool { return a.Name == b.Name })
	return out, nil
}

// DeleteRule deletes a rule and its evaluation results.
func (s *Service) DeleteRule(ctx context.Context, name string) error {
	rules, err := s.Rules(ctx, []string{name})
	if err != nil {
		return err
	}
	id := rules[0].ID
	if !ruleIDPattern.MatchString(id) {
		return fmt.Errorf("configsvc: rule %q has a malformed ID", name)
	}
	if err := s.meta.Update(ctx, func(t meta.Txn) error { return t.Delete(ruleKey(name)) }); err != nil {
		return err
	}
	// The results go in batches, so a rule with many never makes one huge
	// transaction; a crash in between leaves results of a rule ID that no
	// rule has, which no query shows and the next delete pass removes.
	for {
		var keys []resourceKey
		err := s.meta.View(ctx, func(r meta.Reader) error {
			keys = keys[:0]
			return scanJSON(r, evalRulePrefix(id), nil, func(_ []byte, e *evalRecord) (bool, error) {
				keys = append(keys, resourceKey{e.ResourceType, e.ResourceID})
				return len(keys) < 256, nil
			})
		})
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		if err := s.meta.Update(ctx, func(t meta.Txn) error {
			for _, k := range keys {
				if err := t.Delete(evalKey(id, k)); err != nil {
					return err
				}
				if err := t.Delete(evalByResKey(k, id)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
}

// StartEvaluation queues an evaluation of the named rules.
func (s *Service) StartEvaluation(ctx context.Context, names []string) error {
	if _, err := s.Rules(ctx, names); err != nil {
		return err
	}
	s.requestRules(names...)
	return nil
}

// Evaluation is the latest result of a rule for a resource.
type Evaluation struct {
	RuleName, ResourceType, ResourceID string
	Compliance, Annotation             string
	Ordering, Recorded, Invoked        time.Time
}

func (e *evalRecord) public() Evaluation {
	return Evaluation{RuleName: e.RuleName, ResourceType: e.ResourceType, ResourceID: e.ResourceID,
		Compliance: e.Compliance, Annotation: e.Annotation, Ordering: e.Ordering, Recorded: e.Recorded, Invoked: e.Invoked}
}

// RuleEvaluations returns the results of a rule, ordered by resource type
// and ID.
func (s *Service) RuleEvaluations(ctx context.Context, name string) ([]Evaluation, error) {
	rules, err := s.Rules(ctx, []string{name})
	if err != nil {
		return nil, err
	}
	var out []Evaluation
	err = s.meta.View(ctx, func(r meta.Reader) error {
		out = out[:0]
		return scanJSON(r, evalRulePrefix(rules[0].ID), nil, func(_ []byte, e *evalRecord) (bool, error) {
			out = append(out, e.public())
			return true, nil
		})
	})
	return out, err
}

// ResourceEvaluations returns the results for resources, grouped by
// resource (ordered by type and ID), for every resource with results, or
// only those of typ (and id).
func (s *Service) ResourceEvaluations(ctx context.Context, typ, id string) ([]Evaluation, error) {
	prefix := evalByResAll()
	if typ != "" {
		prefix = ckey("evr/", typ, "/")
		if id != "" {
			prefix = evalByResPrefix(resourceKey{typ, id})
		}
	}
	var out []Evaluation
	err := s.meta.View(ctx, func(r meta.Reader) error {
		out = out[:0]
		base := len(evalByResAll())
		return r.Scan(prefix, meta.PrefixEnd(prefix), func(k, _ []byte) (bool, error) {
			parts := strings.SplitN(string(k[base:]), "/", 3)
			if len(parts) != 3 {
				return false, fmt.Errorf("%w %q", errCorrupt, k)
			}
			rk := resourceKey{parts[0], parts[1]}
			var e evalRecord
			if err := getJSON(r, evalKey(parts[2], rk), &e); errors.Is(err, meta.ErrNotFound) {
				return true, nil
			} else if err != nil {
				return false, err
			}
			out = append(out, e.public())
			return true, nil
		})
	})
	return out, err
}

// History returns the items of a resource captured between earlier and
// later (zero: unbounded), oldest first. ok is false for a resource that
// was never recorded.
func (s *Service) History(ctx context.Context, typ, id string, earlier, later time.Time) (items []Item, ok bool, err error) {
	k := resourceKey{typ, id}
	err = s.meta.View(ctx, func(r meta.Reader) error {
		items = items[:0]
		if _, err := r.Get(curKey(k)); errors.Is(err, meta.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		ok = true
		return scanJSON(r, histPrefix(k), nil, func(_ []byte, si *storedItem) (bool, error) {
			t := si.Item.CaptureTime
			if !later.IsZero() && t.After(later) {
				return false, nil
			}
			if earlier.IsZero() || !t.Before(earlier) {
				items = append(items, si.Item)
			}
			return true, nil
		})
	})
	return items, ok, err
}

// RecorderStatus reports the recorder's state.
type RecorderStatus struct {
	Started     time.Time
	LastSuccess time.Time
	LastError   string
}

// Status reports the recorder's state.
func (s *Service) Status() RecorderStatus {
	s.status.Lock()
	defer s.status.Unlock()
	return RecorderStatus{Started: s.started, LastSuccess: s.status.lastSuccess, LastError: s.status.lastError}
}
