package masking

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// Every split point of a value across two writes, with text around it.
func TestWriterSplitAtEveryBoundary(t *testing.T) {
	secret := "Bearer-9f8e7d6c5b4a"
	m := New()
	m.Register(secret)
	text := "auth: " + secret + " ok; again " + secret
	want := m.MaskString(text)
	if want != "auth: *** ok; again ***" {
		t.Fatalf("baseline mask wrong: %q", want)
	}
	for i := 0; i <= len(text); i++ {
		var out bytes.Buffer
		w := m.NewWriter(&out)
		if _, err := w.Write([]byte(text[:i])); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(text[i:])); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Fatalf("split at %d: got %q, want %q", i, out.String(), want)
		}
	}
}

// Byte-at-a-time writes, with encoded forms, must give the same result as
// masking the whole text at once.
func TestWriterByteAtATime(t *testing.T) {
	m := New()
	m.RegisterAll("correct horse battery", "dG9rZW4tdmFsdWU=", "token-value")
	text := "a correct horse battery b Basic dXNlcjp0b2tlbi12YWx1ZQ== c token-valuetoken-value d"
	var out bytes.Buffer
	w := m.NewWriter(&out)
	for i := 0; i < len(text); i++ {
		if _, err := w.Write([]byte{text[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), m.MaskString(text); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if strings.Contains(out.String(), "token-value") || strings.Contains(out.String(), "horse") {
		t.Fatalf("leak: %q", out.String())
	}
}

// The look-behind is bounded: without matches the writer holds back at
// most longest-pattern − 1 bytes plus the slack for escapes still
// incomplete at the end of the data (viewSlack).
func TestWriterBoundedHoldBack(t *testing.T) {
	m := New()
	m.Register("0123456789")
	var out bytes.Buffer
	w := m.NewWriter(&out)
	w.Write(bytes.Repeat([]byte("x"), 1000))
	// The longest registered form is the padded base64 (16 bytes).
	hold := m.snap.Load().maxLen - 1 + viewSlack
	if hold != 15+viewSlack || out.Len() != 1000-hold {
		t.Fatalf("wrote %d bytes, want %d", out.Len(), 1000-hold)
	}
	w.Close()
	if out.Len() != 1000 {
		t.Fatalf("after Close %d bytes", out.Len())
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

type failWriter struct{}

var errSink = errors.New("sink broken")

func (failWriter) Write([]byte) (int, error) { return 0, errSink }

func TestWriterError(t *testing.T) {
	m := New()
	w := m.NewWriter(failWriter{})
	if _, err := w.Write([]byte("hello")); !errors.Is(err, errSink) {
		t.Fatalf("got %v", err)
	}
	if _, err := w.Write([]byte("again")); !errors.Is(err, errSink) {
		t.Fatalf("error not sticky: %v", err)
	}
}

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

func TestHandlerMasksMessageAndAttrs(t *testing.T) {
	m := New()
	m.RegisterAll("s3cr3t-token", "987654")
	var buf bytes.Buffer
	log := slog.New(NewHandler(m, slog.NewJSONHandler(&buf, nil)))
	log = log.With("pre", "with s3cr3t-token")
	log.WithGroup("g").Info("calling with s3cr3t-token",
		"tok", "s3cr3t-token",
		"pin", 987654,
		"err", errors.New("401 for s3cr3t-token"),
		"obj", stringer{"x s3cr3t-token"},
		slog.Group("inner", "deep", "Bearer s3cr3t-token"),
		"s3cr3t-token", "as key")
	got := buf.String()
	if strings.Contains(got, "s3cr3t-token") || strings.Contains(got, "987654") {
		t.Fatalf("leak in log: %s", got)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("handler output not JSON: %v", err)
	}
	g := rec["g"].(map[string]any)
	if g["inner"].(map[string]any)["deep"] != "Bearer ***" || g["pin"] != "***" || rec["pre"] != "with ***" {
		t.Fatalf("unexpected record: %s", got)
	}
	if !NewHandler(m, slog.NewJSONHandler(&buf, nil)).Enabled(context.Background(), slog.LevelInfo) {
		t.Fatal("Enabled not forwarded")
	}
}
