package configsvc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/shelf-efs/shelf/internal/meta"
)

// ruleRecord is a stored rule.
type ruleRecord struct {
	V    int  `json:"v"`
	Rule Rule `json:"rule"`
}

// compiledRule is a rule ready to evaluate.
type compiledRule struct {
	Rule
	managed *managedRule
	params  params
	raw     map[string]string
	prog    *celProgram
}

// compile checks a rule and prepares it; errors are *InvalidError.
func (s *Service) compile(r Rule) (*compiledRule, error) {
	c := &compiledRule{Rule: r}
	switch r.Source.Owner {
	case OwnerAWS:
		c.managed = lookupManaged(r.Source.SourceIdentifier)
		if c.managed == nil {
			return nil, invalid("The sourceIdentifier %s is invalid. Supported managed rules: %v.", clip(r.Source.SourceIdentifier), ManagedRuleIdentifiers())
		}
	case OwnerCustomPolicy:
		cp := r.Source.CustomPolicy
		if cp == nil {
			return nil, invalid("A CUSTOM_POLICY rule needs CustomPolicyDetails.")
		}
		if cp.PolicyRuntime != PolicyRuntimeCEL {
			return nil, invalid("PolicyRuntime %q is not supported; use %s.", clip(cp.PolicyRuntime), PolicyRuntimeCEL)
		}
		prog, err := s.program(r.ID, cp.PolicyText)
		if err != nil {
			return nil, err
		}
		c.prog = prog
	case OwnerCustomLambda:
		return nil, invalid("CUSTOM_LAMBDA rules are not supported; use a CUSTOM_POLICY rule with PolicyRuntime %s.", PolicyRuntimeCEL)
	default:
		return nil, invalid("Source.Owner must be AWS or CUSTOM_POLICY.")
	}
	p, raw, err := parseParams(r.InputParameters, c.managed)
	if err != nil {
		return nil, err
	}
	c.params, c.raw = p, raw
	return c, nil
}

// program compiles (or finds compiled) the CEL text of rule id.
func (s *Service) program(id, text string) (*celProgram, error) {
	h := sha256.Sum256([]byte(text))
	key := id + "/" + hex.EncodeToString(h[:])
	s.progs.Lock()
	p := s.progs.m[key]
	s.progs.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := compileCEL(text)
	if err != nil {
		return nil, err
	}
	s.progs.Lock()
	if len(s.progs.m) >= 2*MaxRules {
		clear(s.progs.m)
	}
	s.progs.m[key] = p
	s.progs.Unlock()
	return p, nil
}

// types are the resource types a rule evaluates.
func (c *compiledRule) types() []string {
	if len(c.Scope.ComplianceResourceTypes) > 0 {
		return c.Scope.ComplianceResourceTypes
	}
	if c.managed != nil {
		return c.managed.Types
	}
	return ResourceTypes
}

func (c *compiledRule) inScope(it *Item) bool {
	if !slices.Contains(c.types(), it.ResourceType) {
		return false
	}
	if c.managed != nil && !slices.Contains(c.managed.Types, it.ResourceType) {
		return false
	}
	if id := c.Scope.ComplianceResourceID; id != "" && id != it.ResourceID {
		return false
	}
	if c.Scope.TagKey != "" {
		v, has := it.Tags[c.Scope.TagKey]
		if !has || c.Scope.TagValue != "" && v != c.Scope.TagValue {
			return false
		}
	}
	return true
}

func (c *compiledRule) eval(ctx context.Context, it *Item, rel related) verdict {
	if c.prog != nil {
		return c.prog.eval(ctx, it, c.raw)
	}
	return c.managed.eval(it, c.params, rel)
}

// allRules returns every rule, compiled, in name order. A stored rule that
// no longer compiles (it cannot happen unless the store was edited) is
// skipped with a warning.
func (s *Service) allRules(ctx context.Context) ([]*compiledRule, error) {
	var recs []Rule
	err := s.meta.View(ctx, func(r meta.Reader) error {
		recs = recs[:0]
		return scanJSON(r, rulePrefix(), nil, func(_ []byte, rr *ruleRecord) (bool, error) {
			recs = append(recs, rr.Rule)
			return true, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("configsvc: read rules: %w", err)
	}
	out := make([]*compiledRule, 0, len(recs))
	for _, r := range recs {
		c, err := s.compile(r)
		if err != nil {
			s.log.Warn("stored config rule does not compile; skipped", "rule", r.Name, "err", err)
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// currentItem reads the latest item of k; nil when never recorded or
// deleted.
func (s *Service) currentItem(ctx context.Context, k resourceKey) (*Item, error) {
	var si storedItem
	err := s.meta.View(ctx, func(r meta.Reader) error { return getJSON(r, curKey(k), &si) })
	if errors.Is(err, meta.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if si.Item.Status == StatusDeleted {
		return nil, nil
	}
	return &si.Item, nil
}

// evaluateRules evaluates the named rules over every resource.
func (s *Service) evaluateRules(ctx context.Context, names []string) error {
	all, err := s.allRules(ctx)
	if err != nil {
		return err
	}
	var rules []*compiledRule
	types := map[string]bool{}
	for _, c := range all {
		if slices.Contains(names, c.Name) {
			rules = append(rules, c)
			for _, t := range c.types() {
				types[t] = true
			}
		}
	}
	if len(rules) == 0 {
		return nil
	}
	tl := make([]string, 0, len(types))
	for t := range types {
		tl = append(tl, t)
	}
	sort.Strings(tl)
	for _, typ := range tl {
		var keys []resourceKey
		err := s.meta.View(ctx, func(r meta.Reader) error {
			keys = keys[:0]
			return scanJSON(r, curPrefix(typ), nil, func(_ []byte, si *storedItem) (bool, error) {
				if si.Item.Status != StatusDeleted {
					keys = append(keys, resourceKey{si.Item.ResourceType, si.Item.ResourceID})
				}
				return true, nil
			})
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := s.evaluateResource(ctx, k, rules); err != nil {
				return err
			}
		}
	}
	return nil
}

// result is one rule's verdict for the resource being evaluated.
type result struct {
	rule    *compiledRule
	v       verdict
	inScope bool
}

// evaluateResource evaluates rules for resource k and stores the results,
// with the alerts of every change of compliance, in one transaction. A
// resource that is gone loses its results.
func (s *Service) evaluateResource(ctx context.Context, k resourceKey, rules []*compiledRule) error {
	it, err := s.currentItem(ctx, k)
	if err != nil {
		return err
	}
	invoked := s.clock.Now().UTC()
	rel := func(o resourceKey) *Item {
		it, err := s.currentItem(ctx, o)
		if err != nil {
			return nil
		}
		return it
	}
	var results []result
	if it != nil {
		for _, c := range rules {
			r := result{rule: c, inScope: c.inScope(it)}
			if r.inScope {
				r.v = c.eval(ctx, it, rel)
			}
			results = append(results, r)
		}
	}
	err = s.meta.Update(ctx, func(t meta.Txn) error {
		if it == nil {
			// Gone: drop every result of the resource.
			var ruleIDs []string
			if err := t.Scan(evalByResPrefix(k), meta.PrefixEnd(evalByResPrefix(k)), func(key, _ []byte) (bool, error) {
				ruleIDs = append(ruleIDs, string(key[len(evalByResPrefix(k)):]))
				return true, nil
			}); err != nil {
				return err
			}
			for _, id := range ruleIDs {
				if err := t.Delete(evalKey(id, k)); err != nil {
					return err
				}
				if err := t.Delete(evalByResKey(k, id)); err != nil {
					return err
				}
			}
			return nil
		}
		now := s.clock.Now().UTC()
		for _, r := range results {
			var old *evalRecord
			var have evalRecord
			if err := getJSON(t, evalKey(r.rule.ID, k), &have); err == nil {
				old = &have
			} else if !errors.Is(err, meta.ErrNotFound) {
				return err
			}
			if !r.inScope {
				if old != nil {
					if err := t.Delete(evalKey(r.rule.ID, k)); err != nil {
						return err
					}
					if err := t.Delete(evalByResKey(k, r.rule.ID)); err != nil {
						return err
					}
				}
				continue
			}
			rec := evalRecord{V: recordVersion, RuleName: r.rule.Name, RuleID: r.rule.ID, ResourceType: k.Type,
				ResourceID: k.ID, Compliance: r.v.Compliance, Annotation: r.v.Annotation, Ordering: it.CaptureTime,
				Recorded: now, Invoked: invoked}
			if err := putJSON(t, evalKey(r.rule.ID, k), &rec); err != nil {
				return err
			}
			if err := t.Set(evalByResKey(k, r.rule.ID), nil); err != nil {
				return err
			}
			if alertWorthy(old, &rec) {
				if err := s.queueAlerts(t, &r.rule.Rule, it, old, &rec); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("configsvc: evaluate %s %s: %w", k.Type, k.ID, err)
	}
	if len(s.hooks) > 0 {
		for _, h := range s.hooks {
			h.poke()
		}
	}
	return nil
}

// alertWorthy: a resource turned NON_COMPLIANT (from anything, including
// its first evaluation) or stopped being NON_COMPLIANT.
func alertWorthy(old, cur *evalRecord) bool {
	was := ""
	if old != nil {
		was = old.Compliance
	}
	return was != cur.Compliance && (cur.Compliance == NonCompliant || was == NonCompliant)
}
