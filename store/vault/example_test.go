package vault_test

import (
	"context"
	"fmt"
	"os"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/env"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/store/vault"
)

// A chain for a workflow run: environment variables override Vault, and
// names Vault does not hold fall through to a writable store. Vault is
// read with AppRole; each run gets its own view that reads a secret from
// Vault at most once.
func Example() {
	v, err := vault.New(vault.Options{
		Address: "https://vault.example.com:8200",
		Mount:   "secret",
		Prefix:  "wfrun/",
		AppRole: vault.AppRole{RoleID: os.Getenv("VAULT_ROLE_ID"), SecretID: os.Getenv("VAULT_SECRET_ID")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	chain := store.Layered(env.New(), v, memory.New())
	defer chain.Close()

	run := store.NewRunView(chain, store.LocalPrincipal, "", "")
	token, err := run.Secret(context.Background(), "api_token")
	_, _ = token, err
}
