package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/wfrun/wfrun/interpolate"
)

// subWorkflowName resolves a SUB_WORKFLOW's subWorkflowParam name and
// version (either may be an expression, as Conductor's SubWorkflowTaskMapper
// resolves them).
func (r *runState) subWorkflowName(ctx context.Context, wt *WorkflowTask, rec *taskRecord) (string, int, error) {
	p := wt.SubWorkflowParam
	if wt.subParams == nil {
		return p.Name, p.Version, nil
	}
	b, _, err := wt.subParams.Execute(ctx, &runEnv{r: r, taskID: rec.TaskID, values: r.e.envValues}, interpolate.DeferSecrets, nil)
	if err != nil {
		return "", 0, fmt.Errorf("subWorkflowParam: %v", err)
	}
	var v struct {
		Name    any `json:"name"`
		Version any `json:"version"`
	}
	_ = json.Unmarshal(b, &v)
	name, _ := v.Name.(string)
	if strings.TrimSpace(name) == "" {
		return "", 0, fmt.Errorf("subWorkflowParam.name %q resolved to no workflow name", p.Name)
	}
	version := p.Version
	switch x := v.Version.(type) {
	case float64:
		version = int(x)
	case string:
		if x != "" {
			n, err := strconv.Atoi(strings.TrimSpace(x))
			if err != nil {
				return "", 0, fmt.Errorf("subWorkflowParam.version %q is not a number", x)
			}
			version = n
		}
	}
	return name, version, nil
}

// parentEnding reports whether ctx ended because its run is ending early
// (and why), rather than because the process is interrupted.
func parentEnding(ctx context.Context) (string, bool) {
	if ctx.Err() == nil {
		return "", false
	}
	cause := context.Cause(ctx)
	var st *stopError
	var wto *workflowTimeout
	var term *terminated
	var at *attemptTimeout
	switch {
	case errors.As(cause, &st):
		return st.reason, true
	case errors.As(cause, &wto):
		return wto.reason, true
	case errors.As(cause, &term):
		return term.reason, true
	case errors.As(cause, &at):
		return at.reason, true
	}
	return "", false
}
