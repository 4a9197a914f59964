package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A binary file is stored exactly (as base64, type binary) with --binary,
// and refused with the reason without it; never altered.
func TestSecretBinaryFromFile(t *testing.T) {
	home := cliEnv(t)
	raw := []byte{0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe, 0x80, 0x0a}
	f := filepath.Join(home, "..", "key.bin")
	if err := os.WriteFile(f, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := wfrun(t, "", "secret", "set", "bin", "--from-file", f)
	want := "wfrun: set: " + f + " is not UTF-8 text (invalid byte at offset 0); a secret value is text or JSON: store the bytes exactly with --binary (kept as base64)\n"
	if code != 2 || out != "" || errOut != want {
		t.Fatalf("binary without --binary: exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, want)
	}
	if _, _, code := wfrun(t, "", "secret", "get", "bin"); code != 1 {
		t.Fatal("a refused binary value was stored")
	}
	mustRun(t, "", "secret", "set", "bin", "--from-file", f, "--binary")
	got := mustRun(t, "", "secret", "get", "bin", "--reveal")
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(got))
	if err != nil || !bytes.Equal(dec, raw) {
		t.Fatalf("binary round trip: %q %v", got, err)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "", "secret", "get", "bin", "-o", "json")), &v); err != nil {
		t.Fatal(err)
	}
	if v["type"] != "binary" || v["encoding"] != "base64" || v["size"] != float64(len(raw)) || v["value"] != nil {
		t.Fatalf("binary metadata: %v", v)
	}
	// stdin too.
	mustRun(t, string(raw), "secret", "set", "bin2", "--binary")
	if got := strings.TrimSpace(mustRun(t, "", "secret", "get", "bin2", "--reveal")); got != base64.StdEncoding.EncodeToString(raw) {
		t.Fatalf("binary from stdin: %q", got)
	}
}

// Expired secrets: metadata visible with state expired, value never
// returned; hidden from ls unless --expired; history says expired too.
func TestSecretExpiredModel(t *testing.T) {
	cliEnv(t)
	mustRun(t, "", "secret", "set", "gone", "--value", "expired-model-v1")
	mustRun(t, "", "secret", "set", "gone", "--value", "expired-model-v2", "--expires", "2001-02-03T04:05:06Z")
	mustRun(t, "", "secret", "set", "live", "--value", "live-model-value")

	get := mustRun(t, "", "secret", "get", "gone")
	if !strings.Contains(get, "state:") || !strings.Contains(get, "expired") || strings.Contains(get, "expired-model") {
		t.Fatalf("get expired: %s", get)
	}
	out, errOut, code := wfrun(t, "", "secret", "get", "gone", "--reveal")
	if code != 1 || out != "" || !strings.Contains(errOut, "secret expired") || strings.Contains(errOut, "expired-model") {
		t.Fatalf("get --reveal expired: %d %q %q", code, out, errOut)
	}
	ls := mustRun(t, "", "secret", "ls", "-o", "json")
	if strings.Contains(ls, `"gone"`) || !strings.Contains(ls, `"live"`) {
		t.Fatalf("ls shows expired: %s", ls)
	}
	var all []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "", "secret", "ls", "--expired", "-o", "json")), &all); err != nil {
		t.Fatal(err)
	}
	states := map[string]any{}
	for _, e := range all {
		states[e["name"].(string)] = e["state"]
	}
	if states["gone"] != "expired" || states["live"] != "active" || len(all) != 2 {
		t.Fatalf("ls --expired: %v", all)
	}
	hist := mustRun(t, "", "secret", "history", "gone", "--reveal")
	if !strings.Contains(hist, "STATE") || !strings.Contains(hist, "expired") || !strings.Contains(hist, "active") ||
		strings.Contains(hist, "expired-model-v2") || !strings.Contains(hist, "expired-model-v1") || strings.Contains(hist, "unavailable") {
		t.Fatalf("history: %s", hist)
	}
}
