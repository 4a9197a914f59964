package tasks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
)

// AWS's SigV4 test-suite credentials and clock (aws-sig-v4-test-suite,
// "get-vanilla" and friends: us-east-1, service "service", 20150830T123600Z).
const (
	auSuiteAccessKey = "AKIDEXAMPLE"
	auSuiteSecretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	auSuiteToken     = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
)

var auSuiteTime = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)

// auServices is a run's services over a real memory store holding secrets.
func auServices(t *testing.T, secrets map[string]string) (*Services, *masking.Masker) {
	t.Helper()
	ctx := context.Background()
	raw := memory.New()
	for name, value := range secrets {
		if _, err := raw.Put(ctx, &store.Secret{Name: name, Value: json.RawMessage(value)}); err != nil {
			t.Fatal(err)
		}
	}
	m := masking.New()
	return &Services{
		HTTPClient: http.DefaultClient,
		Masker:     m,
		Secrets:    store.NewRunView(raw, store.LocalPrincipal, "", ""),
		Logf:       func(string, ...any) {},
	}, m
}

func auCreds(token string) string {
	b, _ := json.Marshal(map[string]string{"ACCESS_KEY": auSuiteAccessKey, "SECRET_ACCESS_KEY": auSuiteSecretKey, "SESSION_TOKEN": token})
	if token == "" {
		b, _ = json.Marshal(map[string]string{"ACCESS_KEY": auSuiteAccessKey, "SECRET_ACCESS_KEY": auSuiteSecretKey})
	}
	return string(b)
}

// TestSigV4KnownSignatures checks the exact Authorization header against
// signatures AWS publishes in its SigV4 test suite.
func TestSigV4KnownSignatures(t *testing.T) {
	const prefix = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	cases := []struct {
		name, method, url, body, token string
		headers                        map[string]string
		want                           string
	}{
		{
			name: "get-vanilla", method: "GET", url: "https://example.amazonaws.com/",
			want: prefix + "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		},
		{
			name: "get-vanilla-query-order-key-case", method: "GET", url: "https://example.amazonaws.com/?Param2=value2&Param1=value1",
			want: prefix + "SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
		},
		{
			name: "post-vanilla", method: "POST", url: "https://example.amazonaws.com/",
			want: prefix + "SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
		},
		{
			name: "get-vanilla-with-session-token", method: "GET", url: "https://example.amazonaws.com/", token: auSuiteToken,
			want: prefix + "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
		},
		{
			// The body's hash is part of the signature: a wrong payload hash
			// changes this one.
			name: "post-x-www-form-urlencoded", method: "POST", url: "https://example.amazonaws.com/", body: "Param1=value1",
			headers: map[string]string{
				"Content-Type":         "application/x-www-form-urlencoded",
				"X-Amz-Content-Sha256": "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
			},
			want: prefix + "SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc, m := auServices(t, map[string]string{"AWS_CREDENTIALS": auCreds(c.token)})
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			req, err := http.NewRequest(c.method, c.url, body)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			auth := json.RawMessage(`{"type":"aws-sigv4","secret":"AWS_CREDENTIALS","region":"us-east-1","service":"service"}`)
			if err := applyAuthAt(context.Background(), req, []byte(c.body), auth, svc, auSuiteTime); err != nil {
				t.Fatal(err)
			}
			if got := req.Header.Get("Authorization"); got != c.want {
				t.Fatalf("Authorization\n got %s\nwant %s", got, c.want)
			}
			if got := req.Header.Get("X-Amz-Date"); got != "20150830T123600Z" {
				t.Fatalf("X-Amz-Date = %q", got)
			}
			if c.token != "" && req.Header.Get("X-Amz-Security-Token") != c.token {
				t.Fatal("session token header missing")
			}
			// Every credential is registered with the masker.
			for _, v := range []string{auSuiteAccessKey, auSuiteSecretKey} {
				if string(m.Mask([]byte(v))) != "***" {
					t.Fatalf("credential not masked")
				}
			}
			if c.token != "" && string(m.Mask([]byte(c.token))) != "***" {
				t.Fatal("session token not masked")
			}
		})
	}
}

// TestSigV4ReachesServer signs a request with a body and lets a real server
// verify it: the server recomputes the signature over what it received.
func TestSigV4ReachesServer(t *testing.T) {
	const secretKey = "server-side-secret-key-0123456789"
	creds := aws.Credentials{AccessKeyID: "AKIAWFRUNTEST0001", SecretAccessKey: secretKey}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(body)
		when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
		if err != nil {
			http.Error(w, "no date", http.StatusBadRequest)
			return
		}
		got := r.Header.Get("Authorization")
		check, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
		for _, h := range []string{"Content-Type", "X-Amz-Security-Token"} {
			if v := r.Header.Get(h); v != "" {
				check.Header.Set(h, v)
			}
		}
		if err := v4.NewSigner().SignHTTP(r.Context(), creds, check, hex.EncodeToString(sum[:]), "execute-api", "eu-west-1", when); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if check.Header.Get("Authorization") != got {
			http.Error(w, "signature mismatch", http.StatusForbidden)
			return
		}
		_, _ = io.WriteString(w, "ok "+got)
	}))
	defer srv.Close()

	svc, m := auServices(t, map[string]string{"aws/creds": `{"ACCESS_KEY":"AKIAWFRUNTEST0001","SECRET_ACCESS_KEY":"` + secretKey + `"}`})
	body := []byte(`{"hello":"world"}`)
	send := func(sentBody []byte) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/prod/items?b=2&a=1", bytes.NewReader(sentBody))
		req.Header.Set("Content-Type", "application/json")
		if err := ApplyAuth(context.Background(), req, body, json.RawMessage(`{"type":"aws-sigv4","secret":"aws/creds","region":"eu-west-1","service":"execute-api"}`), svc); err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, text := send(body)
	if code != http.StatusOK {
		t.Fatalf("server rejected the signature: %d %s", code, text)
	}
	if masked := string(m.Mask([]byte(text))); strings.Contains(masked, "AKIAWFRUNTEST0001") {
		t.Fatalf("access key not masked in echo: %s", masked)
	}
	// The server really checks: a body other than the one signed fails.
	if code, _ := send([]byte(`{"hello":"tampered"}`)); code != http.StatusForbidden {
		t.Fatalf("tampered body accepted: %d", code)
	}
}

// auEchoServer checks the Authorization header and echoes it back.
func auEchoServer(t *testing.T, want string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Authorization")
		if got != want {
			w.WriteHeader(http.StatusUnauthorized)
		}
		_, _ = io.WriteString(w, `{"authorization":"`+got+`"}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func auDo(t *testing.T, srv *httptest.Server, auth string, svc *Services) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	if err := ApplyAuth(context.Background(), req, nil, json.RawMessage(auth), svc); err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBearerAuth(t *testing.T) {
	for _, c := range []struct{ name, value string }{
		{"string secret", `"tok-abcdef-123456"`},
		{"object with token", `{"token":"tok-abcdef-123456","expires_in":3600}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			svc, m := auServices(t, map[string]string{"api_token": c.value})
			srv := auEchoServer(t, "Bearer tok-abcdef-123456")
			code, body := auDo(t, srv, `{"type":"bearer","secret":"api_token"}`, svc)
			if code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			if got := string(m.Mask([]byte(body))); got != `{"authorization":"Bearer ***"}` {
				t.Fatalf("masked echo = %s", got)
			}
		})
	}
}

func TestBasicAuth(t *testing.T) {
	for _, c := range []struct{ name, value string }{
		{"user", `{"user":"svc-robot","password":"pa55-w0rd-xyz"}`},
		{"username", `{"username":"svc-robot","password":"pa55-w0rd-xyz"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			svc, m := auServices(t, map[string]string{"svc/basic": c.value})
			// base64("svc-robot:pa55-w0rd-xyz")
			srv := auEchoServer(t, "Basic c3ZjLXJvYm90OnBhNTUtdzByZC14eXo=")
			code, body := auDo(t, srv, `{"type":"basic","secret":"svc/basic"}`, svc)
			if code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			if got := string(m.Mask([]byte(body))); strings.Contains(got, "c3ZjLXJvYm90OnBhNTUtdzByZC14eXo") || !strings.Contains(got, "***") {
				t.Fatalf("masked echo = %s", got)
			}
		})
	}
}

func TestAuthErrors(t *testing.T) {
	svc, _ := auServices(t, map[string]string{
		"plain":      `"just-a-string-value"`,
		"empty_tok":  `{"token":""}`,
		"aws_broken": `{"ACCESS_KEY":"AKIA-ONLY-ACCESS"}`,
	})
	forbidden := *svc
	forbidden.Secrets = store.NewRunView(memory.New(), store.Principal{Name: "p", Scopes: []string{"secrets:get:other"}}, "", "")
	cases := []struct {
		name, auth string
		svc        *Services
		is         error
		want       string
	}{
		{"missing secret", `{"type":"bearer","secret":"nope"}`, svc, store.ErrNotFound, `"nope"`},
		{"forbidden", `{"type":"bearer","secret":"nope"}`, &forbidden, store.ErrForbidden, `"nope"`},
		{"unknown type", `{"type":"digest","secret":"plain"}`, svc, ErrBadAuth, `"digest"`},
		{"no type", `{"secret":"plain"}`, svc, ErrBadAuth, "auth.type"},
		{"no secret", `{"type":"bearer"}`, svc, ErrBadAuth, "auth.secret"},
		{"unknown field", `{"type":"bearer","secret":"plain","x":1}`, svc, ErrBadAuth, `"x"`},
		{"not an object", `"bearer"`, svc, ErrBadAuth, "object"},
		{"sigv4 without region", `{"type":"aws-sigv4","secret":"aws_broken","service":"s3"}`, svc, ErrBadAuth, "region"},
		{"region on bearer", `{"type":"bearer","secret":"plain","region":"x"}`, svc, ErrBadAuth, "region"},
		{"basic needs object", `{"type":"basic","secret":"plain"}`, svc, ErrBadAuth, `"plain"`},
		{"empty token", `{"type":"bearer","secret":"empty_tok"}`, svc, ErrBadAuth, `"empty_tok"`},
		{"aws shape", `{"type":"aws-sigv4","secret":"aws_broken","region":"r","service":"s"}`, svc, ErrBadAuth, "SECRET_ACCESS_KEY"},
		{"no store", `{"type":"bearer","secret":"plain"}`, &Services{}, nil, `"plain"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://127.0.0.1:1/", nil)
			err := ApplyAuth(context.Background(), req, nil, json.RawMessage(c.auth), c.svc)
			if err == nil {
				t.Fatal("no error")
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Fatalf("error %v is not %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %s", err, c.want)
			}
			for _, leak := range []string{"just-a-string-value", "AKIA-ONLY-ACCESS"} {
				if strings.Contains(err.Error(), leak) {
					t.Fatalf("error leaks a secret value: %q", err)
				}
			}
			if req.Header.Get("Authorization") != "" {
				t.Fatal("failed auth still set a header")
			}
		})
	}
	// No auth is no change.
	req, _ := http.NewRequest("GET", "http://127.0.0.1:1/", nil)
	for _, a := range []string{``, `null`, ` `} {
		if err := ApplyAuth(context.Background(), req, nil, json.RawMessage(a), nil); err != nil || len(req.Header) != 0 {
			t.Fatalf("auth %q: %v %v", a, err, req.Header)
		}
	}
}

func TestSigV4S3PayloadHeader(t *testing.T) {
	svc, _ := auServices(t, map[string]string{"AWS_CREDENTIALS": auCreds("")})
	body := []byte("object body")
	req, _ := http.NewRequest("PUT", "https://bucket.s3.us-east-1.amazonaws.com/a%20b/key.txt", bytes.NewReader(body))
	if err := applyAuthAt(context.Background(), req, body, json.RawMessage(`{"type":"aws-sigv4","secret":"AWS_CREDENTIALS","region":"us-east-1","service":"s3"}`), svc, auSuiteTime); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	if req.Header.Get("X-Amz-Content-Sha256") != hex.EncodeToString(sum[:]) {
		t.Fatal("S3 needs the payload hash header")
	}
	if !strings.Contains(req.Header.Get("Authorization"), "x-amz-content-sha256") {
		t.Fatal("payload hash header not signed")
	}
}

// FuzzParseAuth: any input is either accepted with a known type and a
// secret name, or refused with ErrBadAuth; nothing panics.
func FuzzParseAuth(f *testing.F) {
	for _, s := range []string{`{"type":"bearer","secret":"x"}`, `{"type":"aws-sigv4","secret":"a","region":"r","service":"s"}`, `null`, `"x"`, `{"type":1}`, `{`, `[]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAuth(json.RawMessage(s))
		switch {
		case err != nil:
			if !errors.Is(err, ErrBadAuth) {
				t.Fatalf("error %v is not ErrBadAuth", err)
			}
		case a != nil:
			if a.Secret == "" || (a.Type != AuthBearer && a.Type != AuthBasic && a.Type != AuthSigV4) {
				t.Fatalf("accepted %+v", a)
			}
		}
	})
}

// BenchmarkApplyAuth compares the cost ApplyAuth adds per request (one
// secret read from a memory store, masker registration, header or
// signature) with setting a literal header, the baseline of a workflow that
// writes "Authorization: Bearer ${workflow.secrets.x}" itself.
func BenchmarkApplyAuth(b *testing.B) {
	ctx := context.Background()
	raw := memory.New()
	for name, v := range map[string]string{
		"tok":   `"tok-abcdef-123456"`,
		"basic": `{"user":"svc-robot","password":"pa55-w0rd-xyz"}`,
		"aws":   `{"ACCESS_KEY":"AKIDEXAMPLE","SECRET_ACCESS_KEY":"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}`,
	} {
		if _, err := raw.Put(ctx, &store.Secret{Name: name, Value: json.RawMessage(v)}); err != nil {
			b.Fatal(err)
		}
	}
	svc := &Services{Masker: masking.New(), Secrets: store.NewRunView(raw, store.LocalPrincipal, "", "")}
	body := []byte(`{"hello":"world"}`)
	cases := []struct{ name, auth string }{
		{"impl=literal-header", ""},
		{"impl=bearer", `{"type":"bearer","secret":"tok"}`},
		{"impl=basic", `{"type":"basic","secret":"basic"}`},
		{"impl=aws-sigv4", `{"type":"aws-sigv4","secret":"aws","region":"us-east-1","service":"execute-api"}`},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest("POST", "https://example.amazonaws.com/prod/items?a=1", bytes.NewReader(body))
				if c.auth == "" {
					req.Header.Set("Authorization", "Bearer tok-abcdef-123456")
					continue
				}
				if err := ApplyAuth(ctx, req, body, json.RawMessage(c.auth), svc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// ExampleApplyAuth sends a bearer token that the workflow never sees: the
// HTTP task's input only names the secret.
func ExampleApplyAuth() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "you sent: "+r.Header.Get("Authorization"))
	}))
	defer srv.Close()

	ctx := context.Background()
	raw := memory.New()
	_, _ = raw.Put(ctx, &store.Secret{Name: "api_token", Value: json.RawMessage(`"tok-live-0123456789"`)})
	svc := &Services{Masker: masking.New(), Secrets: store.NewRunView(raw, store.LocalPrincipal, "", "")}

	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	if err := ApplyAuth(ctx, req, nil, json.RawMessage(`{"type":"bearer","secret":"api_token"}`), svc); err != nil {
		fmt.Println(err)
		return
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(svc.Masker.Mask(body)))
	// Output: you sent: Bearer ***
}

// TestHTTPTaskAuthFromSecrets runs the registry's HTTP task with each auth
// type against a real server that checks the credential and echoes the
// Authorization header: the task completes, and its output, masked with the
// run's masker as the engine masks every output before persisting it, shows
// the echo as ***: ApplyAuth registered every form the credential takes.
func TestHTTPTaskAuthFromSecrets(t *testing.T) {
	const token, password, secretKey = "tok-live-abcdef-0123", "pa55-w0rd-xyz", "aws-secret-key-for-the-task-test"
	svc, m := auServices(t, map[string]string{
		"api_token": `"` + token + `"`,
		"basic":     `{"user":"svc-robot","password":"` + password + `"}`,
		"aws":       `{"ACCESS_KEY":"AKIAWFRUNTASKTEST","SECRET_ACCESS_KEY":"` + secretKey + `"}`,
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Authorization")
		user, pass, basicOK := r.BasicAuth()
		ok := got == "Bearer "+token ||
			(basicOK && user == "svc-robot" && pass == password) ||
			strings.HasPrefix(got, "AWS4-HMAC-SHA256 Credential=AKIAWFRUNTASKTEST/")
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
		}
		w.Header().Set("Content-Type", "application/json")
		b, _ := json.Marshal(map[string]string{"authorization": got})
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	task, ok := NewDefaultRegistry().Lookup(TypeHTTP)
	if !ok {
		t.Fatal("no HTTP task")
	}
	for _, auth := range []string{
		`{"type":"bearer","secret":"api_token"}`,
		`{"type":"basic","secret":"basic"}`,
		`{"type":"aws-sigv4","secret":"aws","region":"eu-west-1","service":"execute-api"}`,
	} {
		t.Run(auth, func(t *testing.T) {
			in := `{"http_request":{"uri":"` + srv.URL + `/x","method":"POST","body":{"a":1},"auth":` + auth + `}}`
			res := task.Execute(context.Background(), &Request{RefName: "call", TaskType: TypeHTTP, Input: json.RawMessage(in), Services: svc})
			if res.Status != Completed {
				t.Fatalf("%s: %s", res.Status, res.Reason)
			}
			if !strings.Contains(string(res.Output), "authorization") {
				t.Fatalf("no echo: %s", res.Output)
			}
			masked, err := m.MaskJSON(res.Output)
			if err != nil {
				t.Fatal(err)
			}
			out := string(masked)
			if !strings.Contains(out, "***") {
				t.Fatalf("echo not masked: %s", out)
			}
			for _, leak := range []string{token, password, secretKey, "AKIAWFRUNTASKTEST", "c3ZjLXJvYm90OnBhNTUtdzByZC14eXo"} {
				if strings.Contains(out, leak) || strings.Contains(res.Reason, leak) {
					t.Fatalf("output leaks a credential: %s", out)
				}
			}
		})
	}
	in := `{"uri":"` + srv.URL + `","method":"GET","auth":{"type":"bearer","secret":"missing_token"}}`
	res := task.Execute(context.Background(), &Request{RefName: "call", TaskType: TypeHTTP, Input: json.RawMessage(in), Services: svc})
	if res.Status != FailedTerminal || !strings.Contains(res.Reason, `"missing_token"`) {
		t.Fatalf("missing secret: %s %q", res.Status, res.Reason)
	}
}

func TestAuthStatus(t *testing.T) {
	ctx := context.Background()
	if AuthStatus(ctx, fmt.Errorf("x: %w", store.ErrUnavailable)) != Failed {
		t.Fatal("an unavailable backend is retryable")
	}
	if AuthStatus(ctx, fmt.Errorf("x: %w", store.ErrNotFound)) != FailedTerminal || AuthStatus(ctx, ErrBadAuth) != FailedTerminal {
		t.Fatal("a missing secret or a bad auth input is terminal")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if AuthStatus(cctx, cctx.Err()) != Failed {
		t.Fatal("cancellation is retryable")
	}
}

func TestDefaultRegistryHasUpdateSecretNotExec(t *testing.T) {
	r := NewDefaultRegistry()
	if _, ok := r.Lookup(TypeUpdateSecret); !ok {
		t.Fatal("UPDATE_SECRET missing from the default registry")
	}
	if _, ok := r.Lookup(TypeExec); ok {
		t.Fatal("EXEC must only be added by RegisterExec")
	}
}
