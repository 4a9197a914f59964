package vaulttest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// RootToken is the dev server's root token.
const RootToken = "wfrun-test-root"

// Bin returns the Vault binary tests use, and whether it exists.
func Bin() (string, bool) {
	bin := os.Getenv("WFRUN_VAULT_BIN")
	if bin == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", false
		}
		bin = filepath.Join(home, ".cache", "wfrun", "vault-1.21.4", "vault")
	}
	st, err := os.Stat(bin)
	return bin, err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Option configures Start.
type Option func(*config)

type config struct{ tls bool }

// TLS serves HTTPS with a certificate from a CA the dev server generates;
// Server.CACert names the CA's PEM file.
func TLS() Option { return func(c *config) { c.tls = true } }

// Server is a running dev server owned by one test.
type Server struct {
	Addr   string // http://127.0.0.1:PORT, or https:// with TLS
	CACert string // the CA's PEM file, with TLS

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *syncBuffer
}

// Start launches a dev server for t; it is stopped at t's cleanup.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	bin, ok := Bin()
	if !ok {
		if os.Getenv("CI") == "true" {
			t.Fatalf("vaulttest: no Vault binary at %q (required when CI=true; build it with tools/vaultdev/build.sh)", bin)
		}
		t.Skipf("vaulttest: no Vault binary at %q; skipping (build it with tools/vaultdev/build.sh; CI=true makes this fatal)", bin)
	}
	var lastErr error
	for range 3 {
		s, err := launch(t, bin, cfg)
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		lastErr = err
	}
	t.Fatalf("vaulttest: start vault: %v", lastErr)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func launch(t testing.TB, bin string, cfg config) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	hostport := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	home := t.TempDir()
	args := []string{"server", "-dev",
		"-dev-root-token-id=" + RootToken,
		"-dev-listen-address=" + hostport,
		"-dev-no-store-token"}
	s := &Server{Addr: "http://" + hostport, done: make(chan struct{})}
	health := http.DefaultClient
	if cfg.tls {
		certDir := t.TempDir()
		args = append(args, "-dev-tls", "-dev-tls-cert-dir="+certDir)
		s.Addr = "https://" + hostport
		s.CACert = filepath.Join(certDir, "vault-ca.pem")
		health = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "VAULT_DISABLE_MLOCK=true"}
	cmd.Dir = home
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s.cmd, s.out = cmd, out
	go func() { _ = cmd.Wait(); close(s.done) }()

	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return nil, fmt.Errorf("vault exited early:\n%s", out.String())
		default:
		}
		if cfg.tls {
			// The CA appears once the server has generated it.
			if pem, err := os.ReadFile(s.CACert); err == nil {
				health.Transport.(*http.Transport).TLSClientConfig.RootCAs.AppendCertsFromPEM(pem)
			}
		}
		resp, err := health.Get(s.Addr + "/v1/sys/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.Stop()
	return nil, fmt.Errorf("vault at %s not healthy after 60s:\n%s", s.Addr, out.String())
}

// Stop terminates the server and waits for it; safe to call twice.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Client returns a root client for setting the server up.
func (s *Server) Client(t testing.TB) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = s.Addr
	if s.CACert != "" {
		if err := cfg.ConfigureTLS(&api.TLSConfig{CACert: s.CACert}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(RootToken)
	c.ClearNamespace()
	return c
}

// Put writes data at PATH of the KV v2 engine mounted at mount.
func (s *Server) Put(t testing.TB, mount, path string, data map[string]any) {
	t.Helper()
	if _, err := s.Client(t).KVv2(mount).Put(context.Background(), path, data); err != nil {
		t.Fatalf("vaulttest: put %s/%s: %v", mount, path, err)
	}
}

// Write is a root write to any path (policies, auth methods, engines).
func (s *Server) Write(t testing.TB, path string, data map[string]any) *api.Secret {
	t.Helper()
	sec, err := s.Client(t).Logical().Write(path, data)
	if err != nil {
		t.Fatalf("vaulttest: write %s: %v", path, err)
	}
	return sec
}

// Policy creates a policy named name with the given HCL rules.
func (s *Server) Policy(t testing.TB, name, hcl string) {
	t.Helper()
	if err := s.Client(t).Sys().PutPolicy(name, hcl); err != nil {
		t.Fatalf("vaulttest: policy %s: %v", name, err)
	}
}

// Token creates a token with the given policies (and not the root one).
func (s *Server) Token(t testing.TB, req *api.TokenCreateRequest) *api.SecretAuth {
	t.Helper()
	sec, err := s.Client(t).Auth().Token().Create(req)
	if err != nil || sec == nil || sec.Auth == nil {
		t.Fatalf("vaulttest: create token: %v", err)
	}
	return sec.Auth
}

// AppRole enables AppRole (once), creates role with the given policies and
// returns its role id and a fresh secret id.
func (s *Server) AppRole(t testing.TB, role string, policies ...string) (roleID, secretID string) {
	t.Helper()
	c := s.Client(t)
	auths, err := c.Sys().ListAuth()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := auths["approle/"]; !ok {
		if err := c.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
			t.Fatalf("vaulttest: enable approle: %v", err)
		}
	}
	s.Write(t, "auth/approle/role/"+role, map[string]any{"token_policies": policies, "token_ttl": "20m"})
	r, err := c.Logical().Read("auth/approle/role/" + role + "/role-id")
	if err != nil || r == nil {
		t.Fatalf("vaulttest: role id: %v", err)
	}
	sid := s.Write(t, "auth/approle/role/"+role+"/secret-id", nil)
	return r.Data["role_id"].(string), sid.Data["secret_id"].(string)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
