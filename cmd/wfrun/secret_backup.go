package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/backup"
)

// exportedSecret is what `secret export` lists (never a value).
type exportedSecret struct {
	Name    string `json:"name"`
	Scope   string `json:"scope"`
	Version int64  `json:"version"`
}

func newSecretExportCmd() *cobra.Command {
	var out outputFlags
	var passFile string
	var force bool
	cmd := &cobra.Command{
		Use:   "export FILE",
		Short: "Write every secret, with its metadata, to a sealed file (backup, or a move to another store)",
		Long: `Export writes the current version of every secret in every scope — value, tags,
description, expiry — to FILE (mode 0600), sealed with AES-256-GCM: under the
store's master key by default (any wfrun holding that key, also as
WFRUN_MASTER_KEY_PREVIOUS, imports it), or with --passphrase-file under a key
derived from a passphrase (to move secrets to a store with another master key).
There is no clear-text form. Expired secrets are left out. Each exported secret
is recorded in the audit trail. FILE is not replaced unless --force.`,
		Example: `  wfrun secret export secrets.backup
  wfrun secret export move.sealed --passphrase-file -      # asks for the passphrase, hidden
  wfrun secret export move.sealed --passphrase-file pass.txt -o json
  WFRUN_STORE=redis://redis:6379/0 wfrun secret import move.sealed --passphrase-file pass.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if err := out.check(); err != nil {
				return err
			}
			path := args[0]
			if !force {
				if _, err := os.Lstat(path); err == nil {
					return fmt.Errorf("export: %s exists; choose another file or pass --force to replace it", path)
				}
			}
			var pass []byte
			if passFile != "" {
				if pass, err = readPassphrase(cmd, passFile, true); err != nil {
					return err
				}
			}
			ex, closeStore, err := openExporter(cmd)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, closeStore()) }()
			secrets, expired, err := ex.Export(cmd.Context())
			if err != nil {
				return err
			}
			var data []byte
			how := "the master key"
			if pass != nil {
				data, err = backup.SealWithPassphrase(secrets, pass, time.Now())
				how = "a passphrase"
			} else {
				ring, rerr := storeConfig(cmd).Keyring()
				if rerr != nil {
					return rerr
				}
				data, err = backup.SealWithKeyring(secrets, ring, time.Now())
				how = "master key " + ring.KeyID()
			}
			if err != nil {
				if errors.Is(err, backup.ErrWeakPassphrase) {
					return usageErr(fmt.Errorf("--passphrase-file: %w", err))
				}
				return err
			}
			if err := writeFileAtomic(path, data, force); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			list := make([]exportedSecret, 0, len(secrets))
			for _, s := range secrets {
				list = append(list, exportedSecret{s.Name, s.Scope.String(), s.Version})
			}
			if err := out.render(cmd.OutOrStdout(), list, func(t *table) {
				t.row("NAME", "SCOPE", "VERSION")
				for _, s := range list {
					t.row(s.Name, s.Scope, fmt.Sprint(s.Version))
				}
			}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "exported %d secret(s) to %s, sealed with %s\n", len(secrets), path, how)
			if expired > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "left out %d expired secret(s)\n", expired)
			}
			return nil
		},
	}
	out.add(cmd)
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "seal with a passphrase read from this file (- for stdin; at a terminal, a hidden prompt) instead of the master key")
	cmd.Flags().BoolVar(&force, "force", false, "replace FILE if it exists")
	return cmd
}

func newSecretImportCmd() *cobra.Command {
	var out outputFlags
	var passFile string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Restore the secrets of a file written by 'wfrun secret export'",
		Long: `Import opens a file written by 'wfrun secret export' (authenticated: an altered
file is refused) and writes each secret, in its scope, as the next version in
this store with the exported value, tags, description and expiry. Versions only
grow: a secret that exists gets a new version, never an older number. A secret
whose current version already holds exactly that is left unchanged, so importing
a file twice changes nothing. Each secret is recorded in the audit trail.`,
		Example: `  wfrun secret import secrets.backup
  WFRUN_STORE=redis://redis:6379/0 wfrun secret import move.sealed --passphrase-file pass.txt -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if err := out.check(); err != nil {
				return err
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			ring, err := storeConfig(cmd).Keyring()
			if err != nil {
				return err
			}
			var pass func() ([]byte, error)
			if passFile != "" {
				pass = func() ([]byte, error) { return readPassphrase(cmd, passFile, false) }
			}
			contents, err := backup.Open(data, ring, pass)
			if errors.Is(err, backup.ErrNeedPassphrase) {
				return usageErr(fmt.Errorf("import %s: %w; give it with --passphrase-file", args[0], err))
			}
			if err != nil {
				return fmt.Errorf("import %s: %w", args[0], err)
			}
			ex, closeStore, err := openExporter(cmd)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, closeStore()) }()
			results, err := ex.Import(cmd.Context(), contents.Secrets)
			if rerr := out.render(cmd.OutOrStdout(), orEmpty(results), func(t *table) {
				t.row("NAME", "SCOPE", "VERSION", "RESULT")
				for _, r := range results {
					t.row(r.Name, r.Scope, fmt.Sprint(r.Version), r.Result)
				}
			}); rerr != nil {
				return errors.Join(err, rerr)
			}
			if err != nil {
				return fmt.Errorf("%w (the secrets listed were imported; importing the file again finishes the rest)", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "imported %d secret(s) exported at %s\n", len(results), contents.ExportedAt.Format(time.RFC3339))
			return nil
		},
	}
	out.add(cmd)
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "the passphrase the file was sealed with, read from this file (- for stdin; at a terminal, a hidden prompt)")
	return cmd
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// openExporter opens the secret store as the local principal.
func openExporter(cmd *cobra.Command) (store.Exporter, func() error, error) {
	raw, err := openStore(cmd)
	if err != nil {
		return nil, nil, err
	}
	ex, ok := store.ExporterOf(store.WithAccess(raw, store.LocalPrincipal))
	if !ok {
		_ = raw.Close()
		return nil, nil, fmt.Errorf("%w: this store cannot export or import", store.ErrUnsupported)
	}
	return ex, raw.Close, nil
}

// readPassphrase reads a passphrase file without its final line break;
// "-" is stdin, and at a terminal a hidden prompt (asked twice when confirm
// is set: a mistyped passphrase would make an export unreadable).
func readPassphrase(cmd *cobra.Command, path string, confirm bool) ([]byte, error) {
	var b []byte
	var err error
	switch fd, tty := terminalFd(cmd.InOrStdin()); {
	case path == "-" && tty:
		b, err = promptHidden(cmd, fd, "Passphrase (input hidden): ")
		if err == nil && confirm {
			var again []byte
			if again, err = promptHidden(cmd, fd, "The same passphrase again: "); err == nil && !bytes.Equal(b, again) {
				return nil, usageErr(errors.New("the two passphrases differ; nothing was written"))
			}
		}
	case path == "-":
		b, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4096))
	default:
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, usageErr(fmt.Errorf("--passphrase-file: %w", err))
	}
	b = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	if len(b) == 0 {
		return nil, usageErr(errors.New("--passphrase-file: the passphrase is empty"))
	}
	return b, nil
}

func promptHidden(cmd *cobra.Command, fd int, prompt string) ([]byte, error) {
	fmt.Fprint(cmd.ErrOrStderr(), prompt)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(cmd.ErrOrStderr())
	return b, err
}

// writeFileAtomic writes data to path (0600) through a temporary file in
// the same directory, so a failure never leaves a partial file at path.
// Without replace a file at path is never replaced, even one created after
// the caller looked: the temporary file is linked into place, which fails
// when the name is taken.
func writeFileAtomic(path string, data []byte, replace bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if !replace {
		err := os.Link(tmp.Name(), path)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists; choose another file or pass --force to replace it", path)
		}
		if err == nil {
			return nil
		}
		// No hard links here: claim the name, then put the file there.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists; choose another file or pass --force to replace it", path)
		}
		if err != nil {
			return err
		}
		_ = f.Close()
		if err := os.Rename(tmp.Name(), path); err != nil {
			_ = os.Remove(path)
			return err
		}
		return nil
	}
	return os.Rename(tmp.Name(), path)
}
