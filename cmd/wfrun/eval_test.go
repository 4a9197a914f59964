package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

const (
	evalDoc = "../../testdata/eval/task.json"
	evalCtx = "../../testdata/eval/context.json"
)

func TestEvalReadmeCommandMasksSecrets(t *testing.T) {
	out, err := runCLI(t, "", "eval", "--doc", evalDoc, "--context", evalCtx)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		HTTP struct {
			URI     string            `json:"uri"`
			Headers map[string]string `json:"headers"`
			Body    map[string]any    `json:"body"`
		} `json:"http_request"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	for _, secret := range []string{"tok_live_8c1f2e", "orders_rw", "hunter2"} {
		if strings.Contains(out, secret) {
			t.Errorf("output leaks %q:\n%s", secret, out)
		}
	}
	if got.HTTP.Headers["Authorization"] != "Bearer ***" || got.HTTP.Headers["X-Db-User"] != "***" {
		t.Errorf("headers not masked: %v", got.HTTP.Headers)
	}
	if got.HTTP.URI != "https://api.example.com/v1/orders/1001?region=eu-west-1" {
		t.Errorf("uri = %q", got.HTTP.URI)
	}
	if got.HTTP.Body["customer"] != "Ada Lovelace" {
		t.Errorf("nested path: customer = %v", got.HTTP.Body["customer"])
	}
	if items, _ := got.HTTP.Body["openItems"].([]any); len(items) != 2 || items[0] != "A-1" || items[1] != "C-3" {
		t.Errorf("filter: openItems = %v", got.HTTP.Body["openItems"])
	}
	if !strings.Contains(out, "\n  \"http_request\": {") {
		t.Errorf("output is not indented:\n%s", out)
	}
}

func TestEvalReveal(t *testing.T) {
	out, err := runCLI(t, "", "eval", "--doc", evalDoc, "--context", evalCtx, "--reveal")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"Bearer tok_live_8c1f2e"`) || !strings.Contains(out, `"orders_rw"`) {
		t.Errorf("--reveal did not print the values:\n%s", out)
	}
}

func TestEvalStdinAndEscapedSecret(t *testing.T) {
	dir := t.TempDir()
	ctx := filepath.Join(dir, "ctx.json")
	if err := os.WriteFile(ctx, []byte(`{"secrets":{"pw":"a\"b\\c"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, `{"p":"x=${workflow.secrets.pw}"}`, "eval", "--doc", "-", "--context", ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"p": "x=***"`) || strings.Contains(out, `a\"b`) {
		t.Errorf("escaped secret not masked:\n%s", out)
	}
}

func TestEvalBadExpressionExits2(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "doc.json")
	if err := os.WriteFile(doc, []byte(`{"headers":{"Authorization":"Bearer ${workflow.secrets.x"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := runCLI(t, "", "eval", "--doc", doc, "--context", evalCtx)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("want exit status 2, got %v", err)
	}
	if !strings.Contains(err.Error(), `/headers/Authorization: unterminated "${" at offset 7`) {
		t.Errorf("error not located: %v", err)
	}
}

func TestEvalMissingSecretExits2WithoutValue(t *testing.T) {
	_, err := runCLI(t, `"${workflow.secrets.nope} ${workflow.secrets.api_token}"`, "eval", "--doc", "-", "--context", evalCtx)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("want exit status 2, got %v", err)
	}
	if !strings.Contains(err.Error(), `secret "nope"`) || strings.Contains(err.Error(), "tok_live") {
		t.Errorf("error = %v", err)
	}
}

func TestEvalNeedsFlags(t *testing.T) {
	_, err := runCLI(t, "", "eval", "--doc", evalDoc)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("want usage error, got %v", err)
	}
}
