package main

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
)

// localPrincipal is the CLI's principal as the engine names it.
var localPrincipal = engine.Principal{Name: store.LocalPrincipal.Name, Scopes: store.LocalPrincipal.Scopes}

// definitionMasker masks `wfrun validate`'s refusals with the values of
// the secrets each definition names (engine.MaskDefinitionError), read as
// the local principal. It has one engine for the whole command, whose
// secret store opens at the first refused definition that names a secret,
// once, and only when there is a store (an explicit WFRUN_STORE, or the
// default file exists): validating never creates one. `wfrun run` calls
// its own engine's MaskDefinitionError.
type definitionMasker struct {
	cmd    *cobra.Command
	eng    *engine.Engine
	st     store.Store
	opened bool
}

func newDefinitionMasker(cmd *cobra.Command) *definitionMasker {
	d := &definitionMasker{cmd: cmd}
	d.eng, _ = engine.New(engine.WithSecrets(func(p engine.Principal, project, environment string) interpolate.SecretSource {
		if s := d.store(); s != nil {
			return store.NewRunView(s, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, environment)
		}
		return nil
	}))
	return d
}

// store opens the configured secret store at its first call, if there is
// one (nil otherwise, or when it does not open).
func (d *definitionMasker) store() store.Store {
	if !d.opened {
		d.opened = true
		cfg := storeConfig(d.cmd)
		if cfg.URL == "" {
			if _, err := os.Stat(filepath.Join(cfg.Home, "secrets.db")); err != nil {
				return nil
			}
		}
		d.st, _ = openStore(d.cmd)
	}
	return d.st
}

// mask is err, the refusal of definition raw, masked.
func (d *definitionMasker) mask(raw []byte, err error) error {
	if d.eng == nil {
		return err
	}
	return d.eng.MaskDefinitionError(d.cmd.Context(), raw, err, localPrincipal, "", "")
}

func (d *definitionMasker) Close() {
	if d.st != nil {
		_ = d.st.Close()
	}
}
