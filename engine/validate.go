package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/tasks"
	"github.com/wfrun/wfrun/tasks/eval"
)

// ErrInvalidDefinition is matched (errors.Is) by every *ValidationError.
var ErrInvalidDefinition = errors.New("invalid workflow definition")

// Problem is one definition problem at a JSON pointer ("" = the document).
type Problem struct {
	Location string `json:"location"`
	Message  string `json:"message"`
}

func (p Problem) String() string {
	if p.Location == "" {
		return p.Message
	}
	return p.Location + ": " + p.Message
}

// ValidationError lists every problem found in a definition.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid workflow definition (%d problem", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString(")")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidDefinition) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidDefinition }

type validator struct {
	cfg      *parseConfig
	prefix   string
	problems []Problem
	refs     map[string]*WorkflowTask
	// unknownRefs are references to no task of the definition where
	// Conductor does not refuse them (Definition.UnknownReferences).
	unknownRefs []Problem
	// runTime: the tasks were built at run time (a FORK_JOIN_DYNAMIC's),
	// not registered; what Conductor's mappers judge as they schedule a
	// task is left to the task.
	runTime bool
}

func (v *validator) add(loc, format string, args ...any) {
	v.problems = append(v.problems, Problem{Location: v.prefix + loc, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	// Document order: problems are found in several passes.
	sort.SliceStable(v.problems, func(i, j int) bool { return pointerLess(v.problems[i].Location, v.problems[j].Location) })
	return &ValidationError{Problems: v.problems}
}

// pointerLess orders JSON pointers segment by segment, array indexes
// numerically ("/tasks/2" before "/tasks/10").
func pointerLess(a, b string) bool {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] == bs[i] {
			continue
		}
		ai, aerr := strconv.Atoi(as[i])
		bi, berr := strconv.Atoi(bs[i])
		if aerr == nil && berr == nil {
			return ai < bi
		}
		return as[i] < bs[i]
	}
	return len(as) < len(bs)
}

func asErr[T error](err error, target *T) bool { return errors.As(err, target) }

// iterSuffix matches the "__N" suffixes of DO_WHILE iteration task refs.
var iterSuffix = regexp.MustCompile(`(__\d+)+$`)

// CheckRegistrable reports what Conductor's metadata validation refuses in
// a definition that a run accepts: a workflow without tasks. Conductor
// starts such a workflow, when it is given inline (a start request's
// definition, a SUB_WORKFLOW's workflowDefinition), and completes it at
// once with "No tasks found to be executed"; its metadata API refuses to
// register it ("WorkflowTask list cannot be empty"), and so does its
// start endpoint, which validates the request. The result is a
// *ValidationError (errors.Is ErrInvalidDefinition).
func CheckRegistrable(d *Definition) error {
	if len(d.Tasks) == 0 {
		return &ValidationError{Problems: []Problem{{Location: "/tasks", Message: "the workflow has no tasks (WorkflowTask list cannot be empty)"}}}
	}
	return nil
}

func (v *validator) definition(d *Definition) {
	if d.SchemaVersion != nil && *d.SchemaVersion != 2 {
		v.add("/schemaVersion", "schemaVersion %d is not supported (must be 2)", *d.SchemaVersion)
	}
	if strings.TrimSpace(d.Name) == "" {
		v.add("/name", "missing workflow name")
	}
	// A timeoutSeconds of 0 or less is no timeout (Conductor's
	// checkWorkflowTimeout); its registration sets no minimum.
	switch strings.ToUpper(d.TimeoutPolicy) {
	case "", TimeoutWorkflow, TimeoutAlertOnly:
	default:
		v.add("/timeoutPolicy", "unknown workflow timeoutPolicy %q (want TIME_OUT_WF or ALERT_ONLY)", d.TimeoutPolicy)
	}
	if len(d.Variables) > 0 && string(d.Variables) != "null" && d.Variables[0] != '{' {
		v.add("/variables", "must be a JSON object")
	}
	// Pass 1: locations and reference names (nested lists included).
	v.refs = map[string]*WorkflowTask{}
	v.walk(d.Tasks, "/tasks", func(t *WorkflowTask) {
		if strings.TrimSpace(t.TaskReferenceName) == "" {
			v.add(t.loc+"/taskReferenceName", "missing taskReferenceName")
			return
		}
		if prev, dup := v.refs[t.TaskReferenceName]; dup {
			v.add(t.loc+"/taskReferenceName", "duplicate taskReferenceName %q (first used at %s)", t.TaskReferenceName, v.prefix+prev.loc)
			return
		}
		v.refs[t.TaskReferenceName] = t
	})
	d.refs = v.refs
	// Pass 2: each task.
	v.walk(d.Tasks, "/tasks", v.task)
	// An empty outputParameters object means "the last task's output", as in
	// Conductor (its decider only maps a non-empty map).
	if op := strings.TrimSpace(string(d.OutputParameters)); op != "" && op != "null" && strings.ReplaceAll(op, " ", "") != "{}" {
		d.outputTmpl = v.compile(d.OutputParameters, "/outputParameters")
	}
	d.adHoc = make(map[*WorkflowTask]*TaskDef, len(d.refs))
	for _, t := range d.refs {
		if t.Name != "" {
			d.adHoc[t] = adHocTaskDef(t)
		}
	}
}

// walk visits every task of a list, nested ones included, in definition
// order, setting each task's location first.
func (v *validator) walk(list []*WorkflowTask, loc string, fn func(*WorkflowTask)) {
	for i, t := range list {
		l := loc + "/" + itoa(i)
		if t == nil {
			v.add(l, "task is null")
			continue
		}
		t.loc = l
		fn(t)
		keys := make([]string, 0, len(t.DecisionCases))
		for k := range t.DecisionCases {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v.walk(t.DecisionCases[k], l+"/decisionCases/"+pointerEscape(k), fn)
		}
		v.walk(t.DefaultCase, l+"/defaultCase", fn)
		for j, branch := range t.ForkTasks {
			v.walk(branch, l+"/forkTasks/"+itoa(j), fn)
		}
		v.walk(t.LoopOver, l+"/loopOver", fn)
	}
}

func (v *validator) compile(doc json.RawMessage, loc string) *interpolate.Template {
	tmpl, err := interpolate.Compile(doc, interpolate.WithLocation(v.prefix+loc))
	if err != nil {
		var ie *interpolate.Error
		if errors.As(err, &ie) {
			v.problems = append(v.problems, Problem{Location: ie.Location, Message: strings.TrimPrefix(err.Error(), ie.Location+": ")})
		} else {
			v.add(loc, "%v", err)
		}
		return nil
	}
	if v.prefix != "" || nestedTaskLoc(loc) || !strings.Contains(loc, "/inputParameters") {
		// Conductor checks that references name a task of the workflow
		// in its top-level tasks' inputParameters only
		// (TaskReferenceNameUniqueConstraint.verifyTaskInputParameters):
		// not in outputParameters, in tasks nested in a SWITCH, FORK or
		// DO_WHILE, nor in an inline sub-workflow. Such a reference
		// resolves to nothing at run time, as there; `wfrun validate`
		// warns of it (UnknownReferences).
		for _, ref := range v.unknownReferences(tmpl) {
			v.unknownRefs = append(v.unknownRefs, Problem{Location: v.prefix + loc,
				Message: fmt.Sprintf("reference to unknown task %q (no task has this taskReferenceName) resolves to null", ref)})
		}
		return tmpl
	}
	for _, ref := range v.unknownReferences(tmpl) {
		v.add(loc, "reference to unknown task %q (no task has this taskReferenceName)", ref)
	}
	return tmpl
}

// unknownReferences lists the task references of tmpl that name no task
// of the definition (a DO_WHILE iteration's `__N` suffix allowed).
func (v *validator) unknownReferences(tmpl *interpolate.Template) []string {
	var out []string
	for _, ref := range tmpl.References() {
		if _, ok := v.refs[ref]; ok {
			continue
		}
		if _, ok := v.refs[iterSuffix.ReplaceAllString(ref, "")]; ok {
			continue
		}
		out = append(out, ref)
	}
	return out
}

// beanValidated: Conductor's registration checks t's type-specific
// fields (WorkflowTaskTypeConstraint): t is a task of a top-level
// definition, not one built at run time, reached from the definition's
// tasks through cases, default cases and fork branches only. Those lists
// cascade the check; a DO_WHILE's loopOver and an inline sub-workflow's
// definition do not, so what is under them is judged when it runs; nor
// is a definition a SUB_WORKFLOW's workflowDefinition expression gives
// (parseUnregistered).
func (v *validator) beanValidated(t *WorkflowTask) bool {
	if v.prefix != "" || v.runTime || v.cfg.unregistered {
		return false
	}
	return !underLoopOver(t.loc)
}

// parseUnregistered parses a definition given at run time, a SUB_WORKFLOW's
// workflowDefinition resolved from an expression: Conductor's
// SubWorkflowTaskMapper and SubWorkflow.start take it as it is, without
// its registration's checks (beanValidated).
func (e *Engine) parseUnregistered(b []byte) (*Definition, error) {
	return parseDefinition(b, "", &parseConfig{registry: e.registry, unregistered: true})
}

// underLoopOver: loc ("/tasks/0/loopOver/1/...") has a loopOver list
// among its task lists (a case key is skipped, whatever it spells).
func underLoopOver(loc string) bool {
	seg := strings.Split(loc, "/")
	// seg[0] is "", seg[1] the top list, seg[2] its index.
	for i := 3; i < len(seg); {
		switch seg[i] {
		case "loopOver":
			return true
		case "decisionCases", "forkTasks":
			i += 3 // name, key or branch, index
		case "defaultCase":
			i += 2
		default:
			return false // a field of the task, past its list
		}
	}
	return false
}

// terminate checks a TERMINATE's terminationStatus and optional flag as
// Conductor's registration does (WorkflowTaskTypeConstraint): the status
// given, COMPLETED, FAILED or TERMINATED spelled so (so no expression),
// and not optional. Where that check does not reach (beanValidated: under
// a loopOver, in an inline sub-workflow, a task built at run time) the
// definition stands and Terminate.execute judges the status as resolved
// when the task runs: a missing or unknown one fails the task ("given
// termination status is not valid", terminateCheck). A status that is
// not text is refused everywhere: registration refuses it, and where it
// does not check, Terminate.execute's cast throws out of Conductor's
// decide, which leaves no state of the run to match.
func (v *validator) terminate(t *WorkflowTask) {
	var in struct {
		Status json.RawMessage `json:"terminationStatus"`
	}
	_ = json.Unmarshal(t.InputParameters, &in)
	loc := t.loc + "/inputParameters/terminationStatus"
	given := len(in.Status) > 0 && string(in.Status) != "null"
	var s string
	if given && json.Unmarshal(in.Status, &s) != nil {
		if v.beanValidated(t) {
			v.add(loc, "terminationStatus %s is not COMPLETED, FAILED or TERMINATED", in.Status)
		} else {
			// Terminate.execute's cast to text throws out of Conductor's
			// decide, and the run would stay RUNNING: it fails instead.
			t.setMapErr(fmt.Sprintf("TERMINATE %q at %s: terminationStatus %s is not text (COMPLETED, FAILED or TERMINATED)", t.TaskReferenceName, v.prefix+loc, in.Status))
		}
		return
	}
	if !v.beanValidated(t) {
		return
	}
	switch {
	case !given:
		v.add(t.loc+"/inputParameters", "TERMINATE needs a terminationStatus: COMPLETED, FAILED or TERMINATED")
	case strings.Contains(s, "${"):
		v.add(loc, "TERMINATE %q: terminationStatus %q is an expression; it must be given as COMPLETED, FAILED or TERMINATED (an expression is allowed only in a DO_WHILE's loopOver)", t.TaskReferenceName, s)
	case !validTerminationStatus(s):
		v.add(loc, "terminationStatus %q is not COMPLETED, FAILED or TERMINATED", s)
	}
	if t.Optional {
		v.add(t.loc+"/optional", "TERMINATE %q cannot be optional", t.TaskReferenceName)
	}
}

// nestedTaskLoc: loc is inside a task nested in another (a case, a fork
// branch, a loop).
func nestedTaskLoc(loc string) bool {
	for _, k := range []string{"/decisionCases/", "/defaultCase/", "/forkTasks/", "/loopOver/"} {
		if strings.Contains(loc, k) {
			return true
		}
	}
	return false
}

func (v *validator) knownType(typ string) bool {
	if controlTypes[typ] {
		return true
	}
	if v.cfg.registry != nil {
		_, ok := v.cfg.registry.Lookup(typ)
		return ok
	}
	for _, t := range defaultLeafTypes {
		if t == typ {
			return true
		}
	}
	return false
}

func (v *validator) task(t *WorkflowTask) {
	if t.Type == "" {
		t.Type = TypeSimple // Conductor's default
	}
	if !v.knownType(t.Type) {
		if t.Type == tasks.TypeExec {
			// EXEC runs local commands, so it is off unless enabled.
			v.add(t.loc+"/type", "task type EXEC is disabled: enable it with `wfrun run --allow-exec` (embedders: tasks.RegisterExec on the engine's registry)")
		} else {
			v.add(t.loc+"/type", "unknown task type %q", t.Type)
		}
	}
	if strings.TrimSpace(t.Name) == "" {
		switch {
		case v.beanValidated(t):
			v.add(t.loc+"/name", "missing task name")
		case t.Type == TypeSimple:
			// Conductor schedules it under a null task type, which no
			// worker polls: the run would wait for ever. A system task
			// runs without a name, as there.
			t.setMapErr(fmt.Sprintf("task %q at %s has no name: a SIMPLE task is polled by its name, so no worker could ever take it", t.TaskReferenceName, v.prefix+t.loc))
		}
	}
	if len(t.InputParameters) > 0 && string(t.InputParameters) != "null" {
		if t.InputParameters[0] != '{' {
			v.add(t.loc+"/inputParameters", "must be a JSON object")
		} else {
			t.input = v.compile(t.InputParameters, t.loc+"/inputParameters")
			v.outputFilter(t)
		}
	}
	// A negative retryCount is no retry (Conductor's retry()); the
	// WorkflowTask's registration sets no minimum. Its startDelay it
	// checks (@PositiveOrZero) where it checks the task (beanValidated);
	// elsewhere a negative one is no delay.
	if t.StartDelay < 0 && v.beanValidated(t) {
		v.add(t.loc+"/startDelay", "startDelay %d must not be negative", t.StartDelay)
	}
	if err := checkRetryLogic(t.RetryLogic); err != nil {
		v.add(t.loc+"/retryLogic", "%v", err)
	}
	if t.TaskDefinition != nil {
		if err := checkRetryLogic(t.TaskDefinition.RetryLogic); err != nil {
			v.add(t.loc+"/taskDefinition/retryLogic", "%v", err)
		}
		switch strings.ToUpper(t.TaskDefinition.TimeoutPolicy) {
		case "", TimeoutRetry, TimeoutWorkflow, TimeoutAlertOnly:
		default:
			v.add(t.loc+"/taskDefinition/timeoutPolicy", "unknown timeoutPolicy %q (want RETRY, TIME_OUT_WF or ALERT_ONLY)", t.TaskDefinition.TimeoutPolicy)
		}
	}
	switch t.Type {
	case TypeSwitch, TypeDecision:
		v.switchTask(t)
	case TypeDoWhile:
		v.doWhile(t)
	case TypeForkJoin:
		v.forkJoin(t)
	case TypeForkJoinDynamic:
		v.dynamicFork(t)
	case TypeDynamic:
		// Where registration does not check it, DynamicTaskMapper reads
		// the name from input.get(null) and throws ("Parameter= null",
		// dynamicTarget).
		if t.DynamicTaskNameParam == "" && v.beanValidated(t) {
			v.add(t.loc+"/dynamicTaskNameParam", "DYNAMIC needs dynamicTaskNameParam (the input member naming the task)")
		}
	case TypeEvent:
		// Registration refuses a sink that is not given (null); where it
		// does not check the task, Event.start fails it on the null
		// (eventQueue). A given one, blank too, is judged when it runs.
		var f struct {
			Sink *string `json:"sink"`
		}
		_ = json.Unmarshal(t.raw, &f)
		t.sinkNull = f.Sink == nil
		if f.Sink == nil && v.beanValidated(t) {
			v.add(t.loc+"/sink", "EVENT needs a sink")
		} else if strings.Contains(t.Sink, "$") {
			doc, _ := json.Marshal(map[string]string{"sink": t.Sink})
			t.sinkTmpl = v.compile(doc, t.loc)
			if t.sinkTmpl != nil && t.sinkTmpl.HasSecrets() {
				// The queue name is shown in the task's output and sent to the sink.
				v.add(t.loc+"/sink", "an EVENT sink cannot come from a secret")
			}
		}
	case TypeJoin:
		for i, ref := range t.JoinOn {
			if _, ok := v.refs[ref]; !ok {
				v.add(t.loc+"/joinOn/"+itoa(i), "JOIN waits on unknown task %q", ref)
			}
		}
	case TypeExclusiveJoin:
		v.exclusiveJoin(t)
	case TypeSubWorkflow:
		v.subWorkflow(t)
	case TypeWait:
		v.wait(t)
	case TypeLambda:
		var in struct {
			Script string `json:"scriptExpression"`
		}
		_ = json.Unmarshal(t.InputParameters, &in)
		if strings.TrimSpace(in.Script) == "" {
			v.add(t.loc+"/inputParameters/scriptExpression", "LAMBDA needs a scriptExpression")
		} else if !strings.Contains(in.Script, "${") {
			// Conductor's registration does not check the script: one
			// that does not compile is compiled again when the task runs,
			// and fails it there (lambda).
			if p, err := eval.Compile(eval.TypeJavaScript, "(function(){ "+in.Script+"\n})()"); err == nil {
				t.program, t.evalType = p, eval.TypeJavaScript
			}
		}
	case TypeTerminate:
		v.terminate(t)
	}
	v.secretRules(t)
	// Conductor's registration checks nothing of an INLINE task
	// (WorkflowTaskTypeConstraint has no case for it): an evaluatorType or
	// expression Inline.execute cannot run fails the task when it runs
	// (tasks.InlineTask), wherever the task is. Its secret rules are
	// wfrun's, checked above.
	if !controlTypes[t.Type] && t.Type != tasks.TypeInline && v.cfg.registry != nil {
		if impl, ok := v.cfg.registry.Lookup(t.Type); ok {
			if val, ok := impl.(tasks.Validator); ok {
				for _, err := range val.Validate(t.raw) {
					v.add(t.loc, "%v", err)
				}
			}
		}
	}
}

func (v *validator) program(t *WorkflowTask, loc, evalType, expr string) {
	p, err := eval.Compile(evalType, expr)
	if err != nil {
		v.add(loc, "%v", err)
		return
	}
	t.program, t.evalType = p, evalType
	if t.Type == TypeSwitch || t.Type == TypeDecision {
		t.casesThrow = casesMayThrow(t) // once: the definition's runs share it
	}
}

func (v *validator) switchTask(t *WorkflowTask) {
	t.namesTaskID = bytes.Contains(t.InputParameters, []byte("CPEWF_TASK_ID"))
	// Conductor's registration (WorkflowTaskTypeConstraint) refuses a
	// SWITCH or DECISION whose decisionCases are missing or empty, and a
	// SWITCH without evaluatorType, or with one but no expression (null:
	// absent; an empty string is given).
	var f struct {
		EvaluatorType *string          `json:"evaluatorType"`
		Expression    *string          `json:"expression"`
		DecisionCases *json.RawMessage `json:"decisionCases"`
	}
	_ = json.Unmarshal(t.raw, &f)
	bean := v.beanValidated(t)
	refused := false
	if t.Type == TypeSwitch && bean {
		switch {
		case f.EvaluatorType == nil:
			v.add(t.loc+"/evaluatorType", "SWITCH %q needs an evaluatorType", t.TaskReferenceName)
			refused = true
		case f.Expression == nil:
			v.add(t.loc+"/expression", "SWITCH %q needs an expression", t.TaskReferenceName)
			refused = true
		}
	}
	// Where registration does not check the task (beanValidated), a
	// SWITCH without cases runs its defaultCase (SwitchTaskMapper,
	// DecisionTaskMapper); null cases stay refused (the mapper's lookup
	// in them throws out of Conductor's decide).
	switch {
	case f.DecisionCases != nil && string(*f.DecisionCases) == "null":
		v.add(t.loc+"/decisionCases", "%s %q needs decisionCases with at least one case", t.Type, t.TaskReferenceName)
	case len(t.DecisionCases) == 0 && bean:
		v.add(t.loc+"/decisionCases", "%s %q needs decisionCases with at least one case", t.Type, t.TaskReferenceName)
	}
	if refused {
		return
	}
	if t.Type == TypeDecision {
		// DecisionTaskMapper evaluates caseExpression (JavaScript) when it
		// is not blank, else takes the input named by caseValueParam; a
		// SWITCH's evaluatorType and expression mean nothing to it, and
		// Conductor rejects a DECISION with neither case field where it
		// checks the task; elsewhere the mapper reads input.get(null):
		// "null". Registration checks a caseExpression's syntax; where it
		// does not, the mapper's evaluation throws ("Error while
		// evaluating script").
		switch {
		case strings.TrimSpace(t.CaseExpression) != "":
			v.programOrBroken(t, t.loc+"/caseExpression", eval.TypeJavaScript, t.CaseExpression, bean)
		case t.CaseValueParam != "":
			v.program(t, t.loc+"/caseValueParam", eval.TypeValueParam, t.CaseValueParam)
		default:
			hasExpr, hasParam := decisionCaseFields(t)
			if !hasExpr && !hasParam && bean {
				v.add(t.loc, "DECISION needs a caseValueParam or a caseExpression (evaluatorType and expression are SWITCH's)")
				return
			}
			// A blank caseExpression, an empty caseValueParam: the
			// mapper takes "" + input[caseValueParam], "null" for no
			// such member (none can be named by a caseValueParam that
			// is absent).
			t.program, t.evalType = blankCase{named: hasParam}, eval.TypeValueParam
			t.casesThrow = casesMayThrow(t)
		}
		return
	}
	// SwitchTaskMapper looks the evaluatorType up among its evaluators
	// and throws when it has none of that name (registration checks
	// only that one is given): the run fails with its words, wherever
	// the task is. A SWITCH without evaluatorType where registration
	// does not check it is one of those (null).
	typ, expr := t.EvaluatorType, t.Expression
	if f.EvaluatorType == nil || !eval.Known(typ) {
		shown := typ
		if f.EvaluatorType == nil {
			shown = "null"
		}
		t.setMapErr("No evaluator registered for type: " + shown)
		return
	}
	if strings.TrimSpace(expr) == "" {
		switch {
		case f.Expression == nil && typ != eval.TypeValueParam:
			// A script that is null: ScriptEvaluator throws, and the
			// mapper records the SWITCH FAILED.
			t.program, t.evalType = brokenProgram{err: fmt.Errorf("SWITCH %q has no expression to evaluate", t.TaskReferenceName)}, typ
		default:
			// input.get(null), input.get(""), a blank script: no value,
			// the case "null".
			t.program, t.evalType = blankCase{named: f.Expression != nil && expr == "" && typ == eval.TypeValueParam}, typ
		}
		t.casesThrow = casesMayThrow(t)
		return
	}
	// Registration checks the syntax of a javascript expression (not a
	// graaljs one); wfrun's expr is checked there too. Elsewhere the
	// mapper's evaluation throws, and it records the SWITCH FAILED.
	v.programOrBroken(t, t.loc+"/expression", typ, expr, bean && typ != eval.TypeGraalJS)
}

// programOrBroken compiles expr as v.program does; when it does not
// compile and check is false (Conductor's registration does not check
// it), the task takes a program that throws the compile error when it is
// evaluated (brokenProgram), as Conductor's evaluator throws then.
func (v *validator) programOrBroken(t *WorkflowTask, loc, evalType, expr string, check bool) {
	if check {
		v.program(t, loc, evalType, expr)
		return
	}
	p, err := eval.Compile(evalType, expr)
	if err != nil {
		p = brokenProgram{err: err}
	}
	t.program, t.evalType = p, evalType
	if t.Type == TypeSwitch || t.Type == TypeDecision {
		t.casesThrow = casesMayThrow(t)
	}
}

// setMapErr records the first of t's problems its mapping throws (mapErr).
func (t *WorkflowTask) setMapErr(reason string) {
	if t.mapErr == "" {
		t.mapErr = reason
	}
}

// forkJoin checks a FORK_JOIN's branches. Registration refuses one with
// no branch where it checks the task; elsewhere ForkJoinTaskMapper maps
// the FORK and the JOIN with nothing between. It checks no branch's
// length: the mapper takes each branch's first task and throws out of
// Conductor's decide on an empty one. The first decide is the start's,
// which then fails: wfrun refuses such a fork where the start maps it
// whatever the input (firstMapped); elsewhere the run, which would stay
// RUNNING, fails naming the branch when the fork is to be mapped.
func (v *validator) forkJoin(t *WorkflowTask) {
	if len(t.ForkTasks) == 0 {
		if v.beanValidated(t) {
			v.add(t.loc+"/forkTasks", "FORK_JOIN needs at least one branch")
		}
		return
	}
	for i, b := range t.ForkTasks {
		if len(b) > 0 {
			continue
		}
		loc := t.loc + "/forkTasks/" + itoa(i)
		if v.prefix == "" && !v.runTime && !v.cfg.unregistered && firstMapped.MatchString(t.loc) {
			v.add(loc, "FORK_JOIN %q: fork branch %d has no task (Conductor's ForkJoinTaskMapper cannot map it, so the workflow cannot start)", t.TaskReferenceName, i)
			continue
		}
		t.setMapErr(fmt.Sprintf("FORK_JOIN %q at %s: fork branch %d has no task, which Conductor's ForkJoinTaskMapper cannot map", t.TaskReferenceName, v.prefix+loc, i))
	}
}

// firstMapped matches the location of a task the first decide maps
// whatever the input: the definition's first task, and the first task of
// each branch of a FORK_JOIN it maps.
var firstMapped = regexp.MustCompile(`^/tasks/0(/forkTasks/\d+/0)*$`)

func (v *validator) doWhile(t *WorkflowTask) {
	bean := v.beanValidated(t)
	if len(t.LoopOver) == 0 {
		if bean {
			v.add(t.loc+"/loopOver", "DO_WHILE needs at least one task in loopOver")
		} else {
			// DoWhile.execute's scheduleNextIteration takes the first
			// task of an empty list: it throws out of Conductor's decide,
			// and the run would stay RUNNING. It fails instead.
			t.setMapErr(fmt.Sprintf("DO_WHILE %q at %s has no task in loopOver", t.TaskReferenceName, v.prefix+t.loc))
		}
	}
	v.loopItems(t)
	// Registration (isDoWhileTaskValid) requires a loopCondition, items
	// or not (null is none; a blank one is given); it does not check its
	// syntax. Where registration does not check the task, DoWhile takes
	// no condition as false: one iteration, or the items.
	var f struct {
		LoopCondition *string `json:"loopCondition"`
	}
	_ = json.Unmarshal(t.raw, &f)
	if f.LoopCondition == nil && bean {
		v.add(t.loc+"/loopCondition", "DO_WHILE %q needs a loopCondition (items or not)", t.TaskReferenceName)
		return
	}
	if strings.TrimSpace(t.LoopCondition) == "" {
		return
	}
	// Conductor's DoWhile evaluates the loopCondition as JavaScript
	// (ScriptEvaluator.evalBool) whatever evaluatorType the task gives: a
	// value-param or unknown one neither changes how it reads nor is
	// refused. wfrun's own expr, which Conductor has not, is the one
	// other. A script that does not compile fails the loop when its
	// condition is evaluated (DoWhile's "Unable to evaluate condition"),
	// as there; an expr is checked where registration checks the task.
	typ := eval.TypeJavaScript
	switch t.EvaluatorType {
	case eval.TypeGraalJS, eval.TypeExpr:
		typ = t.EvaluatorType
	}
	v.programOrBroken(t, t.loc+"/loopCondition", typ, t.LoopCondition, bean && typ == eval.TypeExpr)
}

// loopItems compiles a DO_WHILE's items. Conductor's WorkflowTask.items
// is text: Jackson refuses a definition giving it a list or an object,
// wherever the task is, and reads a number or a boolean as its text (a
// template of that text, resolving to a string). Orkes' list form is
// inputParameters.items (loop.go, loopItems).
func (v *validator) loopItems(t *WorkflowTask) {
	b := bytes.TrimSpace(t.Items)
	if len(b) == 0 || string(b) == "null" {
		return
	}
	switch b[0] {
	case '[', '{':
		kind := "a list"
		if b[0] == '{' {
			kind = "an object"
		}
		v.add(t.loc+"/items", "DO_WHILE %q: items is %s; Conductor reads items as text (a template such as \"${workflow.input.list}\"); a list given as it is goes in inputParameters._items", t.TaskReferenceName, kind)
		return
	case '"':
		t.items = v.compile(t.Items, t.loc+"/items")
	default:
		text, _ := json.Marshal(string(b))
		t.items = v.compile(text, t.loc+"/items")
	}
}

// dynamicFork checks how a FORK_JOIN_DYNAMIC names its tasks. Conductor's
// registration (isDynamicForkJoinValid, where it checks the task:
// beanValidated) accepts inputParameters.forkTaskInputs alone; else the
// pair dynamicForkTasksParam and dynamicForkTasksInputParamName, each
// given (null is not), or its older dynamicForkJoinTasksParam alone, never
// beside them. Where registration does not check the task, ForkJoinDynamicTaskMapper
// reads dynamicForkTasksParam when it is given, else the older form
// (legacyDynamicTasks), whose missing member ends the run.
func (v *validator) dynamicFork(t *WorkflowTask) {
	if hasInputKey(t, "forkTaskInputs") {
		return
	}
	var f struct {
		Legacy *string `json:"dynamicForkJoinTasksParam"`
		Param  *string `json:"dynamicForkTasksParam"`
		Input  *string `json:"dynamicForkTasksInputParamName"`
	}
	_ = json.Unmarshal(t.raw, &f)
	if v.beanValidated(t) {
		switch {
		case f.Legacy != nil && (f.Param != nil || f.Input != nil):
			v.add(t.loc, "FORK_JOIN_DYNAMIC %q: dynamicForkJoinTasksParam or dynamicForkTasksParam with dynamicForkTasksInputParamName, not both", t.TaskReferenceName)
			return
		case f.Legacy == nil && f.Param != nil && f.Input == nil:
			v.add(t.loc+"/dynamicForkTasksInputParamName", "FORK_JOIN_DYNAMIC %q needs dynamicForkTasksInputParamName beside dynamicForkTasksParam", t.TaskReferenceName)
			return
		}
	}
	if f.Legacy == nil && f.Param == nil && v.beanValidated(t) {
		v.add(t.loc, "FORK_JOIN_DYNAMIC %q needs dynamicForkTasksParam (and dynamicForkTasksInputParamName), dynamicForkJoinTasksParam, or inputParameters.forkTaskInputs", t.TaskReferenceName)
	}
}

func (v *validator) subWorkflow(t *WorkflowTask) {
	p := t.SubWorkflowParam
	if p == nil {
		v.add(t.loc+"/subWorkflowParam", "SUB_WORKFLOW needs subWorkflowParam")
		return
	}
	v.subWorkflowExtras(t)
	wd := p.WorkflowDefinition
	if len(wd) > 0 && wd[0] == '{' {
		sub, err := parseDefinition(wd, v.prefix+t.loc+"/subWorkflowParam/workflowDefinition", v.cfg)
		if err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) {
				v.problems = append(v.problems, ve.Problems...)
			}
			return
		}
		t.subDef = sub
		return
	}
	if len(wd) > 0 && wd[0] == '"' {
		var expr string
		if err := json.Unmarshal(wd, &expr); err != nil || !isExpression(expr) {
			v.add(t.loc+"/subWorkflowParam/workflowDefinition", "must be a workflow definition (a JSON object) or an expression giving one")
			return
		}
		doc, _ := json.Marshal(map[string]string{"workflowDefinition": expr})
		t.subDefExpr = v.compile(doc, t.loc+"/subWorkflowParam/workflowDefinition")
		if t.subDefExpr != nil && t.subDefExpr.HasSecrets() {
			v.add(t.loc+"/subWorkflowParam/workflowDefinition", "a sub-workflow definition cannot come from a secret")
		}
	}
	if strings.TrimSpace(p.Name) == "" {
		v.add(t.loc+"/subWorkflowParam/name", "SUB_WORKFLOW needs subWorkflowParam.name or an inline workflowDefinition")
		return
	}
	if strings.Contains(p.Name, "${") || p.VersionExpr != "" {
		doc, _ := json.Marshal(map[string]any{"name": p.Name, "version": p.VersionExpr})
		t.subParams = v.compile(doc, t.loc+"/subWorkflowParam")
		if t.subParams != nil && t.subParams.HasSecrets() {
			v.add(t.loc+"/subWorkflowParam", "a sub-workflow name or version cannot come from a secret")
		}
	}
}

// subWorkflowExtras validates the subWorkflowParam members wfrun shows in
// the SUB_WORKFLOW record without acting on them, and compiles them.
func (v *validator) subWorkflowExtras(t *WorkflowTask) {
	p, loc := t.SubWorkflowParam, t.loc+"/subWorkflowParam"
	switch p.IdempotencyStrategy {
	case "", "FAIL", "RETURN_EXISTING", "FAIL_ON_RUNNING":
	default:
		v.add(loc+"/idempotencyStrategy", "unknown idempotencyStrategy %q: want FAIL, RETURN_EXISTING or FAIL_ON_RUNNING", p.IdempotencyStrategy)
	}
	if pr := p.Priority; len(pr) > 0 {
		var n float64
		var s string
		switch {
		case json.Unmarshal(pr, &n) == nil:
			if n != float64(int(n)) || n < 0 || n > 99 {
				v.add(loc+"/priority", "priority %s: want an integer from 0 to 99", pr)
			}
		case json.Unmarshal(pr, &s) == nil && isExpression(s):
		default:
			v.add(loc+"/priority", "priority must be an integer from 0 to 99 or an expression")
		}
	}
	if len(p.Priority) == 0 && len(p.TaskToDomain) == 0 && p.IdempotencyKey == "" {
		return
	}
	doc, _ := json.Marshal(map[string]any{"priority": p.Priority, "taskToDomain": p.TaskToDomain, "idempotencyKey": p.IdempotencyKey})
	t.subExtra = v.compile(doc, loc)
	if t.subExtra != nil && t.subExtra.HasSecrets() {
		// They are shown in the record as resolved.
		v.add(loc, "priority, taskToDomain and idempotencyKey cannot come from a secret")
	}
}

func (v *validator) wait(t *WorkflowTask) {
	var in struct {
		Duration json.RawMessage `json:"duration"`
		Until    json.RawMessage `json:"until"`
	}
	_ = json.Unmarshal(t.InputParameters, &in)
	if !v.beanValidated(t) {
		// Built at run time (a dynamic fork's task), or where Conductor's
		// registration does not check the task (under a loopOver, in an
		// inline sub-workflow): its inputs are the task's to judge as it
		// starts, as WaitTaskMapper does (waitTask).
		return
	}
	// Read as WaitTaskMapper and WorkflowTaskTypeConstraint read them: as
	// text (toString: a number, a bool, an object too), a blank one not
	// given (it waits for ever when neither is). The constraint parses the
	// duration, else the until, unless it starts with "${" (resolved when
	// the WAIT starts, waitTask): a value that is not text never parses
	// (a duration needs a unit, an until a date).
	duration, until := waitInputText(in.Duration), waitInputText(in.Until)
	if duration != "" && !strings.HasPrefix(duration, "${") {
		if !isJSONString(in.Duration) {
			v.add(t.loc+"/inputParameters/duration", "invalid WAIT duration %s: not text", duration)
		} else if _, err := parseDuration(duration); err != nil {
			v.add(t.loc+"/inputParameters/duration", "invalid WAIT duration %q: %v", duration, err)
		}
	} else if until != "" && !strings.HasPrefix(until, "${") {
		if !isJSONString(in.Until) {
			v.add(t.loc+"/inputParameters/until", "invalid WAIT until %s: not text", until)
		} else if _, err := parseUntil(until); err != nil {
			v.add(t.loc+"/inputParameters/until", "invalid WAIT until %q: %v", until, err)
		}
	}
	if duration != "" && until != "" {
		v.add(t.loc+"/inputParameters", "Both 'duration' and 'until' specified. Please provide only one input")
	}
}

// isJSONString: raw is a JSON string.
func isJSONString(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '"'
}

func hasInputKey(t *WorkflowTask, key string) bool {
	var in map[string]json.RawMessage
	if json.Unmarshal(t.InputParameters, &in) != nil {
		return false
	}
	_, ok := in[key]
	return ok
}
