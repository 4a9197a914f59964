package server

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/wfrun/wfrun/engine"
)

// Conductor's Workflow and Task, as its API serializes them (Jackson,
// NON_NULL): every member that is not null, primitives and the empty
// collections a fresh object holds included. A run's view (engine.Show:
// `_secrets`, `_masked` and maskedFields values as "***") is completed
// here with the members Conductor derives from the run, its definition
// and the task definitions it started with; every member taken from a
// definition passes through the server's masker, so a literal value the
// server knows as a secret is shown "***" while `${workflow.secrets.X}`
// references are shown as written.

// workflowCollections are the collection members of Conductor's Workflow
// that a fresh Workflow holds empty (never null).
var workflowCollections = map[string]func() any{
	"taskToDomain":             func() any { return map[string]any{} },
	"failedReferenceTaskNames": func() any { return []any{} },
	"failedTaskNames":          func() any { return []any{} },
	"history":                  func() any { return []any{} },
	"variables":                func() any { return map[string]any{} },
	"input":                    func() any { return map[string]any{} },
	"output":                   func() any { return map[string]any{} },
}

// workflowInternal are members of the stored run that are wfrun's own
// (engine.HeadBookkeeping: who runs it, the definition's hash and file,
// the journal's counts, the seals, a failure run's gate, the failure runs
// of restarted ends).
var workflowInternal = engine.HeadBookkeeping()

// executionDoc is the Conductor Workflow of a run view.
func (s *Server) executionDoc(view []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(view))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	doc["workflowName"] = doc["workflowType"]
	doc["workflowVersion"] = doc["version"]
	doc["startTime"] = doc["createTime"]
	if doc["priority"] == nil {
		doc["priority"] = 0 // Conductor's Workflow always has it
	}
	for k, empty := range workflowCollections {
		if doc[k] == nil {
			doc[k] = empty()
		}
	}
	for _, k := range []string{"lastRetriedTime", "endTime"} {
		if doc[k] == nil {
			doc[k] = 0
		}
	}
	if doc["rateLimited"] == nil {
		doc["rateLimited"] = false
	}
	for _, k := range workflowInternal {
		delete(doc, k)
	}
	// The definition the run executes, as Conductor keeps it with the
	// run (its own tasks' taskDefinition included when it has one).
	rs := s.newRecordShaper(doc["workflowDefinition"], doc["taskDefinitions"], doc["mappedTaskDefinitions"])
	delete(doc, "taskDefinitions")
	delete(doc, "mappedTaskDefinitions")
	if def, ok := doc["workflowDefinition"].(map[string]any); ok {
		// Masked after the task definitions are in: a literal the server
		// knows as a secret is "***" wherever it sits.
		rs.populateTaskDefinitions(def["tasks"])
		rs.nameDynamicTasks(doc["tasks"])
		doc["workflowDefinition"] = s.maskValue(def)
	} else {
		delete(doc, "workflowDefinition")
	}
	list, ok := doc["tasks"].([]any)
	if !ok {
		doc["tasks"] = []any{}
		deriveUpdateTime(doc, nil)
		return doc, nil
	}
	rs.walkForked(list)
	rs.mapped = map[string]forkedTask{}
	retried := map[string]bool{}
	for _, it := range list {
		if t, ok := it.(map[string]any); ok {
			if id, _ := t["retriedTaskId"].(string); id != "" {
				retried[id] = true
			}
		}
	}
	for _, it := range list {
		if t, ok := it.(map[string]any); ok {
			if t["taskDefName"] == "" || t["taskDefName"] == nil {
				t["taskDefName"] = t["referenceTaskName"]
			}
			t["workflowType"] = doc["workflowType"]
			taskDefaults(t, doc)
			id, _ := t["taskId"].(string)
			rs.complete(t, retried[id])
			// A fork record comes before the tasks it forked: they
			// take its mapping's WorkflowTasks.
			rs.noteMapping(t)
		}
	}
	deriveUpdateTime(doc, list)
	return doc, nil
}

// deriveUpdateTime gives run doc, stored before runs kept updateTime (it
// reads 0), the latest time the run keeps: its start, end or last retry,
// or the last change of one of its task records (list, completed by
// taskDefaults), so that a client sorting runs by updateTime sees sane
// values.
func deriveUpdateTime(doc map[string]any, list []any) {
	if numberOf(doc["updateTime"]) != 0 {
		return
	}
	n := latestOf(doc, "createTime", "endTime", "lastRetriedTime")
	for _, it := range list {
		if t, ok := it.(map[string]any); ok {
			n = max(n, latestOf(t, "updateTime", "scheduledTime", "startTime", "endTime"))
		}
	}
	doc["updateTime"] = json.Number(strconv.FormatInt(n, 10))
}

// maskValue is v (a decoded JSON value) with every string the server's
// masker knows masked.
func (s *Server) maskValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	masked := s.masker.Mask(b)
	if bytes.Equal(masked, b) {
		return v
	}
	dec := json.NewDecoder(bytes.NewReader(masked))
	dec.UseNumber()
	var out any
	if dec.Decode(&out) != nil {
		return "***"
	}
	return out
}

// recordShaper completes a run's task records with what Conductor's Task
// takes from the definition: the task's WorkflowTask and its TaskDef.
type recordShaper struct {
	s *Server
	// byRef is every task configuration of the run's definition, nested
	// ones included, by taskReferenceName (the configurations of an
	// inline sub-workflow definition are that run's, not these).
	byRef map[string]map[string]any
	// shown caches each reference's masked WorkflowTask.
	shown map[string]any
	// started is the TaskDef of each task name the run started with (its
	// view's taskDefinitions: the definitions the engine applies to it).
	started map[string]any
	// forked: the references of tasks a dynamic fork made (walkForked),
	// forking while walkForked indexes them.
	forked  map[string]bool
	forking bool
	// mapped is, by the reference of the record it made (its iteration's
	// suffix included), the WorkflowTask the latest fork record so far
	// forked (noteMapping): each mapping's own, with the definition
	// that mapping took, where the same reference is forked again (a
	// dynamic fork in a DO_WHILE maps its tasks in each iteration).
	mapped map[string]forkedTask
	// tookDefs and tookBy are the view's mappedTaskDefinitions: what
	// the mappings took that differs from the definition the run holds
	// for the name ("defs"; "by": fork record's task id, forked task's
	// reference, name mapped, index in defs or -1 for none).
	tookDefs []any
	tookBy   map[string]any
}

// forkedTask is a WorkflowTask a fork record's forkedTaskDefs hold, with
// the key its shown form is cached under and what its mapping took that
// differs from the definitions the run holds (took: by name, nil for
// none), as ForkJoinDynamicTaskMapper copied it onto the WorkflowTask
// (DynamicTaskMapper, for a forked DYNAMIC task, that of the name it
// resolves).
type forkedTask struct {
	key  string
	wt   map[string]any
	took map[string]any
}

func (s *Server) newRecordShaper(def, taskDefs, mapped any) *recordShaper {
	started, _ := taskDefs.(map[string]any)
	rs := &recordShaper{s: s, byRef: map[string]map[string]any{}, shown: map[string]any{}, started: started, forked: map[string]bool{}}
	if m, ok := mapped.(map[string]any); ok {
		rs.tookDefs, _ = m["defs"].([]any)
		rs.tookBy, _ = m["by"].(map[string]any)
	}
	if d, ok := def.(map[string]any); ok {
		rs.walk(d["tasks"])
	}
	return rs
}

// walk indexes a list of task configurations and the lists nested in
// them (decisionCases, defaultCase, forkTasks, loopOver).
func (rs *recordShaper) walk(list any) {
	eachTaskConfig(list, func(wt map[string]any) {
		if ref, _ := wt["taskReferenceName"].(string); ref != "" {
			if _, dup := rs.byRef[ref]; !dup {
				rs.byRef[ref] = wt
				rs.forked[ref] = rs.forking
			}
		}
	})
}

// eachTaskConfig calls fn on each task configuration (a JSON object) of
// list and of the lists nested in it — decisionCases, defaultCase,
// loopOver, forkTasks — in document order.
func eachTaskConfig(list any, fn func(map[string]any)) {
	tasks, _ := list.([]any)
	for _, it := range tasks {
		wt, ok := it.(map[string]any)
		if !ok {
			continue
		}
		fn(wt)
		if cases, ok := wt["decisionCases"].(map[string]any); ok {
			for _, c := range cases {
				eachTaskConfig(c, fn)
			}
		}
		eachTaskConfig(wt["defaultCase"], fn)
		eachTaskConfig(wt["loopOver"], fn)
		if forks, ok := wt["forkTasks"].([]any); ok {
			for _, f := range forks {
				eachTaskConfig(f, fn)
			}
		}
	}
}

// walkForked indexes the tasks dynamic forks made: each FORK_JOIN_DYNAMIC
// record's inputData.forkedTaskDefs, as ForkJoinDynamicTaskMapper records
// the WorkflowTasks it forked (a forked task's workflowTask is one of them).
func (rs *recordShaper) walkForked(records []any) {
	rs.forking = true
	defer func() { rs.forking = false }()
	for _, it := range records {
		if t, ok := it.(map[string]any); ok {
			if in, ok := t["inputData"].(map[string]any); ok {
				rs.walk(in["forkedTaskDefs"])
			}
		}
	}
}

// noteMapping: when record t is a dynamic fork's (its inputData holds
// forkedTaskDefs), the records it forked, named by the forked tasks'
// references with the fork record's iteration suffix (a fork in a
// DO_WHILE's iteration 2, fj__2, forks x as x__2), take its WorkflowTasks
// from here on, as ForkJoinDynamicTaskMapper stores each mapping's
// WorkflowTask with the task it makes.
func (rs *recordShaper) noteMapping(t map[string]any) {
	in, _ := t["inputData"].(map[string]any)
	if in == nil || in["forkedTaskDefs"] == nil {
		return
	}
	ref, _ := t["referenceTaskName"].(string)
	id, _ := t["taskId"].(string)
	suffix := ""
	if _, own := rs.byRef[ref]; !own || rs.forked[ref] {
		suffix = ref[len(baseRef(ref)):]
	}
	tasks, _ := in["forkedTaskDefs"].([]any)
	refs, _ := rs.tookBy[id].(map[string]any)
	for _, it := range tasks {
		wt, _ := it.(map[string]any)
		if r, _ := wt["taskReferenceName"].(string); r != "" {
			rs.mapped[r+suffix] = forkedTask{key: id + "\x00" + r, wt: wt, took: rs.took(refs[r])}
		}
	}
}

// took is the definitions by name that names (a "by" entry of the view's
// mappedTaskDefinitions: name to index in its defs, -1 for none) gives,
// nil for none; nil when names has none.
func (rs *recordShaper) took(names any) map[string]any {
	m, _ := names.(map[string]any)
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for name, v := range m {
		i := numberOf(v)
		if i >= 0 && i < int64(len(rs.tookDefs)) {
			out[name] = rs.tookDefs[i]
		} else {
			out[name] = nil // none registered when it was mapped
		}
	}
	return out
}

// baseRef is a task reference without the __N suffixes of loop
// iterations (a loop nested in a loop adds one each: a__1__2 is a).
func baseRef(ref string) string {
	for {
		i := strings.LastIndex(ref, "__")
		if i <= 0 || i+2 == len(ref) {
			return ref
		}
		if _, err := strconv.Atoi(ref[i+2:]); err != nil {
			return ref
		}
		ref = ref[:i]
	}
}

// taskDef is the definition of task name the run started with, as the
// engine applies it (not the registry's of the moment: a definition
// registered or changed since does not apply to the run), nil when none.
func (rs *recordShaper) taskDef(name string) any {
	if d, ok := rs.started[name].(map[string]any); ok && name != "" {
		return d
	}
	return nil
}

// adHocTaskDef is the definition Conductor's MetadataMapperService gives a
// task of a started run that has none, as the engine applies it
// (engine.TaskDef.AdHoc): new TaskDef(name) as TaskDef serializes it —
// retryCount 3 and responseTimeoutSeconds 3600 for a SIMPLE task, 0 and 0
// for any other type.
func adHocTaskDef(name string, simple bool) map[string]any {
	retries, response := 0, 0
	if simple {
		retries, response = 3, 3600
	}
	return map[string]any{"name": name, "retryCount": retries, "timeoutSeconds": 0, "inputKeys": []any{}, "outputKeys": []any{},
		"timeoutPolicy": "TIME_OUT_WF", "retryLogic": "FIXED", "retryDelaySeconds": 60, "responseTimeoutSeconds": response,
		"inputTemplate": map[string]any{}, "rateLimitPerFrequency": 0, "rateLimitFrequencyInSeconds": 1, "backoffScaleFactor": 1}
}

// populateTaskDefinitions gives each task configuration of the list, nested
// ones included, that has no taskDefinition the one the run started with,
// else Conductor's ad-hoc one: Conductor's start populates the WorkflowDef
// it stores with the run (MetadataMapperService.populateTaskDefinitions,
// over WorkflowDef.collectTasks), so GET /api/workflow/{id} shows each
// task's taskDefinition in workflowDefinition as in its records.
func (rs *recordShaper) populateTaskDefinitions(list any) {
	eachTaskConfig(list, func(wt map[string]any) {
		if d := rs.definitionOf(wt, false, nil); d != nil {
			wt["taskDefinition"] = d
		}
	})
}

// nameDynamicTasks names each DYNAMIC task of the definition after the
// task its latest record resolved (records, in order): Conductor's
// DynamicTaskMapper sets the name of the WorkflowTask it maps, the one
// the run keeps in its definition, and stores the run with it, so GET
// /api/workflow/{id} shows the DYNAMIC task under the name it last ran
// as (its type and its taskDefinition, given by its own name at the
// run's start, stay). Run after populateTaskDefinitions, which looks the
// definitions up by the names as written; a DYNAMIC task not reached yet
// keeps its own name.
func (rs *recordShaper) nameDynamicTasks(records any) {
	list, _ := records.([]any)
	for _, it := range list {
		t, _ := it.(map[string]any)
		name, _ := t["taskDefName"].(string)
		ref, _ := t["referenceTaskName"].(string)
		if name == "" || ref == "" {
			continue
		}
		wt := rs.byRef[ref]
		if wt == nil {
			wt = rs.byRef[baseRef(ref)]
		}
		if wt != nil && wt["type"] == engine.TypeDynamic {
			wt["name"] = name
		}
	}
}

// dynamicNameRan is a DYNAMIC task's record's workflowTask named after
// the task the record resolved (its taskDefName), as DynamicTaskMapper
// names the WorkflowTask before it makes the task from it; wt itself
// otherwise.
func dynamicNameRan(wt, t map[string]any) map[string]any {
	name, _ := t["taskDefName"].(string)
	if wt["type"] != engine.TypeDynamic || name == "" || wt["name"] == name {
		return wt
	}
	c := make(map[string]any, len(wt))
	for k, v := range wt {
		c[k] = v
	}
	c["name"] = name
	return c
}

// definitionOf is the taskDefinition to add to task configuration wt
// (nil: none to add): none when it has its own; the one its mapping took
// for its name where that differs from the run's (took, by name: a nil
// there is none); the definition the run started with for its name; else
// the ad-hoc one, except for a task a dynamic fork made (forked),
// whatever its type: ForkJoinDynamicTaskMapper gives the WorkflowTasks it
// forks the registered definition of their name or none, and the ad-hoc
// ones are given at the run's start, to the tasks of its definition only.
func (rs *recordShaper) definitionOf(wt map[string]any, forked bool, took map[string]any) any {
	if wt["taskDefinition"] != nil {
		return nil
	}
	name, _ := wt["name"].(string)
	if d, ok := took[name]; ok && forked {
		return d
	}
	if d := rs.taskDef(name); d != nil {
		return d
	}
	if forked {
		if d, held := rs.started[name]; held {
			// The definition the run took for the name when a
			// mapping made the task (null: none), as the mapper
			// copied it onto the WorkflowTask stored with the task.
			return d
		}
		return rs.registered(name)
	}
	typ, _ := wt["type"].(string)
	if name != "" {
		return adHocTaskDef(name, typ == "" || typ == "SIMPLE")
	}
	return nil
}

// registered is the definition registered for task name now, as the
// engine applies it to a task a dynamic fork made in a run that holds no
// definitions (one stored by an older wfrun), nil when none is.
func (rs *recordShaper) registered(name string) any {
	if name == "" || rs.s.conductor == nil || rs.s.conductor.defs == nil {
		return nil
	}
	td, ok := rs.s.conductor.defs.TaskDef(name)
	if !ok || td == nil {
		return nil
	}
	b, err := json.Marshal(td)
	if err != nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return nil
	}
	return m
}

// workflowTask is the WorkflowTask of reference ref as Conductor keeps it
// with the run: the configuration as written, Conductor's defaults for
// its primitives, and its taskDefinition (inline, else the one the run
// started with, else Conductor's ad-hoc one), masked. nil when the
// definition has no such task (a task a DYNAMIC task made; a
// FORK_JOIN_DYNAMIC's are indexed by walkForked).
func (rs *recordShaper) workflowTask(ref string) any {
	if wt, ok := rs.shown[ref]; ok {
		return wt
	}
	src, ok := rs.byRef[ref]
	if !ok {
		rs.shown[ref] = nil
		return nil
	}
	return rs.showTask(ref, src, rs.forked[ref], nil)
}

// showTask is src, a task configuration, as workflowTask shows it,
// cached under key; took: what the mapping that made it took
// (definitionOf).
func (rs *recordShaper) showTask(key string, src map[string]any, forked bool, took map[string]any) any {
	if wt, ok := rs.shown[key]; ok {
		return wt
	}
	wt := make(map[string]any, len(src)+8)
	for k, v := range src {
		wt[k] = v
	}
	if wt["type"] == nil || wt["type"] == "" {
		wt["type"] = "SIMPLE"
	}
	for _, k := range []string{"optional", "asyncComplete", "permissive"} {
		if wt[k] == nil {
			wt[k] = false
		}
	}
	if wt["startDelay"] == nil {
		wt["startDelay"] = 0
	}
	if wt["inputParameters"] == nil {
		wt["inputParameters"] = map[string]any{}
	}
	// A dynamic fork's task is made at run time and takes no ad-hoc
	// definition.
	if d := rs.definitionOf(wt, forked, took); d != nil {
		wt["taskDefinition"] = d
	}
	shown := rs.s.maskValue(wt)
	rs.shown[key] = shown
	return shown
}

// complete adds to task record t the members of Conductor's Task its
// record does not carry: workflowTask and taskDefinition (from the run's
// definition), startDelayInSeconds (a retry's delay, else a worker
// task's startDelay),
// retried (another attempt retries it), executed (it ended and the run
// went on from it), callbackFromWorker (always true: no wfrun task
// completes without a callback when it is a worker's), firstStartTime
// (0: Conductor OSS's TaskModel has none to copy) and executionMetadata
// (empty, as a Task holds it).
func (rs *recordShaper) complete(t map[string]any, retried bool) {
	ref, _ := t["referenceTaskName"].(string)
	// A definition may name a task x__1 itself: the exact reference first.
	// A forked task: the WorkflowTask of the mapping that made it.
	var wt map[string]any
	m, mapped := rs.mapped[ref]
	if mapped {
		wt, _ = rs.showTask(m.key, m.wt, true, m.took).(map[string]any)
	}
	if wt == nil {
		wt, _ = rs.workflowTask(ref).(map[string]any)
	}
	if wt == nil {
		wt, _ = rs.workflowTask(baseRef(ref)).(map[string]any)
	}
	if wt != nil {
		own := wt["taskDefinition"] != nil
		wt = dynamicNameRan(subWorkflowVersionRan(wt, t), t)
		if !own && wt["type"] == engine.TypeDynamic && (mapped || rs.forked[ref] || rs.forked[baseRef(ref)]) {
			// A DYNAMIC task a dynamic fork made without a
			// definition: DynamicTaskMapper gives it the one of the
			// name it resolves, registered when it was mapped (its
			// mapping's where that differs from the run's, else held
			// by the run since).
			if d := rs.definitionOf(wt, true, m.took); d != nil {
				wt["taskDefinition"] = rs.s.maskValue(d)
			}
		}
		t["workflowTask"] = wt
		if d := wt["taskDefinition"]; d != nil {
			t["taskDefinition"] = d
		}
	}
	delay := int64(0)
	taskType, _ := t["taskType"].(string)
	defName, _ := t["taskDefName"].(string)
	worker := rs.s.conductor != nil && rs.s.conductor.eng.IsWorkerTask(taskType, defName)
	if d, ok := t["startDelayInSeconds"]; ok {
		// A retry's delay, stored with it (0 only where it differs
		// from what follows): DeciderService.retry sets it as
		// startDelayInSeconds on every retried task.
		delay = numberOf(d)
	} else if wt != nil && worker {
		delay = numberOf(wt["startDelay"])
	} else if id, _ := t["retriedTaskId"].(string); id != "" && taskType != engine.TypeWait && taskType != engine.TypeHuman {
		// A system task's retry stored without its delay (a run of
		// an older wfrun): DeciderService.retry sets its
		// startDelayInSeconds to the retry's delay, the
		// callbackAfterSeconds it is recorded with (nothing but a WAIT
		// or HUMAN task's own wait changes that of a system task).
		delay = numberOf(t["callbackAfterSeconds"])
	}
	t["startDelayInSeconds"] = delay
	status, _ := t["status"].(string)
	t["retried"] = retried
	t["executed"] = !retried && terminalTask(status) && status != engine.TaskCanceled
	t["callbackFromWorker"] = true
	t["firstStartTime"] = 0
	t["subworkflowChanged"] = false
	t["executionMetadata"] = map[string]any{"additionalContext": map[string]any{}, "additionalContextMap": map[string]any{}}
}

// subWorkflowVersionRan is a SUB_WORKFLOW record's workflowTask with the
// subWorkflowParam version the task resolved (its inputData
// subWorkflowVersion), as Conductor's SubWorkflowTaskMapper sets it on
// the task's WorkflowTask; wt itself otherwise.
func subWorkflowVersionRan(wt, t map[string]any) map[string]any {
	p, _ := wt["subWorkflowParam"].(map[string]any)
	in, _ := t["inputData"].(map[string]any)
	if p == nil || in == nil {
		return wt
	}
	// A number only: Conductor's WorkflowTask holds an Integer (a
	// subWorkflowVersion the task's own input gave as text stays there).
	v, ok := in["subWorkflowVersion"].(json.Number)
	if _, err := v.Int64(); !ok || err != nil {
		return wt
	}
	cp := make(map[string]any, len(p)+1)
	for k, v := range p {
		cp[k] = v
	}
	cp["version"] = v
	c := make(map[string]any, len(wt))
	for k, v := range wt {
		c[k] = v
	}
	c["subWorkflowParam"] = cp
	return c
}

// terminalTask reports whether a task status is terminal (Conductor's
// Task.Status.isTerminal).
func terminalTask(status string) bool {
	switch status {
	case engine.TaskScheduled, engine.TaskInProgress, "":
		return false
	}
	return true
}
