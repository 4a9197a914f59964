package main

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/open"
	"github.com/wfrun/wfrun/tasks"
	"github.com/wfrun/wfrun/tasks/worker"
)

type workerFlags struct {
	server      string
	keyID       string
	keySecret   string
	tasks       []string
	concurrency int
	pollTimeout time.Duration
	grace       time.Duration
	project     string
	environment string
	domain      string
	logLevel    string
	scopes      []string
}

// workerPrincipal is who `wfrun worker` reads and writes secrets as: the
// operator's scopes, never the local CLI's "*". The Conductor server chooses
// the definitions a worker runs (and a definition may be built from run
// data), so it must not choose which of the store's secrets go where: with
// no scope given the worker reads no secret at all.
func workerPrincipal(scopes []string) (store.Principal, error) {
	var out []string
	for _, s := range scopes {
		for _, f := range strings.Fields(s) {
			for i := 0; i < len(f); i++ {
				if f[i] < 0x21 || f[i] > 0x7e {
					return store.Principal{}, fmt.Errorf("--scope %q: a scope is printable ASCII", f)
				}
			}
			out = append(out, f)
		}
	}
	return store.Principal{Name: "worker", Scopes: out}, nil
}

func newWorkerCmd() *cobra.Command {
	var f workerFlags
	cmd := &cobra.Command{
		Use:   "worker --server URL --task NAME=TYPE…",
		Short: "Run wfrun's HTTP, EXEC and UPDATE_SECRET tasks for a Conductor server (OSS, Orkes or wfrun serve)",
		Long: `Worker polls a Conductor server for the SIMPLE task names given with --task and runs
each with a wfrun task type: HTTP, EXEC, UPDATE_SECRET (or INLINE, JSON_JQ_TRANSFORM,
HTTP_POLL). A Conductor server only interprets ${…}, so write $<workflow.secrets.NAME> in
those tasks' inputParameters: the server passes it through and the worker resolves it from
its own store (--store, WFRUN_STORE): the server never holds the value. The output goes
back with every used value masked and each _secrets leaf sealed for the run with the
store's master key, which a later task of the run reading it gets opened (every worker
of one server needs the same WFRUN_MASTER_KEY).
Auth as the Orkes SDKs: --key-id and the key secret (WFRUN_KEY_SECRET, or --key-secret)
are exchanged for a token; a server without /api/token is used without auth.
The server chooses the definitions, so it must not choose the secrets: the worker reads
and writes only the secrets its --scope flags grant (as a serve principal's scopes, e.g.
secrets:get:api_token, secrets:get:team/*, secrets:set:rotated; env WFRUN_WORKER_SCOPES,
space-separated). Without one it reads no secret. A denied read fails the task, naming
the secret, and is audited as denied.
SIGINT/SIGTERM stop polling; running tasks finish (up to --stop-grace).`,
		Example: `  wfrun worker --server http://localhost:8080/api --task wfrun_http=HTTP --scope secrets:get:api_token
  WFRUN_KEY_SECRET=… wfrun worker --server https://play.orkes.io/api --key-id KEY \
      --task wfrun_http=HTTP --task wfrun_rotate=UPDATE_SECRET --concurrency 16 \
      --scope 'secrets:get:orders/*' --scope secrets:set:orders/token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runWorker(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", "Conductor server URL, e.g. http://localhost:8080/api (env WFRUN_SERVER)")
	fl.StringVar(&f.keyID, "key-id", "", "application key id (env WFRUN_KEY_ID)")
	fl.StringVar(&f.keySecret, "key-secret", "", "application key secret (prefer env WFRUN_KEY_SECRET: flags show in ps)")
	fl.StringArrayVar(&f.tasks, "task", nil, "NAME=TYPE: poll task NAME and run it as wfrun task TYPE (repeatable)")
	fl.IntVar(&f.concurrency, "concurrency", 8, "tasks running at once")
	fl.DurationVar(&f.pollTimeout, "poll-timeout", time.Second, "long-poll wait asked of the server")
	fl.DurationVar(&f.grace, "stop-grace", 30*time.Second, "how long running tasks may take after SIGINT/SIGTERM")
	fl.StringVar(&f.domain, "domain", "", "task domain to poll (the runs' taskToDomain); default: tasks without a domain")
	fl.StringVar(&f.project, "project", "", "project scope for secret resolution")
	fl.StringVar(&f.environment, "environment", "", "environment scope for secret resolution")
	fl.StringArrayVar(&f.scopes, "scope", nil, "scope the worker's secret reads and writes need, e.g. secrets:get:api_token (repeatable; env WFRUN_WORKER_SCOPES; default none: no secret is read)")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	addConfigFlags(cmd)
	return cmd
}

func runWorker(cmd *cobra.Command, f *workerFlags) error {
	env := func(v *string, name string) {
		if *v == "" {
			*v = os.Getenv(name)
		}
	}
	env(&f.server, "WFRUN_SERVER")
	env(&f.keyID, "WFRUN_KEY_ID")
	env(&f.keySecret, "WFRUN_KEY_SECRET")
	if len(f.scopes) == 0 {
		if v := os.Getenv("WFRUN_WORKER_SCOPES"); v != "" {
			f.scopes = []string{v}
		}
	}
	principal, err := workerPrincipal(f.scopes)
	if err != nil {
		return usageErr(err)
	}
	if f.server == "" {
		return usageErr(fmt.Errorf("--server is required (or WFRUN_SERVER)"))
	}
	if len(f.tasks) == 0 {
		return usageErr(fmt.Errorf("--task NAME=TYPE is required (e.g. --task wfrun_http=HTTP)"))
	}
	if (f.keyID == "") != (f.keySecret == "") {
		return usageErr(fmt.Errorf("--key-id and the key secret (WFRUN_KEY_SECRET) go together"))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usageErr(fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel))
	}
	reg := tasks.NewDefaultRegistry()
	taskMap := map[string]string{}
	for _, t := range f.tasks {
		name, kind, ok := strings.Cut(t, "=")
		name, kind = strings.TrimSpace(name), strings.ToUpper(strings.TrimSpace(kind))
		if !ok || name == "" || kind == "" {
			return usageErr(fmt.Errorf("--task %q: want NAME=TYPE", t))
		}
		if kind == tasks.TypeExec {
			// Asked for by name: the operator runs these commands on purpose.
			tasks.RegisterExec(reg, tasks.WithExecStorePrefixes(open.EnvPrefixes(storeConfig(cmd).URL)))
		}
		taskMap[name] = kind
	}
	st, err := openStore(cmd)
	if err != nil {
		return err
	}
	defer st.Close()
	// The store's master key seals the `_secrets` leaves the worker
	// answers, for the run's later tasks (tasks/worker/sealed.go).
	ring, err := storeConfig(cmd).Keyring()
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	w, err := worker.New(worker.Config{
		Server: f.server, KeyID: f.keyID, KeySecret: f.keySecret, Tasks: taskMap, Registry: reg, Domain: f.domain,
		Secrets:     store.NewRunView(st, principal, f.project, f.environment),
		Concurrency: f.concurrency, PollTimeout: f.pollTimeout, StopGrace: f.grace, Logger: logger, Seal: ring,
	})
	if err != nil {
		return usageErr(err)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(principal.Scopes) == 0 {
		logger.Warn("no --scope given: the worker reads and writes no secret; a task that names one fails")
	}
	logger.Info("polling", "server", redactedURL(f.server), "tasks", strings.Join(f.tasks, ","), "scopes", strings.Join(principal.Scopes, " "))
	return w.Run(ctx)
}

// redactedURL is server as a log line may show it: a password in its
// userinfo (a proxy's basic auth) replaced, as Go's own errors show a URL.
func redactedURL(server string) string {
	u, err := url.Parse(server)
	if err != nil {
		return "(a URL that does not parse)"
	}
	return u.Redacted()
}
