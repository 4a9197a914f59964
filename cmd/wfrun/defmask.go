package main

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
)

// maskedDefinitionErr is err, the refusal of definition raw, masked with
// the values of the secrets raw names (engine.MaskDefinitionError), read
// as the local principal. eng is the command's engine; validate, which has
// none, passes nil: the configured secret store is then opened only when
// there is one (an explicit WFRUN_STORE, or the default file exists), so
// validating never creates a store.
func maskedDefinitionErr(cmd *cobra.Command, eng *engine.Engine, raw []byte, err error, project, environment string) error {
	if eng == nil {
		cfg := storeConfig(cmd)
		if cfg.URL == "" {
			if _, serr := os.Stat(filepath.Join(cfg.Home, "secrets.db")); serr != nil {
				return err
			}
		}
		s, oerr := openStore(cmd)
		if oerr != nil {
			return err
		}
		defer s.Close()
		e, nerr := engine.New(engine.WithSecrets(func(p engine.Principal, project, environment string) interpolate.SecretSource {
			return store.NewRunView(s, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, environment)
		}))
		if nerr != nil {
			return err
		}
		eng = e
	}
	local := engine.Principal{Name: store.LocalPrincipal.Name, Scopes: store.LocalPrincipal.Scopes}
	return eng.MaskDefinitionError(cmd.Context(), raw, err, local, project, environment)
}
