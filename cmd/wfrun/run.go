package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/privdir"
	"github.com/wfrun/wfrun/internal/procgroup"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/env"
	"github.com/wfrun/wfrun/store/open"
	"github.com/wfrun/wfrun/tasks"
)

// engineFlags are shared by run, resume and restart.
type engineFlags struct {
	workers   []string
	defsDir   string
	taskDefs  string
	eventSink []string
	quiet     bool
	allowExec bool
	out       outputFlags
	pv        *progressView
}

// progress starts the progress view on cmd's stderr and returns the
// engine's event callback.
func (f *engineFlags) progress(cmd *cobra.Command) func(engine.Event) {
	f.pv = newProgress(cmd.ErrOrStderr(), f.quiet)
	return f.pv.event
}

func (f *engineFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.workers, "worker", nil, "NAME=COMMAND: run SIMPLE tasks named NAME with `sh -c COMMAND` (task input JSON on stdin, output JSON object on stdout; the task definition's runtimeMetadata values in the JSON file $WFRUN_RUNTIME_METADATA names); repeatable")
	cmd.Flags().StringVar(&f.defsDir, "definitions", "", "directory of workflow definitions for SUB_WORKFLOW and failureWorkflow names (default: the workflow file's directory)")
	cmd.Flags().StringVar(&f.taskDefs, "taskdefs", "", "directory of Conductor task definitions (JSON TaskDef objects or lists: retries, timeouts, inputTemplate, limits); task definitions in the definitions directory are read too")
	addEventSinkFlag(cmd, &f.eventSink)
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "no progress lines on stderr")
	cmd.Flags().BoolVar(&f.allowExec, "allow-exec", false, "enable EXEC tasks, which run local commands with secrets as env vars and files (off by default: whoever writes the workflow could run any command)")
	addEnvValuesFlag(cmd)
	addLimitFlags(cmd)
	f.out.add(cmd)
}

// cliRegistry is the task registry of run, resume and restart: the default
// tasks (UPDATE_SECRET included), and EXEC only when allowed. storePrefixes
// are those of the env: secret stores in use (open.EnvPrefixes): EXEC keeps
// their variables, PATH included, from its commands.
func cliRegistry(allowExec bool, storePrefixes []string) *tasks.Registry {
	reg := tasks.NewDefaultRegistry()
	if allowExec {
		tasks.RegisterExec(reg, tasks.WithExecStorePrefixes(storePrefixes))
	}
	return reg
}

// cliEngine is an engine wired to the configured stores.
type cliEngine struct {
	*engine.Engine
	secrets   store.Store
	runs      runstore.Store
	closeSink func()
	taskDefs  *engine.TaskDefs // the registry the engine reads (nil without flags)
}

func (c *cliEngine) Close() {
	if c.closeSink != nil {
		c.closeSink()
	}
	if c.secrets != nil {
		_ = c.secrets.Close()
	}
	if c.runs != nil {
		_ = c.runs.Close()
	}
}

// openRunStore opens the run store matching the secret store configuration:
// Redis URLs keep runs in the same Redis, anything else uses
// $WFRUN_HOME/runs.db.
func openRunStore(cmd *cobra.Command) (runstore.Store, error) {
	cfg := storeConfig(cmd)
	url := ""
	for _, part := range strings.Split(cfg.URL, "|") {
		part = strings.TrimSpace(part)
		if strings.HasPrefix(part, "redis://") || strings.HasPrefix(part, "rediss://") {
			url = part
		}
	}
	if url == "" && cfg.Home == "" {
		return nil, errors.New("no WFRUN_HOME for the run store")
	}
	rs, err := runstore.Open(cfg.Home, url)
	if err != nil {
		return nil, fmt.Errorf("open run store: %w", err)
	}
	return rs, nil
}

func openEngine(cmd *cobra.Command, f *engineFlags, events func(engine.Event)) (*cliEngine, error) {
	c := &cliEngine{}
	cfg := storeConfig(cmd)
	ring, err := cfg.Keyring()
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	c.runs, err = openRunStore(cmd)
	if err != nil {
		return nil, err
	}
	opts := []engine.Option{
		engine.WithRunStore(c.runs),
		engine.WithKeyring(ring),
		engine.WithRegistry(cliRegistry(f != nil && f.allowExec, open.EnvPrefixes(cfg.URL))),
		engine.WithSecrets(func(p engine.Principal, project, environment string) interpolate.SecretSource {
			// The secret store opens lazily: a workflow without secrets does
			// not need it.
			if c.secrets == nil {
				s, err := openStore(cmd)
				if err != nil {
					return failingSource{err}
				}
				c.secrets = s
			}
			return store.NewRunView(c.secrets, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, environment)
		}),
	}
	if events != nil {
		opts = append(opts, engine.WithEvents(events))
	}
	envOpts, err := envValuesOption(cmd)
	if err != nil {
		c.Close()
		return nil, err
	}
	opts = append(opts, envOpts...)
	limits, err := limitOptions(cmd)
	if err != nil {
		c.Close()
		return nil, err
	}
	opts = append(opts, limits...)
	if ttl, ok, err := leaseTTL(); err != nil {
		c.Close()
		return nil, err
	} else if ok {
		opts = append(opts, engine.WithLeaseTTL(ttl))
	}
	if f != nil {
		if f.defsDir != "" {
			opts = append(opts, engine.WithDefinitionsDir(f.defsDir))
		}
		defs, err := loadTaskDefs(f.defsDir, f.taskDefs)
		if err != nil {
			c.Close()
			return nil, err
		}
		opts = append(opts, engine.WithTaskDefs(defs))
		c.taskDefs = defs
		sinks, closeSinks, err := openEventSinks(f.eventSink, cmd.OutOrStdout(), cmd.ErrOrStderr())
		if err != nil {
			c.Close()
			return nil, err
		}
		opts = append(opts, sinks...)
		c.closeSink = closeSinks
		for i, w := range f.workers {
			name, command, ok := strings.Cut(w, "=")
			if !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(command) == "" {
				c.Close()
				// Not quoted: a command may hold a credential.
				return nil, usageErr(fmt.Errorf("the %s --worker is not NAME=COMMAND", ordinal(i+1)))
			}
			opts = append(opts, engine.WithWorker(name, commandWorker(command, open.EnvPrefixes(cfg.URL))))
		}
	}
	e, err := engine.New(opts...)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.Engine = e
	return c, nil
}

// failingSource reports why the secret store could not be opened, on the
// first secret a task needs.
type failingSource struct{ err error }

func (f failingSource) Secret(context.Context, string) ([]byte, error)     { return nil, f.err }
func (f failingSource) Get(context.Context, string) (*store.Secret, error) { return nil, f.err }
func (f failingSource) Put(context.Context, string, json.RawMessage, int64) (*store.Secret, error) {
	return nil, f.err
}

// commandWorker runs `sh -c command` with the task input on stdin. Its
// stdout must be a JSON object (the task output); stderr is kept for the
// failure reason, which the engine masks.
// storePrefixes are the variable prefixes of the env: secret stores in use
// (open.EnvPrefixes): none of their variables reaches the command.
func commandWorker(command string, storePrefixes []string) engine.WorkerFunc {
	return func(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
		cmd := exec.CommandContext(ctx, "sh", "-c", command)
		cmd.Stdin = strings.NewReader(string(input))
		cmd.Env = workerEnv(os.Environ(), storePrefixes)
		if md := engine.RuntimeMetadata(ctx); len(md) > 0 {
			path, remove, err := writeRuntimeMetadata(md)
			if err != nil {
				return nil, err
			}
			defer remove()
			cmd.Env = append(cmd.Env, runtimeMetadataEnv+"="+path)
		}
		var stdout, stderr limitedBuffer
		stdout.max, stderr.max = maxWorkerStdout, 4<<10
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		// stderr is kept for the failure reason, and only its first bytes
		// (the reason then ends with the cut mark): it is masked as a stream
		// before it is cut, so a value across the cut is never half kept.
		var masked *masking.Writer
		if sec := runsecrets.FromContext(ctx); sec != nil {
			masked = sec.NewWriter(&stderr)
			cmd.Stderr = masked
		}
		procgroup.Set(cmd)
		cmd.Cancel = func() error { return procgroup.Kill(cmd) }
		err := cmd.Run()
		if masked != nil {
			_ = masked.Close()
		}
		if err != nil {
			msg := strings.TrimSpace(stderr.String())
			if msg != "" {
				return nil, fmt.Errorf("worker command failed (%v): %s", err, msg)
			}
			return nil, fmt.Errorf("worker command failed: %v", err)
		}
		if stdout.cut {
			return nil, fmt.Errorf("worker command printed more than %d MiB on stdout; a task's output is at most that", maxWorkerStdout>>20)
		}
		out := strings.TrimSpace(string(stdout.Bytes()))
		if out == "" {
			out = "{}"
		}
		if !json.Valid([]byte(out)) || out[0] != '{' {
			return nil, errors.New("worker command did not print a JSON object on stdout")
		}
		return json.RawMessage(out), nil
	}
}

// runtimeMetadataEnv names the file that holds, for a worker command, the
// values its task definition declares in runtimeMetadata (a JSON object
// name → value, as Conductor hands them to its workers beside the input).
const runtimeMetadataEnv = "WFRUN_RUNTIME_METADATA"

// writeRuntimeMetadata writes md into a file readable by this user only, in
// a private directory that remove deletes (the values are secrets: never
// in the command line, the environment or the input).
func writeRuntimeMetadata(md map[string]string) (path string, remove func(), err error) {
	b, _ := json.Marshal(md)
	path, remove, err = privdir.Write("wfrun-worker-", "runtime-metadata.json", b)
	if err != nil {
		return "", nil, fmt.Errorf("worker runtimeMetadata: %v", err)
	}
	return path, remove, nil
}

// workerEnvAllowed are the variables a worker command inherits: what a
// shell command needs to run and to read text, nothing else. An allowlist,
// because an env: secret store may use any prefix, and wfrun's own
// configuration (WFRUN_MASTER_KEY, WFRUN_STORE with its credentials) must
// not reach a worker either: a worker sees only the input wfrun resolved
// for it.
var workerEnvAllowed = map[string]bool{
	"PATH": true, "HOME": true, "USER": true, "LOGNAME": true, "SHELL": true,
	"LANG": true, "LANGUAGE": true, "TZ": true, "TMPDIR": true, "TMP": true, "TEMP": true,
	"SYSTEMROOT": true, "COMSPEC": true, "PATHEXT": true, "WINDIR": true, // Windows needs these to start a process
}

// workerEnv is the environment of worker commands: the allowlisted
// variables of environ, plus the LC_* locale settings, but never a
// variable of an env: secret store (storePrefixes, env.Reads), whatever its
// prefix: a store under LC_ or HOME_ keeps its values from the command too.
func workerEnv(environ []string, storePrefixes []string) []string {
	out := environ[:0:0]
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if env.Reads(name, storePrefixes) {
			continue
		}
		if workerEnvAllowed[strings.ToUpper(name)] || strings.HasPrefix(name, "LC_") {
			out = append(out, kv)
		}
	}
	return out
}

// maxWorkerStdout bounds what a worker command may print on stdout (its
// task's output).
const maxWorkerStdout = 16 << 20

// limitedBuffer keeps the first max bytes written to it. What it is given
// must already be masked: it cuts, it does not mask.
type limitedBuffer struct {
	b   []byte
	max int
	cut bool // bytes were dropped
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := max(l.max-len(l.b), 0); n > room {
		p, l.cut = p[:room], true
	}
	l.b = append(l.b, p...)
	return n, nil
}

// Bytes is what was kept, as it was written.
func (l *limitedBuffer) Bytes() []byte { return l.b }

// String is the text kept for a reader: when bytes were dropped, it ends
// at a whole UTF-8 sequence and with masking.CutMark, as every text wfrun
// cuts does, so a reader sees it was cut (and a value registered later
// whose head ends it is masked there when the text is masked again).
func (l *limitedBuffer) String() string {
	if !l.cut {
		return string(l.b)
	}
	kept := l.b
	// The cut may have split the last sequence: drop what is left of it.
	last := len(kept) - 1
	for last > 0 && !utf8.RuneStart(kept[last]) {
		last--
	}
	if last >= 0 && !utf8.FullRune(kept[last:]) {
		kept = kept[:last]
	}
	return string(kept) + masking.CutMark
}

// readJSONArg reads "JSON" or "@file" (or "@-" for stdin).
func readJSONArg(cmd *cobra.Command, flag, v string) (json.RawMessage, error) {
	if v == "" {
		return nil, nil
	}
	b := []byte(v)
	if strings.HasPrefix(v, "@") {
		var err error
		if v == "@-" {
			b, err = io.ReadAll(cmd.InOrStdin())
		} else {
			b, err = os.ReadFile(v[1:])
		}
		if err != nil {
			return nil, usageErr(fmt.Errorf("--%s: %w", flag, err))
		}
	}
	if !json.Valid(b) {
		return nil, usageErr(jsonSyntaxError("--"+flag, b))
	}
	return b, nil
}

func signalContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// runResult is `run -o json`: the run id and status with the masked output,
// so a script gets the id of a failed run from stdout.
type runResult struct {
	WorkflowID            string          `json:"workflowId"`
	Status                string          `json:"status"`
	ReasonForIncompletion string          `json:"reasonForIncompletion,omitempty"`
	Output                json.RawMessage `json:"output"`
}

func newRunResult(res *engine.Result) runResult {
	out := res.Output
	if len(out) == 0 {
		out = json.RawMessage("{}")
	}
	return runResult{WorkflowID: res.RunID, Status: res.Status, ReasonForIncompletion: res.Reason, Output: out}
}

// printResult writes a run's result on stdout: the masked workflow output
// (SPEC §5) by default, the envelope with -o json/yaml/--field. oneLine is
// for --every (one JSON line per run).
func printResult(cmd *cobra.Command, out *outputFlags, res *engine.Result, oneLine bool) error {
	w := cmd.OutOrStdout()
	if out.structured() {
		v := newRunResult(res)
		if oneLine && out.format == formatJSON {
			b, err := json.Marshal(v)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(w, "%s\n", b)
			return err
		}
		return out.render(w, v, nil)
	}
	var b []byte
	if oneLine {
		b, _ = json.Marshal(json.RawMessage(res.Output))
	} else {
		b, _ = json.MarshalIndent(json.RawMessage(res.Output), "", "  ")
	}
	_, err := fmt.Fprintf(w, "%s\n", b)
	return err
}

// waitStarted waits for the runs the engine started on its own — a
// failureWorkflow, START_WORKFLOW runs. They are runs of their own, as in
// Conductor, and the run that started them has already ended; but a CLI
// user who runs a workflow expects its compensation or the runs it starts
// to happen, not to find them stranded in the store when the command
// exits. So the command stays until they end, saying so on stderr; a
// signal interrupts them, and they stay RUNNING for wfrun resume.
func waitStarted(ctx context.Context, cmd *cobra.Command, ef *engineFlags, c *cliEngine) {
	ids := c.Started()
	if len(ids) == 0 {
		return
	}
	say := func(line string) {
		if ef.pv != nil {
			ef.pv.note(line)
			return
		}
		fmt.Fprintln(cmd.ErrOrStderr(), line)
	}
	say(fmt.Sprintf("waiting for the run(s) it started: %s (a signal leaves them RUNNING for wfrun resume)", strings.Join(ids, ", ")))
	if err := c.WaitStarted(ctx); err != nil {
		say(fmt.Sprintf("%v; continue each one still RUNNING with: wfrun resume %s", err, strings.Join(ids, ", wfrun resume ")))
	}
}

// finishRun prints the masked output and maps the status to the exit code.
// An error during the run (a store that went away) names the run and how to
// resume it.
func finishRun(cmd *cobra.Command, f *engineFlags, res *engine.Result, err error) error {
	out, pv := &f.out, f.pv
	if pv != nil {
		pv.close()
	}
	if err != nil {
		if errors.Is(err, engine.ErrInterrupted) {
			return failed(err)
		}
		if id := pv.runID(); id != "" && !errors.Is(err, engine.ErrInvalidDefinition) {
			cause := "once the cause is fixed"
			if unreachable(err) {
				cause = "once the store is reachable again"
			}
			return failed(fmt.Errorf("run %s did not finish: %w; it stays RUNNING: %s, continue it with: wfrun resume %s", id, err, cause, id))
		}
		return err
	}
	if perr := printResult(cmd, out, res, false); perr != nil {
		return perr
	}
	if res.Status != engine.StatusCompleted {
		msg := fmt.Sprintf("run %s ended %s", res.RunID, res.Status)
		switch {
		case pv.shownEnd(res.RunID):
			msg += fmt.Sprintf(" (reason above; the run: wfrun show %s)", res.RunID)
		case res.Reason != "":
			msg += ": " + res.Reason
		}
		return failed(errors.New(msg))
	}
	return nil
}

func newRunCmd() *cobra.Command {
	var (
		ef               engineFlags
		input, corr      string
		vars             []string
		project, environ string
		every            time.Duration
		maxRuns          int
		mocks            string
	)
	cmd := &cobra.Command{
		Use:   "run WORKFLOW.json",
		Short: "Run a Conductor workflow definition to its end",
		Long: `Run executes a Conductor JSON workflow definition locally. Progress goes to stderr
(one line per task transition); the masked workflow output JSON goes to stdout.
Exit status: 0 COMPLETED, 1 FAILED / TIMED_OUT / TERMINATED, 2 bad usage or an
invalid definition. Runs are stored in $WFRUN_HOME/runs.db (or in Redis when
WFRUN_STORE is a redis:// URL); an interrupted run continues with wfrun resume.

With --every DURATION the workflow runs now and then again every DURATION,
measured from the start of each run (a run that takes longer is followed at
once; runs never overlap), until SIGINT/SIGTERM or --max-runs runs. Each run
prints its output as one JSON line on stdout and one summary line on stderr;
a failed run does not stop the schedule. A signal between runs stops it; a
signal during a run interrupts that run, which stays RUNNING and resumable
(wfrun resume RUN_ID). Exit status: 0 when the last run COMPLETED, 1 when it
did not or was interrupted.

With --mocks FILE (Conductor's WorkflowTestRequest JSON, as POST
/api/workflow/test takes it) the run is a test run: each task other than
the operators and the tasks that complete at once (SWITCH, FORK, JOIN,
DO_WHILE, INLINE, JSON_JQ_TRANSFORM, SUB_WORKFLOW...) takes its outcome from
taskRefToMockOutput by reference name, in order (retries, loop iterations
"ref__N"), a sub-workflow's from subWorkflowTestRequest; mocked outputs are
masked like any task output. A SIMPLE task with no mock left stops the run
there (it stays RUNNING; exit status 1).

EXEC tasks run local commands and are refused unless --allow-exec is given.`,
		Example: `  wfrun run testdata/workflows/hello.json --input '{"name":"world"}'
  wfrun run wf.json --input @input.json --var region=eu --worker enrich='jq "{enriched: .}"'
  wfrun run wf.json --project shop --environment prod
  wfrun run wf.json --env-values file:env.json     # ${workflow.env.NAME} from a JSON object
  wfrun run testdata/workflows/rotate_token.json --every 30m
  wfrun run testdata/workflows/exec_bundle.json --allow-exec
  wfrun run wf.json --mocks test_request.json      # task outputs mocked, as POST /api/workflow/test`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return usageErr(err)
			}
			in, err := readJSONArg(cmd, "input", input)
			if err != nil {
				return err
			}
			if len(in) > 0 && strings.TrimSpace(string(in))[0] != '{' {
				return usageErr(errors.New("--input must be a JSON object"))
			}
			if ef.defsDir == "" {
				ef.defsDir = filepath.Dir(args[0])
			}
			c, err := openEngine(cmd, &ef, ef.progress(cmd))
			if err != nil {
				return err
			}
			defer c.Close()
			def, err := c.Parse(b)
			if err != nil {
				return invalidErr(c.MaskDefinitionError(cmd.Context(), b, fmt.Errorf("%s: %w", args[0], err), localPrincipal, project, environ))
			}
			for _, w := range definitionWarnings(def) {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: warning: %s\n", args[0], w)
			}
			opts := []engine.RunOption{engine.InScope(project, environ), engine.WithCorrelationID(corr)}
			if abs, err := filepath.Abs(args[0]); err == nil {
				opts = append(opts, engine.WithDefinitionPath(abs))
			}
			for i, kv := range vars {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					// Not quoted: it may be a value typed without its NAME=.
					return usageErr(fmt.Errorf("the %s --var has no NAME= (want NAME=VALUE)", ordinal(i+1)))
				}
				val := json.RawMessage(v)
				if !json.Valid(val) {
					val, _ = json.Marshal(v)
				}
				opts = append(opts, engine.WithVariable(k, val))
			}
			if cmd.Flags().Changed("max-runs") && every == 0 {
				return usageErr(errors.New("--max-runs needs --every"))
			}
			if cmd.Flags().Changed("every") && every <= 0 {
				return usageErr(errors.New("--every must be a positive duration, e.g. 30s or 1h"))
			}
			if maxRuns < 0 {
				return usageErr(errors.New("--max-runs must not be negative"))
			}
			ctx, stop := signalContext(cmd)
			defer stop()
			if mocks != "" {
				if every > 0 {
					return usageErr(errors.New("--mocks and --every do not go together"))
				}
				test, err := readMocks(mocks)
				if err != nil {
					return err
				}
				return runTest(ctx, cmd, &ef, c, def, in, opts, test)
			}
			if every > 0 {
				return runEvery(ctx, cmd, &ef, c, def, in, opts, every, maxRuns)
			}
			res, err := c.Start(ctx, def, in, opts...)
			waitStarted(ctx, cmd, &ef, c)
			return finishRun(cmd, &ef, res, err)
		},
	}
	addConfigFlags(cmd)
	ef.add(cmd)
	cmd.Flags().StringVar(&input, "input", "", "workflow input: a JSON object, @FILE or @- for stdin")
	cmd.Flags().StringArrayVar(&vars, "var", nil, "NAME=VALUE initial workflow variable (VALUE is JSON if it parses, else a string); repeatable")
	cmd.Flags().StringVar(&project, "project", "", "project scope for secret resolution")
	cmd.Flags().StringVar(&environ, "environment", "", "environment scope for secret resolution")
	cmd.Flags().StringVar(&corr, "correlation-id", "", "correlationId of the run")
	cmd.Flags().DurationVar(&every, "every", 0, "run again every DURATION (e.g. 30s, 15m, 1h) until SIGINT/SIGTERM: a local scheduler")
	cmd.Flags().IntVar(&maxRuns, "max-runs", 0, "with --every: stop after N runs (0: no limit)")
	cmd.Flags().StringVar(&mocks, "mocks", "", "a test run: task outcomes mocked from FILE (Conductor's WorkflowTestRequest JSON)")
	// A malformed flag value (--every soon) is bad usage: exit status 2.
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageErr(withholdArgument(c, err)) })
	return cmd
}

// runEvery is `wfrun run --every`: a fixed-rate schedule of runs of one
// definition, each a run of its own (own id, own archive). It never starts
// a run while another is active. A failed run does not stop the schedule
// (the next one may succeed: a token endpoint that was down); a run-store
// or secret-store error that prevents a run from being recorded does.
func runEvery(ctx context.Context, cmd *cobra.Command, ef *engineFlags, c *cliEngine, def *engine.Definition, in json.RawMessage,
	opts []engine.RunOption, every time.Duration, maxRuns int) error {
	stderr := cmd.ErrOrStderr()
	var last *engine.Result
	for n := 1; ; n++ {
		started := time.Now()
		ef.pv.resetRun()
		res, err := c.Start(ctx, def, in, opts...)
		waitStarted(ctx, cmd, ef, c)
		if err != nil {
			if errors.Is(err, engine.ErrInterrupted) {
				fmt.Fprintf(stderr, "%s scheduled run %d interrupted by a signal: %v\n", time.Now().Format("15:04:05"), n, err)
			}
			return finishRun(cmd, ef, res, err)
		}
		last = res
		if err := printResult(cmd, &ef.out, res, true); err != nil {
			return err
		}
		line := fmt.Sprintf("%s scheduled run %d: %s %s in %s", time.Now().Format("15:04:05"), n, res.RunID, res.Status,
			time.Since(started).Round(time.Millisecond))
		if res.Reason != "" && !ef.pv.shownEnd(res.RunID) {
			line += " (" + res.Reason + ")"
		}
		if maxRuns > 0 && n >= maxRuns {
			fmt.Fprintf(stderr, "%s; %d of %d runs done\n", line, n, maxRuns)
			break
		}
		next := started.Add(every)
		fmt.Fprintf(stderr, "%s; next run at %s\n", line, next.Format("15:04:05"))
		if err := sleepUntil(ctx, next); err != nil {
			fmt.Fprintf(stderr, "%s stopping the schedule: signal received between runs\n", time.Now().Format("15:04:05"))
			break
		}
	}
	if last.Status != engine.StatusCompleted {
		return &exitError{code: 1, err: fmt.Errorf("the last run %s ended %s", last.RunID, last.Status)}
	}
	return nil
}

// sleepUntil waits for t or the end of ctx (then it returns ctx's error).
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// loadTaskDefs reads the task definitions of the definitions directory, then
// of --taskdefs (which wins for a name defined in both).
func loadTaskDefs(defsDir, taskDefsDir string) (*engine.TaskDefs, error) {
	defs := engine.NewTaskDefs()
	if defsDir != "" {
		if err := defs.LoadDir(defsDir); err != nil {
			return nil, err
		}
	}
	if taskDefsDir != "" {
		if st, err := os.Stat(taskDefsDir); err != nil || !st.IsDir() {
			return nil, usageErr(fmt.Errorf("--taskdefs %s: not a directory", taskDefsDir))
		}
		if err := defs.LoadDir(taskDefsDir); err != nil {
			return nil, err
		}
	}
	return defs, nil
}
