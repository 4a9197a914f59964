package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/internal/envvalues"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/open"
)

// Configuration precedence: flags, then WFRUN_* environment variables, then
// defaults (see store/open for the store URL syntax).

// addConfigFlags registers --home and --store as persistent flags of cmd, so
// cmd and its subcommands accept them. Commands that touch the stores call it
// on themselves and use storeConfig/openStore.
func addConfigFlags(cmd *cobra.Command) {
	cmd.PersistentFlags().String("home", "", "wfrun home directory (env WFRUN_HOME; default $XDG_DATA_HOME/wfrun)")
	cmd.PersistentFlags().String("store", "", "secret store URL: bolt:PATH, redis://…, rediss://…, redis+sentinel://…, redis+cluster://…, env:PREFIX, vault://HOST:PORT/MOUNT?prefix=P (read-only), or A|B layered (env WFRUN_STORE; default bolt under the home)")
}

// storeConfig resolves the store configuration for cmd.
func storeConfig(cmd *cobra.Command) open.Config {
	cfg := open.ConfigFromEnv()
	if f := cmd.Flag("home"); f != nil && f.Changed {
		cfg.Home = f.Value.String()
	}
	if f := cmd.Flag("store"); f != nil && f.Changed {
		cfg.URL = f.Value.String()
	}
	return cfg
}

// openStore opens the configured secret store. The caller closes it.
func openStore(cmd *cobra.Command) (store.Store, error) {
	s, err := open.Open(cmd.Context(), storeConfig(cmd))
	if err != nil {
		return nil, fmt.Errorf("open secret store: %w", err)
	}
	return s, nil
}

// errNoHome: without a home, wfrun would have to invent one (a temporary
// directory that loses the stores and the master key); it refuses instead.
var errNoHome = errors.New("no home directory for wfrun's stores and master key: HOME is not set; set WFRUN_HOME=/path/to/dir (or pass --home)")

// checkHome refuses to guess a home for commands that use the stores.
func checkHome(cmd *cobra.Command) error {
	f := cmd.Flag("home")
	if f == nil || f.Changed || os.Getenv("WFRUN_HOME") != "" || os.Getenv("XDG_DATA_HOME") != "" {
		return nil
	}
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		return nil
	}
	return errNoHome
}

// envValuesUsage is the help of --env-values (run, resume, restart, serve).
const envValuesUsage = "source of ${workflow.env.NAME} values (non-secret; stored in task input): env:PREFIX (variables named PREFIX+NAME, e.g. env:CONDUCTOR_ENV_; never the whole environment) or file:PATH (a JSON object) (env WFRUN_ENV_VALUES; default none)"

// addEnvValuesFlag registers --env-values on cmd.
func addEnvValuesFlag(cmd *cobra.Command) {
	cmd.Flags().String("env-values", "", envValuesUsage)
	_ = cmd.RegisterFlagCompletionFunc("env-values", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"env:CONDUCTOR_ENV_\tConductor's CONDUCTOR_ENV_<NAME> variables", "env:\tvariables with a prefix", "file:\ta JSON object of values"},
			cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	})
}

// envValuesOption is the engine option for the configured ${workflow.env.*}
// source: --env-values, then WFRUN_ENV_VALUES; none when neither is set.
func envValuesOption(cmd *cobra.Command) ([]engine.Option, error) {
	spec := os.Getenv("WFRUN_ENV_VALUES")
	from := "WFRUN_ENV_VALUES"
	if f := cmd.Flag("env-values"); f != nil && f.Changed {
		spec, from = f.Value.String(), "--env-values"
	}
	src, err := envvalues.Parse(spec, nil, open.EnvPrefixes(storeConfig(cmd).URL)...)
	if err != nil {
		return nil, usageErr(fmt.Errorf("%s: %w", from, err))
	}
	if src == nil {
		return nil, nil
	}
	return []engine.Option{engine.WithEnvValues(src)}, nil
}

// addLimitFlags registers the engine's limits on cmd (run, resume,
// restart, serve).
func addLimitFlags(cmd *cobra.Command) {
	cmd.Flags().Int64("max-variables-kb", 0, "largest size of a run's variables a SET_VARIABLE may leave, in KiB (env WFRUN_MAX_VARIABLES_KB; default 256, as Conductor's maxWorkflowVariablesPayloadSizeThreshold)")
	cmd.Flags().Int("max-loop-iterations", 0, "most iterations a DO_WHILE may run (env WFRUN_MAX_LOOP_ITERATIONS; default 10000)")
	cmd.Flags().Bool("trust-unsealed-runs", false, "believe stored runs whose head carries no seal (runs a wfrun before 2026-12 stored): once, after an upgrade, on a run store nobody else writes")
}

// limitOptions are the engine options of the limits the user set: a flag,
// then its WFRUN_* variable; none when neither is set.
func limitOptions(cmd *cobra.Command) ([]engine.Option, error) {
	var opts []engine.Option
	for _, l := range []struct {
		flag, env string
		option    func(int64) engine.Option
	}{
		{"max-variables-kb", "WFRUN_MAX_VARIABLES_KB", engine.WithMaxVariablesPayloadKB},
		{"max-loop-iterations", "WFRUN_MAX_LOOP_ITERATIONS", func(n int64) engine.Option { return engine.WithMaxLoopIterations(int(n)) }},
	} {
		spec, from := os.Getenv(l.env), l.env
		if f := cmd.Flag(l.flag); f != nil && f.Changed {
			spec, from = f.Value.String(), "--"+l.flag
		}
		if spec == "" {
			continue
		}
		n, err := strconv.ParseInt(spec, 10, 64)
		if err != nil || n <= 0 || n > 1<<30 {
			return nil, usageErr(fmt.Errorf("%s %q: want a positive whole number", from, spec))
		}
		opts = append(opts, l.option(n))
	}
	if f := cmd.Flag("trust-unsealed-runs"); f != nil && f.Value.String() == "true" {
		opts = append(opts, engine.WithUnsealedHeads())
	}
	return opts, nil
}
