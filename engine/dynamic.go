package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/masking"
)

// dynamicFork returns the tasks a FORK_JOIN_DYNAMIC forks, one per branch,
// as Conductor's ForkJoinDynamicTaskMapper builds them: from
// inputParameters.forkTaskName / forkTaskType / forkTaskWorkflow +
// forkTaskInputs (one task per input, refs "_<name>_<i>", "__index" in the
// input), or from the list under dynamicForkTasksParam with the inputs under
// dynamicForkTasksInputParamName (a map ref → input). They are built from
// the fork's STORED input (masked, secret references kept as references),
// recorded in its inputData (forkedTasks, forkedTaskDefs), and read back from
// there on replay.
//
// Each forked task is marked with the fork record's task id (mappedBy):
// the definitions its mapping took are found under it (taskdefsnap.go).
func (r *runState) dynamicFork(ctx context.Context, wt *WorkflowTask, rec *taskRecord, _ []byte, done bool) ([]*WorkflowTask, error) {
	r.mu.Lock()
	stored := append([]byte(nil), rec.inMem...)
	forkID := rec.TaskID
	r.mu.Unlock()
	in := map[string]any{}
	if err := json.Unmarshal(orEmpty(stored), &in); err != nil {
		return nil, fmt.Errorf("FORK_JOIN_DYNAMIC input: %v", err)
	}
	if done {
		raw, _ := json.Marshal(in["forkedTaskDefs"])
		tasks, err := r.parseDynamicTasks(wt, raw)
		for _, t := range tasks {
			t.mappedBy = forkID
		}
		return tasks, err
	}
	list, err := r.dynamicTaskList(wt, rec, in)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	tasks, err := r.parseDynamicTasks(wt, raw)
	if err != nil {
		return nil, err
	}
	refs := make([]string, len(tasks))
	var ms []mapping
	for i, t := range tasks {
		refs[i] = t.TaskReferenceName
		t.mappedBy = forkID
		if t.TaskDefinition != nil {
			continue
		}
		ms = append(ms, mapping{ref: t.TaskReferenceName, name: t.Name})
		if t.Type == TypeDynamic {
			// Mapped with the fork (getTasksToBeScheduled): the
			// DynamicTaskMapper of a task without a definition of its
			// own name takes the one registered for the name it
			// resolves, now.
			if name, _, err := r.dynamicName(ctx, t); err == nil && name != "" {
				ms = append(ms, mapping{ref: t.TaskReferenceName, name: name})
			}
		}
	}
	// ForkJoinDynamicTaskMapper gives each WorkflowTask it forks without
	// a taskDefinition the one registered for its name now: the run holds
	// it from here on, or, where it differs from the one the run holds
	// for the name, notes it for this mapping (holdMappings), written
	// with this record.
	if err := r.holdMappings(forkID, ms); err != nil {
		return nil, err
	}
	in["forkedTasks"], in["forkedTaskDefs"] = refs, list
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	if err := r.setTaskData(rec, b, nil); err != nil {
		return nil, err
	}
	return tasks, nil
}

// checkDynamicFork builds a FORK_JOIN_DYNAMIC's tasks from its input
// (resolved with secret references kept) without recording anything, and
// reports why they cannot be forked.
func (r *runState) checkDynamicFork(ctx context.Context, wt *WorkflowTask) error {
	in := map[string]any{}
	if wt.input != nil {
		b, _, err := wt.input.Execute(ctx, &runEnv{r: r, values: r.e.envValues}, interpolate.DeferSecrets, nil)
		if err != nil {
			return fmt.Errorf("FORK_JOIN_DYNAMIC input: %v", err)
		}
		if err := json.Unmarshal(b, &in); err != nil {
			return fmt.Errorf("FORK_JOIN_DYNAMIC input: %v", err)
		}
	}
	list, err := r.dynamicTaskList(wt, nil, in)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(list)
	if err != nil {
		return err
	}
	forked, err := r.parseDynamicTasks(wt, raw)
	if err != nil {
		return err
	}
	// Each forked task is mapped with the fork (getTasksToBeScheduled):
	// a DYNAMIC one whose DynamicTaskMapper throws, or a SUB_WORKFLOW
	// one whose SubWorkflowTaskMapper throws (a child without a
	// definition), fails the run before anything of the fork is recorded.
	for _, t := range forked {
		if t.Type == TypeSubWorkflow {
			if err := r.subWorkflowMapperThrows(ctx, t, t.TaskReferenceName); err != nil {
				var stop *stopError
				if errors.As(err, &stop) {
					return errors.New(stop.reason)
				}
				return err
			}
			continue
		}
		if t.Type != TypeDynamic {
			continue
		}
		if _, _, err := r.dynamicTarget(ctx, t); err != nil {
			var stop *stopError
			if errors.As(err, &stop) {
				return errors.New(stop.reason)
			}
			return err
		}
	}
	return nil
}

func (r *runState) dynamicTaskList(wt *WorkflowTask, rec *taskRecord, in map[string]any) ([]map[string]any, error) {
	if inputs, ok := in["forkTaskInputs"].([]any); ok {
		return r.simpleDynamicTasks(wt, rec, in, inputs), nil
	}
	if wt.DynamicForkTasksParam == "" {
		return r.legacyDynamicTasks(wt, in)
	}
	param := wt.DynamicForkTasksParam
	// Conductor's ForkJoinDynamicTaskMapper reports any bad list — not a
	// list, an item not a task, a task without a taskReferenceName (its
	// "One of the tasks had a null/missing taskReferenceName" is thrown
	// inside the try that reports the list) — as one invalid input.
	badList := func() error {
		return fmt.Errorf("Input '%s' is invalid. Cannot deserialize a list of Workflow Tasks from '%s'", param, r.sec.Excerpt(jsonText(in[param]), 200))
	}
	rawList, ok := in[param].([]any)
	if !ok {
		return nil, badList()
	}
	inputs, ok := in[wt.DynamicForkTasksInputParamName].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("Input to the dynamically forked tasks is not a map -> expecting a map of K,V  but found %s", r.sec.Excerpt(jsonText(in[wt.DynamicForkTasksInputParamName]), 200))
	}
	out := make([]map[string]any, 0, len(rawList))
	for _, x := range rawList {
		t, _ := x.(map[string]any)
		ref, _ := t["taskReferenceName"].(string)
		if ref == "" {
			return nil, badList()
		}
		c := make(map[string]any, len(t))
		for k, v := range t {
			c[k] = v
		}
		if typ, _ := c["type"].(string); typ == "" {
			c["type"] = TypeSimple
		}
		if name, _ := c["name"].(string); name == "" && c["type"] != TypeSimple {
			// Conductor forks a system task (a SUB_WORKFLOW named by its
			// subWorkflowParam) without a name; it is named by its type,
			// as the forkTaskName form names one.
			c["name"] = c["type"]
		}
		params, _ := c["inputParameters"].(map[string]any)
		merged := map[string]any{}
		for k, v := range params {
			merged[k] = v
		}
		switch ti := inputs[ref].(type) {
		case map[string]any:
			for k, v := range ti {
				merged[k] = v
			}
		case nil:
		default:
			// ForkJoinDynamicTaskMapper casts each task's input to a Map.
			return nil, fmt.Errorf("Tasks could not be dynamically forked due to invalid input: the input of %q is %s, not a map", ref, jsonKindOf(json.RawMessage(jsonText(ti))))
		}
		c["inputParameters"] = merged
		out = append(out, c)
	}
	return out, nil
}

// legacyDynamicTasks is Conductor's older form (dynamicForkJoinTasksParam,
// ForkJoinDynamicTaskMapper.getDynamicForkJoinTasksAndInput): the input
// member it names holds a DynamicForkJoinTaskList, {"dynamicTasks":[...]},
// each entry a task's taskName, referenceName, type (SIMPLE when not
// given) and input, which becomes its inputParameters; its workflowName
// and anything else are ignored. A missing or null member ends the run in
// the mapper's words (its TerminateWorkflowException). A value Jackson
// cannot read as that list (not an object, dynamicTasks or an entry or its
// input of another kind) throws out of Conductor's decide, leaving the
// run RUNNING for ever (its start failing when it is the first decide):
// the run fails naming what is wrong instead.
func (r *runState) legacyDynamicTasks(wt *WorkflowTask, in map[string]any) ([]map[string]any, error) {
	param := wt.DynamicForkJoinTasksParam
	shown := param
	if shown == "" {
		shown = "null" // Conductor's field not given: input.get(null)
	}
	v, ok := in[param]
	if !ok || v == nil {
		return nil, fmt.Errorf("Dynamic tasks could not be created. The value of %s from task's input %s has no dynamic tasks to be scheduled", shown, r.sec.Excerpt(javaText(in), 200))
	}
	bad := func(what string, x any) error {
		return fmt.Errorf("Dynamic tasks could not be created: %s of input '%s' is %s, not a dynamic task list ({\"dynamicTasks\":[{\"taskName\":...,\"referenceName\":...,\"input\":{...}}]})",
			what, shown, kindOf(x))
	}
	list, ok := v.(map[string]any)
	if !ok {
		return nil, bad("the value", v)
	}
	entries, ok := list["dynamicTasks"].([]any)
	if _, given := list["dynamicTasks"]; given && !ok {
		return nil, bad("dynamicTasks", list["dynamicTasks"])
	}
	out := make([]map[string]any, 0, len(entries))
	for i, x := range entries {
		e, ok := x.(map[string]any)
		if !ok {
			return nil, bad("dynamicTasks["+strconv.Itoa(i)+"]", x)
		}
		params := map[string]any{}
		switch ti := e["input"].(type) {
		case map[string]any:
			for k, v := range ti {
				params[k] = v
			}
		case nil:
		default:
			return nil, bad("dynamicTasks["+strconv.Itoa(i)+"].input", ti)
		}
		t := map[string]any{"inputParameters": params}
		for from, to := range map[string]string{"taskName": "name", "referenceName": "taskReferenceName", "type": "type"} {
			if s, ok := e[from].(string); ok {
				t[to] = s
			} else if e[from] != nil {
				return nil, bad("dynamicTasks["+strconv.Itoa(i)+"]."+from, e[from])
			}
		}
		if typ, _ := t["type"].(string); typ == "" {
			t["type"] = TypeSimple
		}
		out = append(out, t)
	}
	return out, nil
}

// simpleDynamicTasks is the forkTaskName / forkTaskInputs form.
func (r *runState) simpleDynamicTasks(wt *WorkflowTask, rec *taskRecord, in map[string]any, inputs []any) []map[string]any {
	name, _ := in["forkTaskName"].(string)
	typ, _ := in["forkTaskType"].(string)
	subName, _ := in["forkTaskWorkflow"].(string)
	subVersion := 0
	if s, ok := in["forkTaskWorkflowVersion"].(string); ok {
		subVersion, _ = strconv.Atoi(s)
	}
	if name == "" && typ != "" && typ != TypeSimple {
		name = typ
	}
	if name == "" {
		name = wt.TaskReferenceName
	}
	if typ == "" {
		typ = TypeSimple
	}
	// Once the run holds a dynamic fork (another one, or this one in an
	// earlier DO_WHILE iteration), the refs are prefixed with the fork's
	// ref, as ForkJoinDynamicTaskMapper does when the workflow already has
	// a FORK_JOIN_DYNAMIC task.
	prefix := "_"
	r.mu.Lock()
	for _, t := range r.tasks {
		if t != rec && t.wt != nil && t.wt.Type == TypeForkJoinDynamic {
			prefix = "_" + wt.TaskReferenceName + "_"
			break
		}
	}
	r.mu.Unlock()
	out := make([]map[string]any, 0, len(inputs))
	for i, x := range inputs {
		params := map[string]any{}
		if m, ok := x.(map[string]any); ok {
			for k, v := range m {
				params[k] = v
			}
		} else {
			params["input"] = x
		}
		params["__index"] = i
		t := map[string]any{"name": name, "type": typ, "taskReferenceName": prefix + name + "_" + strconv.Itoa(i), "inputParameters": params}
		if subName != "" {
			t["name"], t["type"] = subName, TypeSubWorkflow
			sp := map[string]any{"name": subName}
			if subVersion > 0 {
				sp["version"] = subVersion
			}
			if m, ok := x.(map[string]any); ok {
				// A fork input's taskToDomain is its child's (the mapper's
				// generateSubWorkflowWorkflowTask).
				if tm, ok := stringMap(m["taskToDomain"]); ok {
					sp["taskToDomain"] = tm
				}
			}
			t["subWorkflowParam"] = sp
			t["taskReferenceName"] = prefix + name + "_" + strconv.Itoa(i)
		}
		if wt.Optional {
			t["optional"] = true
		}
		out = append(out, t)
	}
	return out
}

// parseDynamicTasks validates and compiles generated tasks like the tasks of
// a definition. Their inputs may reference only the secrets the definition
// itself references: run data never chooses which secret is read.
func (r *runState) parseDynamicTasks(fork *WorkflowTask, raw []byte) ([]*WorkflowTask, error) {
	var list []*WorkflowTask
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("dynamic tasks: %v", err)
	}
	v := &validator{cfg: &parseConfig{registry: r.e.registry}, prefix: fork.loc + "/dynamicTasks", runTime: true}
	v.refs = make(map[string]*WorkflowTask, len(r.def.refs)+len(list))
	for k, t := range r.def.refs {
		v.refs[k] = t
	}
	v.walk(list, "", func(t *WorkflowTask) {
		if strings.TrimSpace(t.TaskReferenceName) == "" {
			v.add(t.loc+"/taskReferenceName", "missing taskReferenceName")
			return
		}
		if _, dup := v.refs[t.TaskReferenceName]; dup {
			v.add(t.loc+"/taskReferenceName", "duplicate taskReferenceName %q", t.TaskReferenceName)
			return
		}
		v.refs[t.TaskReferenceName] = t
	})
	v.walk(list, "", v.task)
	if err := v.err(); err != nil {
		return nil, err
	}
	allowed := definitionSecrets(r.def)
	for _, t := range list {
		// Template references and the names tasks read or write by name
		// (auth.secret, bundles, secretKey), in inline child definitions
		// too: the one set definitionSecrets gathers.
		var bad []string
		for n := range definitionSecrets(&Definition{Tasks: []*WorkflowTask{t}}) {
			if !allowed[n] {
				bad = append(bad, n)
			}
		}
		if len(bad) > 0 {
			sort.Strings(bad)
			return nil, fmt.Errorf("dynamic task %q references secrets the workflow definition does not (%s): run data cannot choose a secret", t.TaskReferenceName, strings.Join(bad, ", "))
		}
	}
	return list, nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

type dynamicKey struct {
	wt   *WorkflowTask
	name string
}

// maxDynamicTasks bounds the engine's cache of the tasks DYNAMIC tasks
// resolve to (Engine.dynTasks): the names come from run data, so their
// number has no bound of its own. Past it a resolved task is built for
// its run alone.
const maxDynamicTasks = 4096

// execDynamic runs a DYNAMIC task as the task its input names (Conductor's
// DynamicTaskMapper): inputParameters[dynamicTaskNameParam] is the task
// name; a registered task type of that name (HTTP, INLINE, ...) runs as that
// type, anything else as a worker task of that name.
func (r *runState) execDynamic(ctx context.Context, wt *WorkflowTask, suffix string, iter int) error {
	t, err := r.dynamicTask(ctx, wt)
	if err != nil {
		return err
	}
	return r.execLeaf(ctx, t, suffix, iter)
}

// dynamicTask is the task a DYNAMIC task wt runs as (execDynamic), or the
// run's end (a *stopError) when its input names none that can run, as
// Conductor's DynamicTaskMapper throws.
//
// The task takes the DYNAMIC task's own definition, not one of the name
// it resolves (runState.policy: dynamicOf): DynamicTaskMapper keeps the
// WorkflowTask's taskDefinition when it has one, and Conductor's start
// gives every task of the definition one (its inline one, the one
// registered for the DYNAMIC task's name, else new TaskDef(name), whose
// retryCount and responseTimeoutSeconds are 0 for a type other than
// SIMPLE). Only a DYNAMIC task made at run time (in a dynamic fork's
// list), which takes the registry's definition of its name or none, falls
// back to the registered definition of the name it resolves, and without
// one the run fails: "Invalid task specified.  Cannot find task by name
// ... in the task definitions".
func (r *runState) dynamicTask(ctx context.Context, wt *WorkflowTask) (*WorkflowTask, error) {
	name, system, err := r.dynamicTarget(ctx, wt)
	if err != nil {
		return nil, err
	}
	// Cached for a DYNAMIC task of the definition only: a dynamic fork's
	// are parsed anew by each run, and their entries would never be used
	// again.
	owned := r.ownsTask(wt)
	key := dynamicKey{wt, name}
	if owned {
		if v, ok := r.e.dynTasks.Load(key); ok {
			return v.(*WorkflowTask), nil
		}
	}
	t := *wt
	t.Name, t.Type, t.dynamicOf = name, TypeSimple, wt
	if system {
		t.Type = name
		if err := r.dynamicSecretRules(&t); err != nil {
			return nil, err
		}
	}
	if !owned || r.e.dynTaskCount.Add(1) > maxDynamicTasks {
		if owned {
			r.e.dynTaskCount.Add(-1)
		}
		return &t, nil
	}
	v, loaded := r.e.dynTasks.LoadOrStore(key, &t)
	if loaded {
		r.e.dynTaskCount.Add(-1)
	}
	return v.(*WorkflowTask), nil
}

// dynamicOperatorReason is why a DYNAMIC task that names one of the
// types the engine runs itself (SWITCH, DO_WHILE, FORK_JOIN, JOIN,
// SUB_WORKFLOW, TERMINATE, WAIT, ...) fails. Conductor schedules such a
// task as its system task, which reads what it can from the input and
// the DYNAMIC task's WorkflowTask: a SWITCH completes choosing nothing, a
// FORK never starts, a TERMINATE or SUB_WORKFLOW reads its input. wfrun
// runs a DYNAMIC task as a worker or registry task only: run as a worker
// of that name, it would wait for ever for a worker no poll hands it to.
func dynamicOperatorReason(name string) string {
	return fmt.Sprintf("a DYNAMIC task runs as a worker or system task (HTTP, INLINE, ...), not as %s: the engine runs %s from the workflow definition, put it there", name, name)
}

// dynamicSecretRules applies the load-time secret rules (secretRules) to
// the type a DYNAMIC task resolves to at run time, and refuses a secret
// name it reads or writes by name that the running definition does not
// read: run data never chooses which secret is read or overwritten.
func (r *runState) dynamicSecretRules(t *WorkflowTask) error {
	t.staticSecrets = nil
	v := &validator{cfg: &parseConfig{registry: r.e.registry}, runTime: true}
	v.secretRules(t)
	if len(v.problems) > 0 {
		// One line, as the other refusals: where and why, never a value.
		msgs := make([]string, len(v.problems))
		for i, p := range v.problems {
			msgs[i] = p.Location + ": " + p.Message
		}
		return &stopError{status: StatusFailed, reason: fmt.Sprintf("dynamic task %q as %s: %s", t.TaskReferenceName, t.Type, strings.Join(msgs, "; "))}
	}
	allowed := definitionSecrets(r.def)
	var bad []string
	for _, n := range t.staticSecrets {
		if !allowed[n] {
			bad = append(bad, n)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return &stopError{status: StatusFailed, reason: fmt.Sprintf("dynamic task %q as %s references secrets the workflow definition does not (%s): run data cannot choose a secret", t.TaskReferenceName, t.Type, strings.Join(bad, ", "))}
	}
	return nil
}

// dynamicTarget is the name DYNAMIC task wt runs as and whether the
// registry runs that name as a task type, or the run's end (a *stopError)
// as Conductor's DynamicTaskMapper throws it.
func (r *runState) dynamicTarget(ctx context.Context, wt *WorkflowTask) (name string, system bool, err error) {
	name, in, err := r.dynamicName(ctx, wt)
	if err != nil || name == "" {
		param := wt.DynamicTaskNameParam
		if param == "" {
			param = "null" // none given: Java's null
		}
		msg := fmt.Sprintf("Cannot map a dynamic task based on the parameter and input. Parameter= %s", param)
		if err != nil {
			msg += ": " + err.Error()
		} else {
			// The task's input as Java's Map.toString shows it, in its
			// display form (a `_secrets` member is "***" whatever its
			// length), masked whole, then cut.
			msg += ", input= " + r.sec.Excerpt(javaText(r.viewed(in)), 200)
		}
		return "", false, &stopError{status: StatusFailed, reason: msg}
	}
	if r.sec.Text(name) != name {
		// The name would be the task's name and type in every record,
		// event and queue: a secret value never names a task.
		return "", false, &stopError{status: StatusFailed, reason: fmt.Sprintf("Cannot map a dynamic task: the task name in %s holds a secret value, which cannot name a task", wt.DynamicTaskNameParam)}
	}
	_, system = r.e.registry.Lookup(name)
	if r.policy(wt).hasDef() {
		return name, system, nil
	}
	// A DYNAMIC task a dynamic fork made without a definition:
	// DynamicTaskMapper gives it the one registered for the name it
	// resolves, now (held by the run from here on: mappedDef).
	d, err := r.mappedDef(wt, name)
	if err != nil {
		return "", false, err
	}
	if !system && d == nil {
		return "", false, &stopError{status: StatusFailed, reason: fmt.Sprintf("Invalid task specified.  Cannot find task by name %s in the task definitions", name)}
	}
	return name, system, nil
}

func (r *runState) dynamicName(ctx context.Context, wt *WorkflowTask) (string, map[string]any, error) {
	in := map[string]any{}
	if wt.input == nil {
		return "", in, nil
	}
	b, _, err := wt.input.Execute(ctx, &runEnv{r: r, values: r.e.envValues}, interpolate.DeferSecrets, nil)
	if err != nil {
		return "", nil, err
	}
	_ = json.Unmarshal(b, &in)
	if wt.DynamicTaskNameParam == "" {
		// None given (where registration does not check the task):
		// DynamicTaskMapper reads input.get(null), nothing.
		return "", in, nil
	}
	switch x := in[wt.DynamicTaskNameParam].(type) {
	case string:
		return x, in, nil
	case nil:
		return "", in, nil
	default:
		return fmt.Sprint(x), in, nil
	}
}

// viewed is in (decoded JSON) in the run's display form (runsecrets View):
// the members it hides are "***"; "***" whole when it cannot be shown.
func (r *runState) viewed(in map[string]any) any {
	b, err := json.Marshal(in)
	if err == nil {
		b, err = r.sec.View(b)
	}
	var v any
	if err != nil || json.Unmarshal(b, &v) != nil {
		return masking.Redacted
	}
	return v
}

// javaText is v (decoded JSON) as Java's toString shows the Map, List and
// boxed values Jackson decodes it to: {k=v, k2=v2}, [a, b], null, 1,
// 1.5, text as is. Keys are sorted (a HashMap's order follows its hash
// table and is not reproduced).
func javaText(v any) string {
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case nil:
			b.WriteString("null")
		case string:
			b.WriteString(x)
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			b.WriteByte('{')
			for i, k := range keys {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(k)
				b.WriteByte('=')
				walk(x[k])
			}
			b.WriteByte('}')
		case []any:
			b.WriteByte('[')
			for i, e := range x {
				if i > 0 {
					b.WriteString(", ")
				}
				walk(e)
			}
			b.WriteByte(']')
		case float64:
			if x == float64(int64(x)) && x >= -1<<53 && x <= 1<<53 {
				b.WriteString(strconv.FormatInt(int64(x), 10))
			} else {
				b.WriteString(strconv.FormatFloat(x, 'G', -1, 64))
			}
		default:
			fmt.Fprint(&b, x)
		}
	}
	walk(v)
	return b.String()
}

// stringMap is v as a map of strings, when it is one.
func stringMap(v any) (map[string]string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, false
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		s, ok := x.(string)
		if !ok {
			return nil, false
		}
		out[k] = s
	}
	return out, true
}
