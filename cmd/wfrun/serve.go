package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/redisurl"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/open"
)

type serveFlags struct {
	addr      string
	auth      string
	logLevel  string
	grace     time.Duration
	defsDir   string
	allowExec bool
	takeover  time.Duration
	leaseTTL  time.Duration
	eventSink []string
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the Conductor API and the Orkes and Taskcluster secrets APIs over wfrun's engine and stores",
		Long: `Serve answers the HTTP APIs real clients use, unchanged:
  - Conductor: /api/metadata (workflow and task definitions), /api/workflow (start,
    execution, status, search, restart, retry, rerun, resume, correlated, running, tasks,
    remove, decide, execute), /api/tasks (batch poll with long-poll, update, a task by id,
    its log, search). SIMPLE tasks go to workers polling the API: they receive
    ${workflow.secrets.*} resolved and $<…> verbatim; what they return is masked and
    sealed before it is stored;
  - Orkes secrets: /api/secrets/{key} (PUT, GET as text, DELETE, /exists, /tags),
    /api/secrets-v2, and POST /api/token when --auth is given;
  - Taskcluster secrets: /api/secrets/v1/{ping,secret/<name>,secrets} with Hawk;
  - /metrics (Prometheus) and /healthz.
It uses the same secret store as the CLI (--store, WFRUN_STORE). On a Redis store several
serve processes can stand behind one address: they share definitions, runs (one process
executes a run at a time; --takeover resumes a dead one's runs), the tasks waiting for
workers (a worker polling any of them gets any pending task, once) and Hawk replay
protection; every process needs the same WFRUN_MASTER_KEY. Without --auth every
caller holds every scope: keep the default loopback address then. --auth names a YAML
or JSON file of application keys and Taskcluster clients with their scopes (see
"wfrun serve" in the README). With --auth the Conductor API needs scopes as well:
workflows:start:<workflow> to start a run, workflows:read:<workflow> to read runs
(search leaves out the others), workflows:manage:<workflow> to terminate, pause, resume,
restart, retry, rerun, skip, signal or complete tasks of runs, metadata:write:<name> to
register or delete definitions, tasks:poll:<task> to poll, update and requeue tasks,
tasks:read:<task> (or tasks:poll) to read that type's queue sizes and poll data; the
principal that started a run reads and manages it without them. A run executes as the principal that started it,
also when another one reruns it: grant workflows:manage and metadata:write like the
secrets of the runs they cover. Logs are JSON on stderr, masked. SIGINT/SIGTERM
stop accepting requests and let in-flight ones finish.`,
		Example: `  wfrun serve
  wfrun serve --addr 0.0.0.0:8080 --auth auth.yaml --store redis://localhost:6379/0
  wfrun serve --env-values env:CONDUCTOR_ENV_    # ${workflow.env.REGION} = $CONDUCTOR_ENV_REGION`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, &f) },
	}
	cmd.Flags().StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen address")
	cmd.Flags().StringVar(&f.auth, "auth", "", "auth configuration file (application keys, Taskcluster clients, scopes); none: no auth")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	cmd.Flags().StringVar(&f.defsDir, "definitions", "", "directory of workflow and task definitions registered through /api/metadata (default $WFRUN_HOME/definitions)")
	cmd.Flags().BoolVar(&f.allowExec, "allow-exec", false, "enable EXEC tasks in served workflows (they run local commands)")
	cmd.Flags().DurationVar(&f.takeover, "takeover", 5*time.Second, "how often to look for RUNNING runs no live process holds and resume them (0: never)")
	cmd.Flags().DurationVar(&f.leaseTTL, "lease-ttl", 10*time.Second, "how long a run's lease outlives its last heartbeat (a dead process's runs wait this long)")
	cmd.Flags().DurationVar(&f.grace, "shutdown-grace", 30*time.Second, "how long in-flight requests may take after SIGINT/SIGTERM")
	addEventSinkFlag(cmd, &f.eventSink)
	addEnvValuesFlag(cmd)
	addLimitFlags(cmd)
	addConfigFlags(cmd)
	return cmd
}

func runServe(cmd *cobra.Command, f *serveFlags) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usageErr(fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel))
	}
	logger := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	opts := []server.Option{server.WithLogger(logger)}
	envOpts, err := envValuesOption(cmd)
	if err != nil {
		return err
	}
	limits, err := limitOptions(cmd)
	if err != nil {
		return err
	}
	envOpts = append(envOpts, limits...)
	if f.auth != "" {
		ac, err := server.LoadAuthConfig(f.auth)
		if err != nil {
			return err
		}
		opts = append(opts, server.WithAuth(ac))
	}
	st, err := openStore(cmd)
	if err != nil {
		return err
	}
	defer st.Close()
	cfg := storeConfig(cmd)
	ring, err := cfg.Keyring()
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	runs, err := openRunStore(cmd)
	if err != nil {
		return err
	}
	defer runs.Close()
	if url := redisRunURL(cfg.URL); url != "" {
		// Runs are shared: so are the tasks waiting for workers, whichever
		// process a worker polls.
		opt, err := redisurl.Parse(url)
		if err != nil {
			return fmt.Errorf("shared task queue: bad Redis URL: %w", err)
		}
		rc := redis.NewClient(opt)
		defer rc.Close()
		opts = append(opts, server.WithSharedQueue(rc))
	}
	defs := f.defsDir
	if defs == "" {
		defs = filepath.Join(cfg.Home, "definitions")
	}
	engOpts := append([]engine.Option{
		engine.WithRunStore(runs),
		engine.WithLeaseTTL(f.leaseTTL),
		engine.WithKeyring(ring),
		engine.WithRegistry(cliRegistry(f.allowExec, open.EnvPrefixes(cfg.URL))),
		engine.WithSecrets(func(p engine.Principal, project, environment string) interpolate.SecretSource {
			return store.NewRunView(st, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, environment)
		}),
	}, envOpts...)
	sinks, closeSinks, err := openEventSinks(f.eventSink, cmd.OutOrStdout(), cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer closeSinks()
	engOpts = append(engOpts, sinks...)
	opts = append(opts, server.WithTakeover(f.takeover), server.WithConductor(defs, engOpts...))
	srv, err := server.New(st, opts...)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.addr, err)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serveUntil(ctx, srv, ln, f.grace)
}

// serveUntil serves on ln until ctx ends, then shuts down gracefully:
// no new connections, in-flight requests get up to grace to finish.
func serveUntil(ctx context.Context, srv *server.Server, ln net.Listener, grace time.Duration) error {
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	// Long polls answer at once when shutdown starts instead of holding it.
	hs.RegisterOnShutdown(srv.StopPolling)
	srv.Logger().Info("listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	srv.Logger().Info("shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := hs.Shutdown(sctx)
	// Runs still executing stop here and stay resumable in the run store.
	if rerr := srv.Shutdown(sctx); err == nil {
		err = rerr
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// redisRunURL is the Redis URL of a store configuration (the run store's,
// as openRunStore chooses it), or "".
func redisRunURL(storeURL string) string {
	url := ""
	for _, part := range strings.Split(storeURL, "|") {
		part = strings.TrimSpace(part)
		if strings.HasPrefix(part, "redis://") || strings.HasPrefix(part, "rediss://") {
			url = part
		}
	}
	return url
}
