package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/store"
)

// secretExists reports whether name is stored (an expired secret is still
// stored until it is swept).
func secretExists(ctx context.Context, s store.Store, name string) (bool, error) {
	_, err := s.Get(ctx, name)
	switch {
	case err == nil, errors.Is(err, store.ErrExpired):
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, err
}

// errNotExists is exists' "no" answer: exit status 1 with nothing on
// stderr beyond the answer on stdout.
var errNotExists = errors.New("secret does not exist")

func newSecretExistsCmd() *cobra.Command {
	var (
		sf  scopeFlags
		out outputFlags
	)
	cmd := &cobra.Command{
		Use:   "exists NAME",
		Short: "Tell whether a secret exists (exit status 0 yes, 1 no), without reading its value",
		Long: `Exists prints whether NAME is stored in the scope and exits 0 when it is, 1
when it is not, so scripts can test it. An expired secret still exists until
'wfrun secret sweep' removes it.`,
		Example: `  wfrun secret exists api_token
  if wfrun secret exists db >/dev/null; then echo configured; fi
  wfrun secret exists db -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validName(name); err != nil {
				return err
			}
			if err := out.check(); err != nil {
				return err
			}
			var found bool
			err := withStore(cmd, &sf, func(s store.Store, scope store.Scope) error {
				ok, err := secretExists(cmd.Context(), s, name)
				if err != nil {
					return err
				}
				found = ok
				shown := name
				if !ok {
					shown = withheld // a name no secret holds may be a value
				}
				v := struct {
					Name   string `json:"name"`
					Scope  string `json:"scope"`
					Exists bool   `json:"exists"`
				}{shown, scope.String(), ok}
				return out.render(cmd.OutOrStdout(), v, func(t *table) {
					if ok {
						t.line(fmt.Sprintf("secret %q exists (%s)", name, scope))
					} else {
						t.line(fmt.Sprintf("no secret of that name (%s)", scope))
					}
				})
			})
			if err != nil {
				return err
			}
			if !found {
				return &exitError{code: exitFailed, err: errNotExists, silent: true}
			}
			return nil
		},
	}
	sf.add(cmd)
	out.add(cmd)
	return cmd
}
