package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/open"
	"github.com/wfrun/wfrun/store/seal"
)

// rekeyResult is what `secret rekey` reports.
type rekeyResult struct {
	Reencrypted    int    `json:"reencrypted"`    // records re-sealed
	KeyID          string `json:"keyId"`          // the key they are sealed under now
	OldKeysRemoved int    `json:"oldKeysRemoved"` // keys dropped from master.key (0 with WFRUN_MASTER_KEY)
}

func newSecretRekeyCmd() *cobra.Command {
	var out outputFlags
	cmd := &cobra.Command{
		Use:   "rekey",
		Short: "Re-encrypt every stored value under a new master key",
		Long: `Re-encrypt every stored record (current versions, history, metadata)
under a new master key, all or nothing, and leave no record under the old
key (the bolt file is compacted into a new one; Redis records are
overwritten).

With the key file ($WFRUN_HOME/master.key): a new key is generated and kept
in master.key.next; the store is re-sealed in one commit; only then is
master.key replaced by the new key. If the command fails or is interrupted,
master.key is unchanged, and running it again finishes with the same new
key.

With WFRUN_MASTER_KEY: set WFRUN_MASTER_KEY to the new key and
WFRUN_MASTER_KEY_PREVIOUS to the old one, run rekey, then drop
WFRUN_MASTER_KEY_PREVIOUS. Every process sharing a Redis store needs the new
key afterwards.

Runs that are not archived yet (RUNNING, PAUSED, or ended and kept for a
restart) hold values sealed under the current key; rekey refuses while there
are any.`,
		Example: `  wfrun secret rekey
  WFRUN_MASTER_KEY=$(openssl rand -base64 32) WFRUN_MASTER_KEY_PREVIOUS=$OLD wfrun secret rekey -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			report := func(r rekeyResult) error {
				return out.render(cmd.OutOrStdout(), r, func(t *table) {
					t.line(fmt.Sprintf("re-encrypted %d value(s) under key %s", r.Reencrypted, r.KeyID))
				})
			}
			cfg := storeConfig(cmd)
			// Nothing is generated or written before the store is known to
			// hold encrypted records and no live run depends on the key.
			if err := checkRekeyable(cmd, cfg); err != nil {
				return err
			}
			if err := refuseWhileRunsLive(cmd); err != nil {
				return err
			}
			getenv := cfg.Getenv
			if getenv == nil {
				getenv = os.Getenv
			}
			if strings.TrimSpace(getenv(seal.EnvMasterKey)) != "" {
				n, keyID, err := rekeyStore(cmd, cfg)
				if err != nil {
					return err
				}
				return report(rekeyResult{Reencrypted: n, KeyID: keyID})
			}
			oldKeys, err := seal.ReadKeyFile(cfg.Home)
			if err != nil {
				return err
			}
			fresh, resumed, err := seal.ReadNextKey(cfg.Home)
			if err != nil {
				return err
			}
			if !resumed {
				if fresh, err = seal.GenerateKey(); err != nil {
					return err
				}
				if err := seal.WriteNextKey(cfg.Home, fresh); err != nil {
					return err
				}
			}
			ring, err := seal.NewKeyring(fresh, seal.WithPreviousKeys(oldKeys...))
			if err != nil {
				return err
			}
			cfg.Ring = ring
			n, keyID, err := rekeyStore(cmd, cfg)
			if err != nil {
				return fmt.Errorf("%w (master.key is unchanged; the new key waits in %s for the next rekey)", err, seal.NextKeyFileName)
			}
			if err := seal.WriteKeyFile(cfg.Home, fresh); err != nil {
				return err
			}
			if err := seal.RemoveNextKey(cfg.Home); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "removed %d old key(s) from %s\n", len(oldKeys), seal.KeyFilePath(cfg.Home))
			return report(rekeyResult{Reencrypted: n, KeyID: keyID, OldKeysRemoved: len(oldKeys)})
		},
	}
	out.add(cmd)
	return cmd
}

// checkRekeyable opens the store with the current keys and makes sure it
// holds encrypted records.
func checkRekeyable(cmd *cobra.Command, cfg open.Config) (err error) {
	s, err := open.Open(cmd.Context(), cfg)
	if err != nil {
		return fmt.Errorf("open secret store: %w", err)
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	if _, ok := s.(store.Rekeyer); !ok {
		return fmt.Errorf("rekey: %w: this store holds no encrypted values (only bolt and Redis stores do); nothing was changed", store.ErrUnsupported)
	}
	return nil
}

// refuseWhileRunsLive refuses a rekey while any run that is not archived
// exists: its _secrets are sealed under the current key and the key would be
// gone (RUNNING and PAUSED runs still read them; an ended run not yet
// archived may be restarted). Archived runs hold no sealed data.
func refuseWhileRunsLive(cmd *cobra.Command) (err error) {
	rs, err := openRunStore(cmd)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rs.Close()) }()
	list, err := rs.List(cmd.Context(), runstore.ListOptions{})
	if err != nil {
		return err
	}
	var live []string
	for _, s := range list {
		if !s.Archived {
			live = append(live, s.ID+" ("+s.Status+")")
		}
	}
	if len(live) > 0 {
		sort.Strings(live)
		return fmt.Errorf("rekey: %d run(s) not yet archived hold values sealed under the current key (%s); let them finish or stop them with `wfrun terminate RUN_ID`, then run rekey again; nothing was changed",
			len(live), strings.Join(live, ", "))
	}
	return nil
}

func rekeyStore(cmd *cobra.Command, cfg open.Config) (n int, keyID string, err error) {
	ring, err := cfg.Keyring()
	if err != nil {
		return 0, "", err
	}
	s, err := open.Open(cmd.Context(), cfg)
	if err != nil {
		return 0, "", fmt.Errorf("open secret store: %w", err)
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	rk, ok := s.(store.Rekeyer)
	if !ok {
		return 0, "", fmt.Errorf("rekey: %w (only the bolt and redis stores hold encrypted values)", store.ErrUnsupported)
	}
	n, err = rk.Rekey(cmd.Context())
	return n, ring.KeyID(), err
}

func newSecretSweepCmd() *cobra.Command {
	var out outputFlags
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Delete expired secrets (in every scope) and list what was removed",
		Example: `  wfrun secret sweep
  wfrun secret sweep -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if err := out.check(); err != nil {
				return err
			}
			s, err := openStore(cmd)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, s.Close()) }()
			sw, ok := s.(store.Sweeper)
			if !ok {
				return fmt.Errorf("sweep: %w", store.ErrUnsupported)
			}
			removed, err := sw.Sweep(cmd.Context())
			if err != nil {
				return err
			}
			type removal struct {
				Name  string `json:"name"`
				Scope string `json:"scope"`
			}
			done := make([]removal, 0, len(removed)) // [] rather than null when nothing expired
			for _, k := range removed {
				done = append(done, removal{k.Name, k.Scope.String()})
			}
			if err := out.render(cmd.OutOrStdout(), done, func(t *table) {
				for _, r := range done {
					t.line(fmt.Sprintf("expired: removed secret %q (%s)", r.Name, r.Scope))
				}
			}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "swept %d expired secret(s)\n", len(removed))
			return nil
		},
	}
	out.add(cmd)
	return cmd
}
