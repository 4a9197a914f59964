package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/open"
	"github.com/wfrun/wfrun/store/seal"
)

func newSecretRekeyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rekey",
		Short: "Re-encrypt every stored value under a new master key",
		Long: `Re-encrypt every stored value (current versions and history) under a new
master key.

With the key file ($WFRUN_HOME/master.key): a new key is generated and put
first in the file, the old one kept after it; every value is re-encrypted in
one transaction; then the old key is removed from the file. If the command is
interrupted the file still holds both keys, and running it again finishes.

With WFRUN_MASTER_KEY: set WFRUN_MASTER_KEY to the new key and
WFRUN_MASTER_KEY_PREVIOUS to the old one, run rekey, then drop
WFRUN_MASTER_KEY_PREVIOUS. Every process sharing a Redis store needs the new
key afterwards.`,
		Example: `  wfrun secret rekey
  WFRUN_MASTER_KEY=$(openssl rand -base64 32) WFRUN_MASTER_KEY_PREVIOUS=$OLD wfrun secret rekey`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := storeConfig(cmd)
			fromEnv := cfg.Getenv != nil && cfg.Getenv(seal.EnvMasterKey) != ""
			var oldKeys [][]byte
			if !fromEnv {
				// Make sure a key file exists (first use), then add a new primary.
				if _, err := cfg.Keyring(); err != nil {
					return err
				}
				keys, err := seal.ReadKeyFile(cfg.Home)
				if err != nil {
					return err
				}
				oldKeys = keys
				fresh, err := seal.GenerateKey()
				if err != nil {
					return err
				}
				if err := seal.WriteKeyFile(cfg.Home, append([][]byte{fresh}, keys...)...); err != nil {
					return err
				}
			}
			n, keyID, err := rekeyStore(cmd, cfg)
			if err != nil {
				return err
			}
			if !fromEnv {
				keys, err := seal.ReadKeyFile(cfg.Home)
				if err != nil {
					return err
				}
				if err := seal.WriteKeyFile(cfg.Home, keys[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "removed %d old key(s) from %s\n", len(oldKeys), seal.KeyFilePath(cfg.Home))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "re-encrypted %d value(s) under key %s\n", n, keyID)
			return nil
		},
	}
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
	return &cobra.Command{
		Use:     "sweep",
		Short:   "Delete expired secrets (in every scope) and list what was removed",
		Example: "  wfrun secret sweep",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
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
			for _, k := range removed {
				fmt.Fprintf(cmd.OutOrStdout(), "expired: removed secret %q (%s)\n", k.Name, k.Scope)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "swept %d expired secret(s)\n", len(removed))
			return nil
		},
	}
}
