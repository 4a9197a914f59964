package open_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/open"
	"github.com/wfrun/wfrun/store/seal"
)

func cfg(t *testing.T, url string, env map[string]string) open.Config {
	return open.Config{Home: t.TempDir(), URL: url, Getenv: func(k string) string { return env[k] }}
}

func roundTrip(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	defer s.Close()
	if _, err := s.Put(ctx, &store.Secret{Name: "x", Value: json.RawMessage(`"v"`)}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "x"); err != nil || string(got.Value) != `"v"` {
		t.Fatalf("get: %v", err)
	}
}

func TestOpenBoltDefault(t *testing.T) {
	c := cfg(t, "", nil)
	s, err := open.Open(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, s)
	if _, err := seal.ReadKeyFile(c.Home); err != nil {
		t.Fatalf("key file not created: %v", err)
	}
	s2, err := open.Open(context.Background(), open.Config{Home: c.Home, URL: "bolt:other.db", Getenv: c.Getenv})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Get(context.Background(), "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bolt:other.db shares data with secrets.db: %v", err)
	}
	s2.Close()
}

func TestOpenRedisSchemes(t *testing.T) {
	addr := redistest.Start(t)
	for _, u := range []string{"redis://" + addr + "/0?prefix=a", "redis://" + addr + "/0?prefix=b&history=3"} {
		s, err := open.Open(context.Background(), cfg(t, u, nil))
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		roundTrip(t, s)
	}
	srv := redistest.StartServer(t, redistest.Cluster())
	s, err := open.Open(context.Background(), cfg(t, "redis+cluster://"+srv.Addr(), nil))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, s)
}

func TestOpenErrors(t *testing.T) {
	free := "127.0.0.1:1" // nothing listens on port 1
	cases := []struct {
		url  string
		want error
		text string
	}{
		{"ftp://x", open.ErrBadURL, "unknown scheme"},
		{"redis://user:hunter2@" + free + "/0", store.ErrUnavailable, "xxxxx"},
		{"redis+sentinel://" + free, open.ErrBadURL, "master"},
		{"redis://" + free + "?history=1", open.ErrBadURL, "history"},
		// A parse error quotes the URL: withheld when it holds a password.
		{"redis://user:hunter2@127.0.0.1:badport/0", open.ErrBadURL, "does not parse"},
		{"redis://:12/hunter2@" + free + "/0", open.ErrBadURL, "does not parse"},
		// A credential given as a query parameter the store does not take.
		{"redis://" + free + "/0?password=hunter2", open.ErrBadURL, "password=xxxxx"},
		{"redis+sentinel://" + free + "/0?master=m&sentinel_password=hunter2", open.ErrBadURL, "sentinel_password=xxxxx"},
		{"vault://" + free + "/secret?token=hvs.hunter2", open.ErrBadURL, "token=xxxxx"},
	}
	for _, c := range cases {
		_, err := open.Open(context.Background(), cfg(t, c.url, nil))
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: %v, want %v containing %q", c.url, err, c.want, c.text)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}

func TestOpenLayeredEnvOverBolt(t *testing.T) {
	t.Setenv("WFRUN_SECRET_token", "from-env")
	c := cfg(t, "env:|bolt:", nil)
	s, err := open.Open(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Put(ctx, &store.Secret{Name: "token", Value: json.RawMessage(`"from-file"`)}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "token"); err != nil || string(got.Value) != `"from-env"` {
		t.Fatalf("layered: %s %v", got.Value, err)
	}
	if _, err := filepath.Glob(filepath.Join(c.Home, "secrets.db")); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFromGetenv(t *testing.T) {
	env := map[string]string{"HOME": "/h", "XDG_DATA_HOME": ""}
	get := func(k string) string { return env[k] }
	if c := open.ConfigFromGetenv(get); c.Home != "/h/.local/share/wfrun" || c.URL != "" {
		t.Fatalf("%+v", c)
	}
	env["XDG_DATA_HOME"] = "/x"
	env["WFRUN_STORE"] = "redis://r:6379"
	if c := open.ConfigFromGetenv(get); c.Home != "/x/wfrun" || c.URL != "redis://r:6379" {
		t.Fatalf("%+v", c)
	}
	env["WFRUN_HOME"] = "/w"
	if c := open.ConfigFromGetenv(get); c.Home != "/w" {
		t.Fatalf("%+v", c)
	}
}

func TestEnvPrefixes(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want []string
	}{
		{"", nil},
		{"bolt:/x/secrets.db", nil},
		{"env:", []string{"WFRUN_SECRET_"}},
		{"env", []string{"WFRUN_SECRET_"}},
		{"env:APP_SECRET_ | redis://localhost:6379/0", []string{"APP_SECRET_"}},
		{"env:A_|env:B_", []string{"A_", "B_"}},
	} {
		if got := open.EnvPrefixes(tc.url); !slices.Equal(got, tc.want) {
			t.Errorf("EnvPrefixes(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}

// A program that reads other variables from the environment keeps clear of
// the env: store's.
func ExampleEnvPrefixes() {
	fmt.Println(open.EnvPrefixes("env:APP_SECRET_ | bolt:"))
	// Output: [APP_SECRET_]
}
