package worker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

// Sentinel errors.
var (
	// ErrConfig: a worker configuration that cannot run.
	ErrConfig = errors.New("invalid worker configuration")
	// ErrAuth: the server refused the key id and secret.
	ErrAuth = errors.New("authentication failed")
)

// Config configures a Worker.
type Config struct {
	// Server is the Conductor server's base URL, with or without "/api"
	// (http://localhost:8080 and http://localhost:8080/api are the same).
	Server string
	// KeyID and KeySecret authenticate like the Orkes SDKs (POST /api/token,
	// then X-Authorization). Empty: no auth; a server without /api/token
	// (Conductor OSS) is used without auth too.
	KeyID, KeySecret string
	// Tasks maps Conductor task names to the wfrun task type that runs
	// them (HTTP, EXEC, UPDATE_SECRET, or any type of Registry).
	Tasks map[string]string
	// Registry holds the task implementations (default: the default
	// registry; EXEC only if the caller registered it).
	Registry *tasks.Registry
	// Secrets is where `$<workflow.secrets.x>` resolves: the worker's own
	// store (a store.RunView; it also serves UPDATE_SECRET). Nil: the
	// worker resolves no secret.
	Secrets runsecrets.Source
	// Concurrency caps the tasks executing at once (default 8).
	Concurrency int
	// PollTimeout is the long-poll wait the server is asked for (default 1s).
	PollTimeout time.Duration
	// WorkerID is reported to the server (default: hostname).
	WorkerID string
	// Domain is the task domain polled (Conductor's taskToDomain: a run
	// started with {"wfrun_http": "blue"} queues its wfrun_http tasks in
	// domain blue, for workers polling that domain only). Empty: the tasks
	// without a domain. It may not contain ':' (queues are domain:type).
	Domain string
	// HTTPClient talks to the Conductor server (default: 30s timeout past
	// the long poll). The tasks use the registry's own client.
	HTTPClient *http.Client
	// Logger gets the worker's log lines (masked); nil: slog.Default().
	Logger *slog.Logger
	// StopGrace is how long running tasks may take to finish after Run's
	// context ends (default 30s); then they are cancelled.
	StopGrace time.Duration
	// Seal, when set, seals each `_secrets` leaf of an answer for its run
	// instead of leaving it out, and opens such leaves in a later task's
	// input (sealed.go): a value passes from task to task through the
	// server without the server holding it. Every worker of one server
	// needs the same keyring (`wfrun worker` uses the store's master key).
	Seal *seal.Keyring
}

// Worker polls a Conductor server and runs wfrun tasks for it.
type Worker struct {
	cfg    Config
	base   string
	client *http.Client
	ring   *seal.Keyring
	log    *slog.Logger
	auth   tokenSource
	slots  chan struct{}
}

// New checks cfg and returns a Worker.
func New(cfg Config) (*Worker, error) {
	if cfg.Server == "" {
		return nil, fmt.Errorf("%w: no server URL", ErrConfig)
	}
	if len(cfg.Tasks) == 0 {
		return nil, fmt.Errorf("%w: no task to poll (--task NAME=TYPE)", ErrConfig)
	}
	if cfg.Registry == nil {
		cfg.Registry = tasks.NewDefaultRegistry()
	}
	if strings.Contains(cfg.Domain, ":") || cfg.Domain != strings.TrimSpace(cfg.Domain) {
		return nil, fmt.Errorf("%w: domain %q: no ':' and no surrounding spaces", ErrConfig, cfg.Domain)
	}
	for name, kind := range cfg.Tasks {
		if name == "" || strings.ContainsAny(name, "/?#:") {
			return nil, fmt.Errorf("%w: task name %q", ErrConfig, name)
		}
		if _, ok := cfg.Registry.Lookup(kind); !ok {
			return nil, fmt.Errorf("%w: task %s: no wfrun task type %q in the registry", ErrConfig, name, kind)
		}
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = time.Second
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = 30 * time.Second
	}
	if cfg.WorkerID == "" {
		cfg.WorkerID, _ = os.Hostname()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.PollTimeout + 30*time.Second, CheckRedirect: sameOriginRedirect}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// The worker stores nothing: a per-process key is enough for the
	// boundary's seals, which never leave the process.
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	ring, err := seal.NewKeyring(key)
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(cfg.Server, "/")
	if !strings.HasSuffix(base, "/api") {
		base += "/api"
	}
	w := &Worker{cfg: cfg, base: base, client: cfg.HTTPClient, ring: ring, log: cfg.Logger,
		slots: make(chan struct{}, cfg.Concurrency)}
	w.auth = tokenSource{w: w}
	return w, nil
}

// Run polls every configured task name until ctx ends, then stops polling
// and waits for the running tasks (up to StopGrace) before it returns.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.auth.init(ctx); err != nil {
		return err
	}
	// Tasks run on a context that outlives ctx by the grace period.
	taskCtx, cancelTasks := context.WithCancel(context.Background())
	defer cancelTasks()
	var running sync.WaitGroup
	var pollers sync.WaitGroup
	for name, kind := range w.cfg.Tasks {
		pollers.Add(1)
		go func() {
			defer pollers.Done()
			w.pollLoop(ctx, taskCtx, name, kind, &running)
		}()
	}
	pollers.Wait()
	done := make(chan struct{})
	go func() { running.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(w.cfg.StopGrace):
		w.log.Warn("stop grace over: cancelling running tasks", "grace", w.cfg.StopGrace.String())
		cancelTasks()
		<-done
	}
	return nil
}

func (w *Worker) pollLoop(ctx, taskCtx context.Context, name, kind string, running *sync.WaitGroup) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		// Wait for at least one free slot, then ask for as many tasks as are free.
		select {
		case w.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		// Several names share the slots: none may hold them all through a long poll.
		free, most := 1, max(1, cap(w.slots)/len(w.cfg.Tasks))
	fill:
		for free < most {
			select {
			case w.slots <- struct{}{}:
				free++
			default:
				break fill
			}
		}
		got, err := w.poll(ctx, name, free)
		for i := len(got); i < free; i++ {
			<-w.slots
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.log.Warn("poll failed", "task", name, "error", err.Error())
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		for i, t := range got {
			if i >= free {
				// The server sent more than asked (count is a request):
				// the task is taken, so it runs, when a slot is free.
				w.slots <- struct{}{}
			}
			running.Add(1)
			go func() {
				defer running.Done()
				defer func() { <-w.slots }()
				w.execute(taskCtx, kind, t)
			}()
		}
	}
}

// polledTask is the part of Conductor's Task the worker reads.
type polledTask struct {
	TaskID                 string          `json:"taskId"`
	WorkflowInstanceID     string          `json:"workflowInstanceId"`
	ReferenceTaskName      string          `json:"referenceTaskName"`
	TaskDefName            string          `json:"taskDefName"`
	TaskType               string          `json:"taskType"`
	RetryCount             int             `json:"retryCount"`
	ResponseTimeoutSeconds int64           `json:"responseTimeoutSeconds"`
	InputData              json.RawMessage `json:"inputData"`
	WorkflowTask           json.RawMessage `json:"workflowTask"`
	// RuntimeMetadata: the secrets and env values the task's definition
	// declares, as the server resolved them for this poll.
	RuntimeMetadata map[string]string `json:"runtimeMetadata"`

	// malformed says why the polled task did not decode (a field of the
	// wrong type): it is answered as failed, not run.
	malformed string
}

// execute runs one polled task and reports its result.
func (w *Worker) execute(ctx context.Context, kind string, t polledTask) {
	if t.malformed != "" {
		w.report(ctx, t, nil, tasks.Result{Status: tasks.FailedTerminal, Reason: t.malformed})
		return
	}
	// Answer within the response timeout: after it the server gives the
	// task to another worker and refuses this answer.
	if t.ResponseTimeoutSeconds > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, workDeadline(time.Duration(t.ResponseTimeoutSeconds)*time.Second))
		defer cancel()
	}
	// A value too short to mask is said in the worker's log (its length,
	// never the value), as a run's masker says it.
	rs, err := runsecrets.New(t.WorkflowInstanceID+"/"+t.TaskID, w.cfg.Secrets, w.ring,
		runsecrets.WithMaskerOptions(masking.WithLogger(w.log.With("task", t.TaskDefName, "taskId", t.TaskID))))
	if err != nil {
		w.report(ctx, t, nil, tasks.Result{Status: tasks.FailedTerminal, Reason: err.Error()})
		return
	}
	// The server's ids for the task and its run are shown whole by the
	// server: a value found inside them is not masked there
	// (masking.Masker.KeepID; a Conductor server's ids are lowercase
	// UUIDs, anything else is not kept).
	rs.KeepID(t.WorkflowInstanceID)
	rs.KeepID(t.TaskID)
	// The server resolved the definition's runtimeMetadata (the worker does
	// not: the declaration lives in the server's task definition, and the
	// worker's own secrets come in as $<…>). The values are secret-grade:
	// registered, so output or text that echoes one goes back masked — a
	// Conductor server stores what it gets.
	for _, v := range t.RuntimeMetadata {
		rs.RegisterValues(v)
	}
	res := w.run(ctx, rs, kind, t)
	w.report(ctx, t, rs, res)
}

// workDeadline is how long a polled task may work, from its receipt, for a
// response timeout of rt. The server counts rt from the poll, which is
// earlier than the receipt, and the answer must still travel back (and may
// be retried) after the work stops: work that ran all of rt would be
// answered after the server gave the task away, and the worker's own
// "timed out" would be refused. So the work stops a margin early: a tenth
// of rt (the share that grows with what a long timeout's network and
// server may take), at least 1s (a round trip and a retry on a slow link)
// and at most 5s (a long timeout need not give up more), but never more
// than half of rt, so a short timeout still leaves the task time to work.
func workDeadline(rt time.Duration) time.Duration {
	margin := min(max(rt/10, time.Second), 5*time.Second, rt/2)
	return rt - margin
}

func (w *Worker) run(ctx context.Context, rs *runsecrets.Run, kind string, t polledTask) (res tasks.Result) {
	defer func() {
		if p := recover(); p != nil {
			res = tasks.Result{Status: tasks.FailedTerminal, Reason: rs.Excerpt(fmt.Sprintf("internal error in %s task: %v", kind, p), 4096)}
		}
	}()
	filter, err := polledFilter(kind, t)
	if err != nil {
		return tasks.Result{Status: tasks.FailedTerminal, Reason: rs.Excerpt(err.Error(), 4096)}
	}
	input, err := w.resolve(ctx, rs, kind, t)
	if err != nil {
		return tasks.Result{Status: tasks.FailedTerminal, Reason: rs.Excerpt(err.Error(), 4096)}
	}
	if filter != nil {
		input = withoutFilter(input)
	}
	impl, _ := w.cfg.Registry.Lookup(kind)
	req := &tasks.Request{
		WorkflowID: t.WorkflowInstanceID, TaskID: t.TaskID, RefName: t.ReferenceTaskName, TaskType: kind,
		Attempt: t.RetryCount, Def: t.WorkflowTask, Input: input,
		Services: &tasks.Services{Masker: rs, Logf: func(format string, args ...any) {
			w.log.Info(rs.Line(fmt.Sprintf(format, args...), 4096), "task", t.TaskDefName, "taskId", t.TaskID)
		}},
	}
	if w.cfg.Secrets != nil {
		req.Services.Secrets = rs
	}
	res = impl.Execute(ctx, req)
	if res.Status == tasks.InProgress {
		return tasks.Result{Status: tasks.FailedTerminal, Reason: kind + " task asked for an asynchronous completion, which a worker cannot give"}
	}
	if filter != nil {
		res = filter.apply(ctx, t, res)
	}
	return res
}

// resolve resolves `$<…>` in the polled input from the worker's own
// secrets, at the places only where the task's definition (the poll's
// workflowTask.inputParameters, as written) holds the string literally: a
// `$<…>` in text the server substituted (run input, a remote answer) stays
// literal text. The names a task reads secrets by (auth.secret, secretKey,
// bundles) must be literal in the definition too, or the task is refused:
// run data never chooses which secret is read. The server already
// interpreted `${…}`: what is left of that spelling is literal text, so it
// is escaped first and comes out as sent.
func (w *Worker) resolve(ctx context.Context, rs *runsecrets.Run, kind string, t polledTask) ([]byte, error) {
	in := t.InputData
	if len(in) == 0 || string(in) == "null" {
		return []byte("{}"), nil
	}
	var v any
	// Numbers keep their text: a 19-digit one goes to the task as the
	// server sent it, not as its nearest double.
	if err := decodeNumbers(in, &v); err != nil {
		return nil, fmt.Errorf("polled inputData is not JSON: %w", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, errors.New("polled inputData is not a JSON object")
	}
	tpl, hasTpl, err := definitionInput(t.WorkflowTask)
	if err != nil {
		return nil, err
	}
	// The server resolved the definition's ${workflow.secrets.…} before
	// the poll: the text it put there is a secret to this task too.
	rs.RegisterValues(serverResolved(v, tpl, nil)...)
	// A `_secrets` leaf an earlier task of the run answered sealed.
	if v, err = openSealed(w.cfg.Seal, t.WorkflowInstanceID, v, "inputData", rs.RegisterValues); err != nil {
		return nil, err
	}
	marked, err := markLiteral(kind, v, tpl, hasTpl, "inputData", nil)
	if err != nil {
		return nil, err
	}
	if err := noSecretInProgram(kind, marked.(map[string]any)); err != nil {
		return nil, err
	}
	escaped, err := json.Marshal(marked)
	if err != nil {
		return nil, err
	}
	ctpl, err := interpolate.Compile(escaped, interpolate.WithLocation("/inputData"))
	if err != nil {
		return nil, err
	}
	wf, _ := json.Marshal(map[string]any{"workflow": map[string]any{"workflowId": t.WorkflowInstanceID, "input": map[string]any{}}})
	env, err := interpolate.NewDocEnv(wf)
	if err != nil {
		return nil, err
	}
	_, transient, err := rs.Resolve(ctx, ctpl, env)
	return transient, err
}

// serverResolved lists the text the server substituted for
// `${workflow.secrets.…}` in the polled value v, found where the
// definition's tpl holds such a reference: the whole value for a string
// that is one expression (its compact JSON, for an object secret), the part
// that aligns with the reference for one embedded in text, and the whole
// polled string when it does not align in one way.
func serverResolved(v, tpl any, dst []string) []string {
	switch tc := tpl.(type) {
	case string:
		if !strings.Contains(tc, "${") {
			return dst
		}
		s, isStr := v.(string)
		if !isStr {
			if v == nil || !curlySecret(tc) {
				return dst
			}
			b, err := json.Marshal(v)
			if err == nil {
				dst = append(dst, string(b))
			}
			return dst
		}
		parts, ok := mixedParts(tc)
		if !ok {
			if curlySecret(tc) {
				dst = append(dst, s)
			}
			return dst
		}
		secretAt := make([]bool, len(parts))
		found := false
		for i, p := range parts {
			if p.curly && curlySecret(p.text) {
				secretAt[i], found = true, true
			}
		}
		if !found {
			return dst
		}
		ends, ok := alignMixed(s, parts)
		if !ok {
			return append(dst, s)
		}
		j := 0
		for i := range parts {
			if secretAt[i] {
				dst = append(dst, s[j:ends[i]])
			}
			j = ends[i]
		}
	case map[string]any:
		if m, ok := v.(map[string]any); ok {
			for k, c := range tc {
				dst = serverResolved(m[k], c, dst)
			}
		}
	case []any:
		if a, ok := v.([]any); ok {
			for i := range min(len(a), len(tc)) {
				dst = serverResolved(a[i], tc[i], dst)
			}
		}
	}
	return dst
}

// curlySecret reports whether the definition's text ts may hold a
// `${workflow.secrets.…}` (text that does not compile counts, when it
// names the secrets root).
func curlySecret(ts string) bool {
	tpl, err := interpolate.CompileExpr(ts)
	if err != nil {
		return strings.Contains(ts, "secrets")
	}
	return tpl.HasSecrets()
}

// programFields are the inputs a task type runs as program text.
var programFields = map[string][]string{
	tasks.TypeInline:          {"expression", "scriptExpression"},
	tasks.TypeJSONJQTransform: {"queryExpression"},
}

// noSecretInProgram refuses a `$<…>` the worker would resolve into program
// text (INLINE expression, jq queryExpression), as the engine refuses it
// when it validates a definition: the value would become code, and
// evaluator errors quote code.
func noSecretInProgram(kind string, in map[string]any) error {
	for _, k := range programFields[kind] {
		c, ok := in[k]
		if !ok {
			continue
		}
		raw, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if tpl, err := interpolate.Compile(raw); err != nil || tpl.HasSecrets() {
			return fmt.Errorf("inputData.%s: a secret reference must not be part of program text (its value would become code): pass it as an input parameter and read it there", k)
		}
	}
	return nil
}

// decodeNumbers is json.Unmarshal keeping numbers as json.Number, one
// JSON value and nothing after it.
func decodeNumbers(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("invalid character after top-level value")
	}
	return nil
}

// definitionInput is the inputParameters of the poll's workflowTask, as the
// definition writes them; hasTpl is false when the poll carries no
// workflowTask.
func definitionInput(raw json.RawMessage) (tpl any, hasTpl bool, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false, nil
	}
	var wt struct {
		InputParameters map[string]any `json:"inputParameters"`
	}
	if err := decodeNumbers(raw, &wt); err != nil {
		return nil, false, fmt.Errorf("polled workflowTask is not a JSON object: %w", err)
	}
	if wt.InputParameters == nil {
		return map[string]any{}, true, nil
	}
	return wt.InputParameters, true, nil
}

// secretNameField reports whether the member at keys (the object keys from
// the input's top; "[]" for an array element) names a secret a task of kind
// reads or writes, where its executor looks for it and as it matches keys:
// HTTP's auth.secret at the top or under http_request (encoding/json
// matches those keys in any case), UPDATE_SECRET's _secrets.secretKey
// (exact keys), EXEC's bundles (any case). Elsewhere, or in another kind's
// input, the same keys are data no executor reads a secret by.
func secretNameField(kind string, keys []string) bool {
	fold := func(want ...string) bool {
		if len(keys) != len(want) {
			return false
		}
		for i, w := range want {
			if !strings.EqualFold(keys[i], w) {
				return false
			}
		}
		return true
	}
	switch kind {
	case tasks.TypeHTTP:
		return fold("auth", "secret") || fold("http_request", "auth", "secret")
	case tasks.TypeUpdateSecret:
		return len(keys) == 2 && keys[0] == "_secrets" && keys[1] == "secretKey"
	case tasks.TypeExec:
		return fold("bundles")
	}
	return false
}

// markLiteral returns v ready for interpolate: every `${` escaped, and every
// `$<` escaped too unless the string is the definition's literal string at
// the same place (tpl). It refuses a secret's name that is not literal in
// the definition, and a `$<…>` it cannot tell from run data.
func markLiteral(kind string, v, tpl any, hasTpl bool, path string, keys []string) (any, error) {
	switch x := v.(type) {
	case string:
		ts, isStr := tpl.(string)
		if isStr && sameLiteral(x, ts) {
			return strings.ReplaceAll(x, "${", "$${"), nil
		}
		if strings.Contains(x, "$<") {
			if !hasTpl {
				return nil, fmt.Errorf("%s holds $<…> but the poll carries no workflowTask: the worker cannot tell the definition's text from run data, and resolves no secret", path)
			}
			if isStr && strings.Contains(ts, "$<") {
				// The definition mixes ${…} and $<…>: its $<…> parts resolve
				// if the polled string aligns with it one way only.
				if m, ok := mixedLiteral(x, ts); ok {
					return m, nil
				}
				return nil, fmt.Errorf("%s: $<…> resolves only where the polled text aligns with the task definition's string in one way", path)
			}
		}
		return strings.ReplaceAll(strings.ReplaceAll(x, "${", "$${"), "$<", "$$<"), nil
	case map[string]any:
		tm, _ := tpl.(map[string]any)
		out := make(map[string]any, len(x))
		for k, c := range x {
			cp := path + "." + k
			var tc any
			if tm != nil {
				tc = tm[k]
			}
			ck := append(keys[:len(keys):len(keys)], k)
			if secretNameField(kind, ck) && c != nil {
				if !hasTpl {
					return nil, fmt.Errorf("%s names a secret but the poll carries no workflowTask to check it is written in the task definition: refused", cp)
				}
				if !literalEqual(c, tc) {
					return nil, fmt.Errorf("%s names a secret: it must be written literally in the task definition's inputParameters, not come from run data", cp)
				}
				if holdsReference(c) {
					// Literal text, but it would resolve: a secret's value
					// would become a name, which the store and its audit
					// keep in clear.
					return nil, fmt.Errorf("%s names a secret: it must be a literal secret name, not an expression", cp)
				}
			}
			m, err := markLiteral(kind, c, tc, hasTpl, cp, ck)
			if err != nil {
				return nil, err
			}
			out[k] = m
		}
		return out, nil
	case []any:
		ta, _ := tpl.([]any)
		out := make([]any, len(x))
		for i, c := range x {
			var tc any
			if i < len(ta) {
				tc = ta[i]
			}
			m, err := markLiteral(kind, c, tc, hasTpl, fmt.Sprintf("%s[%d]", path, i), append(keys[:len(keys):len(keys)], "[]"))
			if err != nil {
				return nil, err
			}
			out[i] = m
		}
		return out, nil
	}
	return v, nil
}

// holdsReference reports whether v holds a `$<…>` or `${…}` reference in
// any of its strings.
func holdsReference(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, "$<") || strings.Contains(x, "${")
	case map[string]any:
		for _, c := range x {
			if holdsReference(c) {
				return true
			}
		}
	case []any:
		for _, c := range x {
			if holdsReference(c) {
				return true
			}
		}
	}
	return false
}

// sameLiteral reports whether the polled string s is the definition's string
// ts with no `${…}` expression in it: as written (a Conductor server), or
// with its `$${` and `$$<` escapes undone (wfrun serve shows definitions in
// wfrun's spelling, where a Conductor `$<` is written `$$<`).
func sameLiteral(s, ts string) bool {
	var b strings.Builder
	for i := 0; i < len(ts); i++ {
		c := ts[i]
		if c == '$' && i+2 < len(ts) && ts[i+1] == '$' && (ts[i+2] == '{' || ts[i+2] == '<') {
			b.WriteByte('$')
			b.WriteByte(ts[i+2])
			i += 2
			continue
		}
		if c == '$' && i+1 < len(ts) && ts[i+1] == '{' {
			return false
		}
		b.WriteByte(c)
	}
	return s == ts || s == b.String()
}

// literalEqual reports whether the polled value v is the definition's tpl
// as written, with no `${…}` in it.
func literalEqual(v, tpl any) bool {
	switch t := tpl.(type) {
	case string:
		s, ok := v.(string)
		return ok && sameLiteral(s, t)
	case map[string]any:
		m, ok := v.(map[string]any)
		if !ok || len(m) != len(t) {
			return false
		}
		for k, c := range t {
			mc, ok := m[k]
			if !ok || !literalEqual(mc, c) {
				return false
			}
		}
		return true
	case []any:
		a, ok := v.([]any)
		if !ok || len(a) != len(t) {
			return false
		}
		for i := range t {
			if !literalEqual(a[i], t[i]) {
				return false
			}
		}
		return true
	case nil:
		return false
	}
	return reflect.DeepEqual(v, tpl)
}

// clean registers the leaves, strings and numbers, of every `_secrets`
// subtree of an output (so copies elsewhere are masked), seals them for the
// run when the worker has a key (sealed.go) or else removes the subtrees,
// then masks the rest: the server stores references, sealed leaves and
// "***" only.
func clean(rs *runsecrets.Run, ring *seal.Keyring, workflowID string, out json.RawMessage) (json.RawMessage, error) {
	if len(out) == 0 || string(out) == "null" {
		return json.RawMessage("{}"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("task output is not JSON: %w", err)
	}
	rs.RegisterValues(runsecrets.SecretLeaves(v)...)
	var leaves [][]byte
	if ring != nil {
		v = slotSecrets(v, false, &leaves)
	} else {
		v = dropSecrets(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	// MaskJSON: a number is masked as the value "***", keeping JSON valid.
	masked, err := rs.Masker().MaskJSON(b)
	if err != nil || ring == nil {
		return masked, err
	}
	return fillSlots(ring, workflowID, masked, leaves)
}

func dropSecrets(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if runsecrets.IsSecretsKey(k) {
				delete(x, k)
				continue
			}
			x[k] = dropSecrets(c)
		}
	case []any:
		for i, c := range x {
			x[i] = dropSecrets(c)
		}
	}
	return v
}
