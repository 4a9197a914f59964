package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wfrun/wfrun/internal/privdir"
	"github.com/wfrun/wfrun/internal/procgroup"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/env"
)

// TypeExec is the task type name of Exec.
const TypeExec = "EXEC"

// Defaults of Exec.
const (
	DefaultExecTimeout     = 10 * time.Minute
	DefaultExecOutputLimit = 1 << 20 // bytes kept per stream
	maxExecLogLine         = 4 << 10 // a longer line is logged in pieces
)

// defaultExecPath is the command's PATH when the wfrun process has none,
// or when its PATH is a variable of an env: secret store.
const defaultExecPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Exec is wfrun's EXEC task: it runs a local command with environment
// variables and files taken from secrets, Semaphore style. It is powerful
// (anyone who can write a workflow can run commands), so it is not in the
// default registry: an embedding program or `wfrun run --allow-exec` adds it
// with RegisterExec.
//
// Input:
//
//	command         argv list, run directly (no shell unless argv names one)
//	env             {"NAME": value}; values are usually ${workflow.secrets.X}
//	                and arrive resolved; non-string values are passed as JSON text
//	files           {"relative/path": content}; non-string content is written as JSON
//	bundles         secret names whose values have the bundle shape
//	                {"env_vars":[{"name","value"}],"files":[{"path","content"}]};
//	                all their variables and files are injected
//	timeoutSeconds  number (fractions allowed); default DefaultExecTimeout
//
// The command runs in a fresh private directory (mode 0700), which is also
// its HOME and TMPDIR, and which is removed afterwards whatever happens.
// Files are written there with mode 0600 (run scripts as `sh file`). A path
// that is absolute, empty, or that leaves the directory (`../x`,
// `a/../../x`) is refused before anything runs; files are created through an
// os.Root, so no symbolic link can redirect a write outside it either.
//
// The environment is a minimal base — PATH (the wfrun process's PATH, unless
// an env: secret store reads it: see WithExecStorePrefixes), HOME and TMPDIR
// (the work directory), LANG=C.UTF-8 — then bundle variables in bundle order, then env (env wins). Nothing else
// of the wfrun process's environment (which may hold WFRUN_MASTER_KEY)
// reaches the command.
//
// Every env value, file content and bundle value is registered with the run's
// masker before the command starts. A command whose argv would hold a
// secret — a ${workflow.secrets.X} in the definition's command, or a
// bundle's value — is refused: a command line is readable by every user
// of the host. stdout and stderr are streamed
// line by line, masked, to Services.Logf, and returned masked in the
// output {"stdout", "stderr", "exitCode"} (each stream keeps its first
// DefaultExecOutputLimit bytes). The command runs in its own process group;
// on timeout or cancellation the whole group is killed, children included.
// A non-zero exit is Failed, with the output; a timeout is Failed with
// exitCode -1.
type Exec struct {
	timeout       time.Duration
	outputLimit   int
	storePrefixes []string
}

// ExecOption configures NewExec.
type ExecOption func(*Exec)

// WithExecTimeout sets the timeout used when the input has no
// timeoutSeconds.
func WithExecTimeout(d time.Duration) ExecOption {
	return func(e *Exec) {
		if d > 0 {
			e.timeout = d
		}
	}
}

// WithExecOutputLimit sets how many bytes of each stream are kept.
func WithExecOutputLimit(n int) ExecOption {
	return func(e *Exec) {
		if n > 0 {
			e.outputLimit = n
		}
	}
}

// WithExecStorePrefixes names the variable prefixes of the env: secret
// stores the program serves secrets from (open.EnvPrefixes). When one of
// them covers PATH (env:PAT, env:P), PATH is a secret: the command gets
// defaultExecPath instead of the process's PATH, and a command name without
// a slash is looked up there too.
func WithExecStorePrefixes(prefixes []string) ExecOption {
	return func(e *Exec) { e.storePrefixes = slices.Clone(prefixes) }
}

// NewExec returns the EXEC executor.
func NewExec(opts ...ExecOption) *Exec {
	e := &Exec{timeout: DefaultExecTimeout, outputLimit: DefaultExecOutputLimit}
	for _, o := range opts {
		if o != nil {
			o(e)
		}
	}
	return e
}

// RegisterExec enables the EXEC task in r.
func RegisterExec(r *Registry, opts ...ExecOption) {
	r.Register(TypeExec, NewExec(opts...))
}

var (
	_ Task      = (*Exec)(nil)
	_ Validator = (*Exec)(nil)
)

// ErrUnsafePath is wrapped by the error for a file path that is absolute or
// leaves the work directory.
var ErrUnsafePath = errors.New("file path must stay inside the work directory")

type execInput struct {
	Command        []string                   `json:"command"`
	Env            map[string]json.RawMessage `json:"env"`
	Files          map[string]json.RawMessage `json:"files"`
	Bundles        []string                   `json:"bundles"`
	TimeoutSeconds *float64                   `json:"timeoutSeconds"`
}

// execFile is one file to write; origin says where it came from, for errors.
type execFile struct {
	path, content, origin string
}

type execPlan struct {
	argv    []string
	env     []string // NAME=value, explicit part only
	files   []execFile
	timeout time.Duration
}

// CheckExecPath reports whether p may be written inside an EXEC work
// directory: relative, not empty, and not leaving the directory.
func CheckExecPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%w: empty path", ErrUnsafePath)
	case filepath.IsAbs(p) || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`):
		return fmt.Errorf("%w: %q is absolute", ErrUnsafePath, p)
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("%w: %q contains a NUL byte", ErrUnsafePath, p)
	case !filepath.IsLocal(p):
		return fmt.Errorf("%w: %q leaves the work directory", ErrUnsafePath, p)
	case filepath.Clean(p) == ".":
		return fmt.Errorf("%w: %q names the work directory itself", ErrUnsafePath, p)
	}
	return nil
}

func checkEnvName(n string) error {
	if n == "" || strings.ContainsAny(n, "=\x00") {
		return fmt.Errorf("EXEC: env: invalid variable name %q", n)
	}
	return nil
}

// textOf turns a JSON value into the text a command sees: a string as is,
// anything else as its JSON.
func textOf(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '"' {
		var s string
		if json.Unmarshal(t, &s) == nil {
			return s
		}
	}
	return string(t)
}

// parseExec checks the parts of the input that need no secret store.
func (e *Exec) parseExec(input json.RawMessage) (*execInput, *execPlan, error) {
	var in execInput
	if err := exactMembers(input, "EXEC: input", "command", "env", "files", "bundles", "timeoutSeconds"); err != nil {
		return nil, nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(input))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, nil, fmt.Errorf("EXEC: input must be an object {command, env, files, bundles, timeoutSeconds}: %v", err)
	}
	if len(in.Command) == 0 || in.Command[0] == "" {
		return nil, nil, errors.New("EXEC: command is required: a non-empty list of strings (argv)")
	}
	p := &execPlan{argv: in.Command, timeout: e.timeout}
	if in.TimeoutSeconds != nil {
		s := *in.TimeoutSeconds
		if s <= 0 || s > 7*24*3600 {
			return nil, nil, fmt.Errorf("EXEC: timeoutSeconds must be > 0 and at most a week, got %v", s)
		}
		p.timeout = time.Duration(s * float64(time.Second))
	}
	names := make([]string, 0, len(in.Env))
	for n := range in.Env {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := checkEnvName(n); err != nil {
			return nil, nil, err
		}
		v := textOf(in.Env[n])
		if strings.ContainsRune(v, 0) {
			return nil, nil, fmt.Errorf("EXEC: env %s: value contains a NUL byte", n)
		}
		p.env = append(p.env, n+"="+v)
	}
	paths := make([]string, 0, len(in.Files))
	for fp := range in.Files {
		paths = append(paths, fp)
	}
	sort.Strings(paths)
	for _, fp := range paths {
		if err := CheckExecPath(fp); err != nil {
			return nil, nil, fmt.Errorf("EXEC: files: %w", err)
		}
		p.files = append(p.files, execFile{path: fp, content: textOf(in.Files[fp]), origin: "files"})
	}
	for _, b := range in.Bundles {
		if err := store.ValidateName(b); err != nil {
			return nil, nil, fmt.Errorf("EXEC: bundles: %w", err)
		}
	}
	return &in, p, nil
}

// Validate checks a literal input when the definition loads.
func (e *Exec) Validate(def json.RawMessage) []error {
	var d struct {
		InputParameters json.RawMessage `json:"inputParameters"`
	}
	if err := json.Unmarshal(def, &d); err != nil {
		return []error{fmt.Errorf("EXEC: task definition: %v", err)}
	}
	in := bytes.TrimSpace(d.InputParameters)
	if len(in) == 0 {
		return []error{errors.New("inputParameters: EXEC: command is required")}
	}
	if in[0] != '{' || bytes.Contains(in, []byte("${")) {
		// Expressions are resolved at execution time; check what is literal.
		var top map[string]json.RawMessage
		if json.Unmarshal(in, &top) != nil {
			return nil
		}
		var errs []error
		if commandHasSecret(in) {
			errs = append(errs, fmt.Errorf("inputParameters.command: a secret reference in argv: %s", errSecretInArgv))
		}
		var files map[string]json.RawMessage
		if json.Unmarshal(top["files"], &files) == nil {
			for fp := range files {
				if !strings.Contains(fp, "${") {
					if err := CheckExecPath(fp); err != nil {
						errs = append(errs, fmt.Errorf("inputParameters.files: %w", err))
					}
				}
			}
		}
		return errs
	}
	if _, _, err := e.parseExec(in); err != nil {
		return []error{fmt.Errorf("inputParameters: %w", err)}
	}
	if commandHasSecret(in) {
		// A $<workflow.secrets.X>, resolved by the worker that runs it.
		return []error{fmt.Errorf("inputParameters.command: a secret reference in argv: %s", errSecretInArgv)}
	}
	return nil
}

// Execute implements Task.
func (e *Exec) Execute(ctx context.Context, req *Request) Result {
	svc := req.Services
	if svc == nil {
		svc = &Services{}
	}
	mask := func(s string) string {
		if svc.Masker == nil {
			return s
		}
		return string(svc.Masker.Mask([]byte(s)))
	}
	fail := func(st Status, err error) Result {
		return Result{Status: st, Reason: mask(err.Error())}
	}
	in, plan, err := e.parseExec(req.Input)
	if err != nil {
		return fail(FailedTerminal, err)
	}
	bundleEnv, err := e.loadBundles(ctx, svc, in.Bundles, plan)
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return fail(Failed, err)
		}
		return fail(FailedTerminal, err)
	}
	if err := checkDuplicatePaths(plan.files); err != nil {
		return fail(FailedTerminal, err)
	}
	if err := checkArgv(req.Def, plan.argv, bundleEnv, plan.files); err != nil {
		return fail(FailedTerminal, err)
	}
	// Everything secret is registered before anything runs.
	if svc.Masker != nil {
		for _, kv := range append(bundleEnv, plan.env...) {
			if _, v, _ := strings.Cut(kv, "="); v != "" {
				svc.Masker.Register(v)
			}
		}
		for _, f := range plan.files {
			if f.content != "" {
				svc.Masker.Register(f.content)
			}
		}
	}

	dir, err := os.MkdirTemp("", "wfrun-exec-")
	if err != nil {
		return fail(Failed, fmt.Errorf("EXEC: create work directory: %w", err))
	}
	defer func() {
		if err := privdir.Remove(dir); err != nil && svc.Logf != nil {
			svc.Logf("%s", mask(fmt.Sprintf("EXEC %s: could not remove work directory %s: %v", req.RefName, dir, err)))
		}
	}()
	if err := writeFiles(dir, plan.files); err != nil {
		return fail(FailedTerminal, err)
	}
	return e.run(ctx, req, svc, dir, plan, bundleEnv, mask)
}

// errSecretInArgv is the reason a command line holding a secret is refused.
const errSecretInArgv = "a command line is visible to every user of the host (ps, /proc): pass secrets in env, files or bundles"

// commandHasSecret reports whether the command of an EXEC input template
// (a definition's inputParameters) references workflow.secrets.
func commandHasSecret(inputParameters json.RawMessage) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(inputParameters, &top) != nil || rawNull(top["command"]) {
		return false
	}
	tpl, err := interpolate.Compile(top["command"])
	if err != nil {
		return bytes.Contains(top["command"], []byte("workflow.secrets"))
	}
	return tpl.HasSecrets()
}

// checkArgv refuses a command line that would carry a secret: argv is
// readable by every user of the host (/proc/PID/cmdline, ps). It looks at
// the definition's command (def, when given: a ${workflow.secrets.X} there
// arrives resolved) and at the values the task's bundles inject. The error
// names the argument's position, never its text.
func checkArgv(def json.RawMessage, argv []string, bundleEnv []string, files []execFile) error {
	if len(def) > 0 {
		var d struct {
			InputParameters json.RawMessage `json:"inputParameters"`
		}
		if json.Unmarshal(def, &d) == nil && commandHasSecret(d.InputParameters) {
			return fmt.Errorf("EXEC: command references a secret; %s", errSecretInArgv)
		}
	}
	var values []string
	for _, kv := range bundleEnv {
		if _, v, _ := strings.Cut(kv, "="); len(v) >= masking.DefaultMinLength {
			values = append(values, v)
		}
	}
	for _, f := range files {
		if f.origin != "files" && len(f.content) >= masking.DefaultMinLength {
			values = append(values, f.content)
		}
	}
	for i, a := range argv {
		for _, v := range values {
			if strings.Contains(a, v) {
				return fmt.Errorf("EXEC: command argument %d holds a bundle's value; %s", i, errSecretInArgv)
			}
		}
	}
	return nil
}

// loadBundles fetches each bundle, appends its files to the plan and
// returns its variables (NAME=value) in bundle order.
func (e *Exec) loadBundles(ctx context.Context, svc *Services, names []string, plan *execPlan) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	if svc.Secrets == nil {
		return nil, fmt.Errorf("EXEC: bundle %q: the run has no secret store", names[0])
	}
	var env []string
	for _, n := range names {
		raw, err := svc.Secrets.Secret(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("EXEC: bundle: %w", err)
		}
		// Values and contents are secret: the run's boundary registered
		// them as it read the bundle (runsecrets.Run.RegisterSecret), and
		// Execute registers them again for a Secrets that does not.
		// Variable names and file paths are not secret (`wfrun secret get`
		// lists them) and are registered by neither: they stay readable
		// in output and errors.
		b, ok := store.ParseBundle(raw)
		if !ok {
			return nil, fmt.Errorf(`EXEC: secret %q is not a bundle: want {"env_vars":[{"name","value"}],"files":[{"path","content"}]}`, n)
		}
		for _, v := range b.EnvVars {
			if err := checkEnvName(v.Name); err != nil {
				return nil, fmt.Errorf("EXEC: bundle %q: %w", n, err)
			}
			if strings.ContainsRune(v.Value, 0) {
				return nil, fmt.Errorf("EXEC: bundle %q: env %s: value contains a NUL byte", n, v.Name)
			}
			env = append(env, v.Name+"="+v.Value)
		}
		for _, f := range b.Files {
			if err := CheckExecPath(f.Path); err != nil {
				return nil, fmt.Errorf("EXEC: bundle %q: %w", n, err)
			}
			plan.files = append(plan.files, execFile{path: f.Path, content: f.Content, origin: fmt.Sprintf("bundle %q", n)})
		}
	}
	return env, nil
}

func checkDuplicatePaths(files []execFile) error {
	seen := map[string]string{}
	for _, f := range files {
		c := filepath.Clean(f.path)
		if o, ok := seen[c]; ok {
			return fmt.Errorf("EXEC: file %q is given twice (%s and %s)", f.path, o, f.origin)
		}
		seen[c] = f.origin
	}
	return nil
}

// writeFiles creates the files through an os.Root, which refuses any path
// or symbolic link resolving outside dir.
func writeFiles(dir string, files []execFile) error {
	if len(files) == 0 {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("EXEC: open work directory: %w", err)
	}
	defer root.Close()
	for _, f := range files {
		if err := privdir.WriteFile(root, f.path, f.content); err != nil {
			return fmt.Errorf("EXEC: file %q (%s): %w", f.path, f.origin, pathErr(err))
		}
	}
	return nil
}

// pathErr keeps the operation and the reason of a *PathError but not its
// path, which the caller already names relative to the work directory.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

func baseEnv(dir string, storePrefixes []string) []string {
	path := os.Getenv("PATH")
	if path == "" || env.Reads("PATH", storePrefixes) {
		path = defaultExecPath
	}
	return []string{"PATH=" + path, "HOME=" + dir, "TMPDIR=" + dir, "LANG=C.UTF-8"}
}

// commandPath is the program to run for argv0. When the process's PATH is
// a secret (baseEnv), a bare name is looked up in defaultExecPath, not in
// it: where a program was found (which the command can read from
// /proc/self/exe), or whether it was, would tell a piece of the secret.
func commandPath(argv0 string, storePrefixes []string) (string, bool) {
	if strings.ContainsRune(argv0, '/') || strings.ContainsRune(argv0, filepath.Separator) || !env.Reads("PATH", storePrefixes) {
		return argv0, true
	}
	for _, d := range filepath.SplitList(defaultExecPath) {
		p := filepath.Join(d, argv0)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// mergeEnv applies layers in order; a later NAME replaces an earlier one.
func mergeEnv(layers ...[]string) []string {
	idx := map[string]int{}
	var out []string
	for _, l := range layers {
		for _, kv := range l {
			n, _, _ := strings.Cut(kv, "=")
			if i, ok := idx[n]; ok {
				out[i] = kv
				continue
			}
			idx[n] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

// cutText marks a stream kept only in part (masking.CutMark): a value
// registered later whose head ends the part kept is masked there too when
// the stored output is masked again.
func cutText(s string, cut bool) string {
	if cut {
		return s + masking.CutMark
	}
	return s
}

// capture keeps the first limit bytes of a stream.
type capture struct {
	buf       bytes.Buffer
	limit     int
	truncated bool
}

func (c *capture) add(b []byte) {
	if room := c.limit - c.buf.Len(); room < len(b) {
		c.truncated = true
		b = b[:max(room, 0)]
	}
	c.buf.Write(b)
}

// streamMasker is a masker that can mask a stream (a value split across
// writes is still masked): *masking.Masker and *runsecrets.Run.
type streamMasker interface {
	NewWriter(w io.Writer) *masking.Writer
}

// lineWriter receives one stream of the command: it keeps the first bytes
// (capture) and logs each complete line, a long line in pieces. With a
// streamMasker the stream is masked before it reaches the lineWriter, so
// the capture limit and the pieces cut masked text only; otherwise
// (whole) each line is masked whole and never logged in pieces, and the
// capture keeps execMaskHeadroom more bytes so that the output is masked
// before it is cut (capture.kept). exec.Cmd copies the pipe into it from one
// goroutine and Wait waits for that copy, bounded by WaitDelay, so a
// grandchild holding the pipe open cannot hang the task.
type lineWriter struct {
	capture
	name, ref string
	logf      func(string, ...any)
	mask      func(string) string
	partial   []byte
	// whole: the masker cannot mask a stream (not a streamMasker), so
	// only whole lines are masked and logged; a line too long to hold
	// is left out of the log (the output keeps it), never cut first.
	whole    bool
	skipping bool // whole: the current line was too long to hold
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.add(p)
	if w.logf == nil {
		return len(p), nil
	}
	w.partial = append(w.partial, p...)
	start := 0
	for {
		i := bytes.IndexByte(w.partial[start:], '\n')
		if i < 0 {
			break
		}
		w.log(w.partial[start : start+i])
		start += i + 1
	}
	rest := copy(w.partial, w.partial[start:])
	w.partial = w.partial[:rest]
	switch {
	case !w.whole && len(w.partial) >= maxExecLogLine:
		w.log(w.partial)
		w.partial = w.partial[:0]
	case w.whole && len(w.partial) >= maxExecLogLine+execMaskHeadroom:
		w.skipping = true
		w.partial = w.partial[:0]
	}
	return len(p), nil
}

func (w *lineWriter) log(line []byte) {
	if w.skipping {
		w.skipping = false
		w.logf("%s", fmt.Sprintf("EXEC %s %s: (a line longer than %d bytes, left out of the log)", w.ref, w.name, maxExecLogLine+execMaskHeadroom))
		return
	}
	w.logf("%s", fmt.Sprintf("EXEC %s %s: %s", w.ref, w.name, w.mask(strings.TrimRight(string(line), "\r"))))
}

func (w *lineWriter) flush() {
	if w.logf != nil && (len(w.partial) > 0 || w.skipping) {
		w.log(w.partial)
		w.partial = w.partial[:0]
	}
}

// execMaskHeadroom is how far past a cut a stream is kept when the masker
// cannot mask a stream: the longest form of a secret value (a 64 KiB value
// JSON-escaped as \uXXXX). A value across the cut is then whole in what is
// masked, and the text that may hold its head is dropped after masking.
const execMaskHeadroom = 6 * store.MaxValueSize

// kept is the output text of a stream: masked whole, then cut to limit
// bytes. Masked as a stream (streamed), c holds masked text already. Else
// c holds raw text up to limit plus execMaskHeadroom: after masking it,
// when the stream went on past it, its last execMaskHeadroom bytes are
// dropped (masking never lengthens text, so they cover every byte a value
// cut at the end of c could have left) before the cut to limit.
func (c *capture) kept(mask func(string) string, limit int, streamed bool) (string, bool) {
	s, cut := mask(c.buf.String()), c.truncated
	if streamed {
		return s, cut
	}
	if cut {
		s = s[:max(len(s)-execMaskHeadroom, 0)]
	}
	if len(s) > limit {
		i := limit
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s, cut = s[:i], true
	}
	return s, cut
}

func (e *Exec) run(ctx context.Context, req *Request, svc *Services, dir string, plan *execPlan, bundleEnv []string, mask func(string) string) Result {
	ctx, cancel := context.WithTimeout(ctx, plan.timeout)
	defer cancel()
	prog, ok := commandPath(plan.argv[0], e.storePrefixes)
	if !ok {
		return Result{Status: FailedTerminal, Reason: mask(fmt.Sprintf("EXEC: cannot start %q: not found in the command's PATH", plan.argv[0]))}
	}
	cmd := exec.CommandContext(ctx, prog, plan.argv[1:]...)
	cmd.Args[0] = plan.argv[0]
	cmd.Dir = dir
	cmd.Env = mergeEnv(baseEnv(dir, e.storePrefixes), bundleEnv, plan.env)
	cmd.Stdin = nil
	procgroup.Set(cmd)
	cmd.Cancel = func() error { return procgroup.Kill(cmd) }
	// After the command exits or is killed, stop waiting for its output
	// once this long has passed (a stray grandchild may hold the pipes).
	cmd.WaitDelay = 2 * time.Second
	outW := &lineWriter{capture: capture{limit: e.outputLimit}, name: "stdout", ref: req.RefName, logf: svc.Logf, mask: mask}
	errW := &lineWriter{capture: capture{limit: e.outputLimit}, name: "stderr", ref: req.RefName, logf: svc.Logf, mask: mask}
	cmd.Stdout, cmd.Stderr = outW, errW
	var streams []*masking.Writer
	sm, streamed := svc.Masker.(streamMasker)
	if !streamed {
		// Each line is masked whole, and the output after masking.
		outW.whole, errW.whole = true, true
		outW.limit += execMaskHeadroom
		errW.limit += execMaskHeadroom
	} else {
		// Mask the stream, then cut it into lines, pieces and the capture.
		so, se := sm.NewWriter(outW), sm.NewWriter(errW)
		cmd.Stdout, cmd.Stderr = so, se
		streams = append(streams, so, se)
	}
	if err := cmd.Start(); err != nil {
		return Result{Status: FailedTerminal, Reason: mask(fmt.Sprintf("EXEC: cannot start %q: %v", plan.argv[0], pathErr(err)))}
	}
	waitErr := cmd.Wait()
	// Whatever happened, leave no member of the group behind.
	_ = procgroup.Kill(cmd)
	if errors.Is(waitErr, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success() {
		// The command succeeded but left a background process holding its
		// output open; that process was just killed with the group.
		waitErr = nil
		if svc.Logf != nil {
			svc.Logf("%s", fmt.Sprintf("EXEC %s: a background process kept the output open after the command exited; its process group was killed", req.RefName))
		}
	}
	for _, s := range streams {
		_ = s.Close()
	}
	outW.flush()
	errW.flush()
	stdout, outCut := outW.kept(mask, e.outputLimit, streamed)
	stderr, errCut := errW.kept(mask, e.outputLimit, streamed)

	exitCode := -1
	if cmd.ProcessState != nil {
		exitCode = cmd.ProcessState.ExitCode()
	}
	timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
	if timedOut || ctx.Err() != nil {
		exitCode = -1
	}
	out := map[string]any{
		"stdout":   cutText(stdout, outCut),
		"stderr":   cutText(stderr, errCut),
		"exitCode": exitCode,
	}
	if outCut || errCut {
		out["truncated"] = true
	}
	b, err := json.Marshal(out)
	if err != nil {
		return Result{Status: Failed, Reason: "EXEC: encode output: " + err.Error()}
	}
	switch {
	case timedOut:
		return Result{Status: Failed, Output: b, Reason: fmt.Sprintf("EXEC: timed out after %s; process group killed", plan.timeout)}
	case ctx.Err() != nil:
		return Result{Status: Failed, Output: b, Reason: "EXEC: cancelled; process group killed"}
	case waitErr != nil && exitCode > 0:
		return Result{Status: Failed, Output: b, Reason: fmt.Sprintf("EXEC: command exited with code %d", exitCode)}
	case waitErr != nil:
		return Result{Status: Failed, Output: b, Reason: mask("EXEC: " + waitErr.Error())}
	}
	return Result{Status: Completed, Output: b}
}
