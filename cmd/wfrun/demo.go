package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
)

// tokenEndpoint is the README's rotation demo counterpart: a token API of
// the shape the Orkes rotation template calls (POST {"keyId","keySecret"}
// → {"token","expiresIn"}), issuing a fresh random token per call. It
// exists so the README runs as printed without a third-party service.
type tokenEndpoint struct {
	keyID     string
	keySecret []byte

	mu     sync.Mutex
	issued int
}

func (t *tokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/healthz" && r.Method == http.MethodGet {
		// What a script started with & polls before its first call.
		fmt.Fprintln(w, `{"status":"ok"}`)
		return
	}
	if r.URL.Path != "/token" || r.Method != http.MethodPost {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintln(w, `{"error":"POST /token"}`)
		return
	}
	var in struct {
		KeyID     string `json:"keyId"`
		KeySecret string `json:"keySecret"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil ||
		in.KeyID != t.keyID || subtle.ConstantTimeCompare([]byte(in.KeySecret), t.keySecret) != 1 {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintln(w, `{"error":"unknown keyId or wrong keySecret"}`)
		return
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	t.mu.Lock()
	t.issued++
	n := t.issued
	t.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"token": fmt.Sprintf("tok-%d-%s", n, hex.EncodeToString(b)), "expiresIn": 3600})
}

func newDemoTokenServerCmd() *cobra.Command {
	var listen, keyID, keySecretFile string
	cmd := &cobra.Command{
		Use:    "demo-token-server --key-id ID --key-secret-file FILE",
		Short:  "Serve a local token endpoint for the README's rotation demo (POST /token)",
		Hidden: true,
		Long: `A token endpoint of the shape the Orkes rotation template calls: POST /token with
{"keyId":ID,"keySecret":SECRET} returns {"token":"tok-N-…","expiresIn":3600}, a new
random token each time; GET /healthz answers 200 once it listens; anything else is
401/404. The key secret is the file's
bytes exactly, as 'wfrun secret set --from-file' stores them. It listens on
--listen until interrupted. For demos and tests only.`,
		Example: `  wfrun demo-token-server --listen 127.0.0.1:18089 --key-id demo-app-4711 --key-secret-file app-key-secret.txt &
  curl -sS --retry 10 --retry-connrefused --retry-delay 1 http://127.0.0.1:18089/healthz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			secret, err := os.ReadFile(keySecretFile)
			if err != nil {
				return usageErr(fmt.Errorf("--key-secret-file: %w", err))
			}
			if keyID == "" || len(secret) == 0 {
				return usageErr(errors.New("--key-id and a non-empty --key-secret-file are required"))
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: &tokenEndpoint{keyID: keyID, keySecret: secret}, ReadHeaderTimeout: 5 * time.Second}
			ctx, stop := signalContext(cmd)
			defer stop()
			go func() {
				<-ctx.Done()
				shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_ = srv.Shutdown(shut)
			}()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:18089", "address to listen on")
	cmd.Flags().StringVar(&keyID, "key-id", "", "the keyId clients must send")
	cmd.Flags().StringVar(&keySecretFile, "key-secret-file", "", "file holding the keySecret clients must send")
	return cmd
}
