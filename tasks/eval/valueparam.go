package eval

import (
	"context"
	"fmt"
	"strings"
)

// valueParam implements Conductor's "value-param": the expression is the
// name of an input key.
type valueParam struct{ cfg config }

type valueParamProgram struct {
	cfg config
	key string
}

func (v *valueParam) Compile(expression string) (Program, error) {
	if err := v.cfg.checkSize(TypeValueParam, expression); err != nil {
		return nil, err
	}
	// Conductor looks the key up verbatim; surrounding blanks are never
	// meant as part of a key, so they are trimmed.
	return &valueParamProgram{cfg: v.cfg, key: strings.TrimSpace(expression)}, nil
}

func (p *valueParamProgram) Eval(ctx context.Context, input any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, p.cfg.newError(TypeValueParam, PhaseEval, ErrTimeout, 0, 0, err.Error())
	}
	switch in := input.(type) {
	case map[string]any:
		return in[p.key], nil
	case nil:
		return nil, nil
	default:
		return nil, p.cfg.newError(TypeValueParam, PhaseEval, ErrEval, 0, 0,
			fmt.Sprintf("input must be a JSON object, got %T", input))
	}
}
