package vault_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/vault"
)

// TestAddressCredentialsNeverShown: an address may carry credentials in
// its userinfo (https://user:password@host, as a proxy in front of Vault
// may want); no error, description or refusal shows the password, whether
// Vault is unreachable, answers with an error, or the address does not
// parse.
func TestAddressCredentialsNeverShown(t *testing.T) {
	const pw = "addr-pass-9931"
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"errors":["internal error at `+r.URL.String()+`"]}`, http.StatusInternalServerError)
	}))
	defer down.Close()
	withUser := func(base string) string { return strings.Replace(base, "://", "://vaultuser:"+pw+"@", 1) }
	var texts []string
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		texts = append(texts, what+": "+err.Error())
	}
	for _, o := range []vault.Options{
		{Address: withUser("http://127.0.0.1:1"), Token: "token-0123456789", MaxRetries: -1},
		{Address: withUser(down.URL), Token: "token-0123456789", MaxRetries: -1},
		{Address: withUser(down.URL), Auth: vault.AuthAppRole, AppRole: vault.AppRole{RoleID: "role-0123456789", SecretID: "secret-0123456789"}, MaxRetries: -1},
	} {
		s, err := vault.New(o)
		if err != nil {
			check("New", err)
			continue
		}
		_, err = s.Get(context.Background(), "x")
		if !errors.Is(err, store.ErrUnavailable) && !errors.Is(err, store.ErrForbidden) {
			t.Errorf("Get through %s: %v, want unavailable or forbidden", o.Auth, err)
		}
		check("Get", err)
		check("Delete", s.Delete(context.Background(), "x"))
		_, _, err = store.GetMany(context.Background(), s, []string{"x", "y"})
		check("GetMany", err)
	}
	_, err := vault.New(vault.Options{Address: "http://vaultuser:" + pw + "@127.0.0.1:99999999/%zz", Token: "t"})
	check("New with an address that does not parse", err)
	for _, s := range texts {
		if strings.Contains(s, pw) {
			t.Errorf("the address's password is shown: %s", s)
		}
	}
}
