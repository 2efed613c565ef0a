package configsvc

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
)

// CEL custom rules (Source.Owner CUSTOM_POLICY, PolicyRuntime "cel-1.0").
// The expression sees two variables:
//
//	item    the configuration item as AWS Config's JSON shows it, with
//	        configuration and supplementaryConfiguration as objects:
//	        item.resourceType, item.tags, item.configuration.Encrypted, …
//	params  the rule's InputParameters (a map of strings)
//
// and must yield a bool: true is COMPLIANT, false NON_COMPLIANT. An
// evaluation error (a missing field, a wrong type, the cost limit) is
// NON_COMPLIANT with the error as the annotation: a rule that cannot be
// checked does not pass.
const (
	// celCostLimit bounds the work of one evaluation (CEL's cost units,
	// roughly one per operation and per element a comprehension visits).
	celCostLimit = 100000
	// celTimeout bounds one evaluation in wall time.
	celTimeout = 100 * time.Millisecond
	// celMaxExpressionCodePoints and celMaxRecursion bound parsing.
	celMaxExpressionCodePoints = MaxPolicyTextChars
	celMaxRecursion            = 64
)

var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("item", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("params", cel.MapType(cel.StringType, cel.StringType)),
		cel.ParserExpressionSizeLimit(celMaxExpressionCodePoints),
		cel.ParserRecursionLimit(celMaxRecursion),
	)
})

// celProgram is a compiled CEL rule.
type celProgram struct {
	prg cel.Program
}

// compileCEL compiles a policy text; the error is an *InvalidError whose
// message says what is wrong and where.
func compileCEL(text string) (*celProgram, error) {
	if strings.TrimSpace(text) == "" {
		return nil, invalid("PolicyText must not be empty.")
	}
	if len(text) > MaxPolicyTextChars {
		return nil, invalid("PolicyText is longer than %d characters.", MaxPolicyTextChars)
	}
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("configsvc: cel environment: %w", err)
	}
	ast, iss := env.Compile(text)
	if iss != nil && iss.Err() != nil {
		return nil, invalid("PolicyText is not a valid %s expression: %s", PolicyRuntimeCEL, truncate(iss.Err().Error(), 512))
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
		return nil, invalid("PolicyText must evaluate to a bool (true is COMPLIANT), not %s.", t)
	}
	prg, err := env.Program(ast, cel.CostLimit(celCostLimit), cel.InterruptCheckFrequency(64))
	if err != nil {
		return nil, invalid("PolicyText cannot be evaluated: %s", truncate(err.Error(), 512))
	}
	return &celProgram{prg: prg}, nil
}

// itemValue is the item as CEL sees it: its JSON, with configuration and
// supplementaryConfiguration decoded.
func itemValue(it *Item) (map[string]any, error) {
	b, err := json.Marshal(it)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func (p *celProgram) eval(ctx context.Context, it *Item, raw map[string]string) verdict {
	m, err := itemValue(it)
	if err != nil {
		return bad("The configuration item cannot be read.")
	}
	if raw == nil {
		raw = map[string]string{}
	}
	ctx, cancel := context.WithTimeout(ctx, celTimeout)
	defer cancel()
	out, _, err := p.prg.ContextEval(ctx, map[string]any{"item": m, "params": raw})
	if err != nil {
		if ctx.Err() != nil {
			return bad("Evaluation error: the policy took longer than %s.", celTimeout)
		}
		return bad("Evaluation error: %s", err.Error())
	}
	b, isBool := out.Value().(bool)
	if !isBool {
		return bad("Evaluation error: the policy yielded %s, not a bool.", out.Type().TypeName())
	}
	if b {
		return ok()
	}
	return bad("The policy evaluated to false.")
}
