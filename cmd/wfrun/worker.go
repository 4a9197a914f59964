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
back with _secrets removed and every used value masked.
Auth as the Orkes SDKs: --key-id and the key secret (WFRUN_KEY_SECRET, or --key-secret)
are exchanged for a token; a server without /api/token is used without auth.
SIGINT/SIGTERM stop polling; running tasks finish (up to --stop-grace).`,
		Example: `  wfrun worker --server http://localhost:8080/api --task wfrun_http=HTTP
  WFRUN_KEY_SECRET=… wfrun worker --server https://play.orkes.io/api --key-id KEY \
      --task wfrun_http=HTTP --task wfrun_rotate=UPDATE_SECRET --concurrency 16`,
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
			tasks.RegisterExec(reg)
		}
		taskMap[name] = kind
	}
	st, err := openStore(cmd)
	if err != nil {
		return err
	}
	defer st.Close()
	logger := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	w, err := worker.New(worker.Config{
		Server: f.server, KeyID: f.keyID, KeySecret: f.keySecret, Tasks: taskMap, Registry: reg, Domain: f.domain,
		Secrets:     store.NewRunView(st, store.LocalPrincipal, f.project, f.environment),
		Concurrency: f.concurrency, PollTimeout: f.pollTimeout, StopGrace: f.grace, Logger: logger,
	})
	if err != nil {
		return usageErr(err)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger.Info("polling", "server", redactedURL(f.server), "tasks", strings.Join(f.tasks, ","))
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
