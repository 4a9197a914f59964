package main

import (
	"errors"
	"fmt"
	"os"

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
func addEnvValuesFlag(cmd *cobra.Command) { cmd.Flags().String("env-values", "", envValuesUsage) }

// envValuesOption is the engine option for the configured ${workflow.env.*}
// source: --env-values, then WFRUN_ENV_VALUES; none when neither is set.
func envValuesOption(cmd *cobra.Command) ([]engine.Option, error) {
	spec := os.Getenv("WFRUN_ENV_VALUES")
	from := "WFRUN_ENV_VALUES"
	if f := cmd.Flag("env-values"); f != nil && f.Changed {
		spec, from = f.Value.String(), "--env-values"
	}
	src, err := envvalues.Parse(spec, nil)
	if err != nil {
		return nil, usageErr(fmt.Errorf("%s: %w", from, err))
	}
	if src == nil {
		return nil, nil
	}
	return []engine.Option{engine.WithEnvValues(src)}, nil
}
