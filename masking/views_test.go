package masking

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const runDoc = `{
  "workflowId": "wf-1", "workflowType": "rotate", "version": 1, "status": "FAILED",
  "input": {"user": "alice", "apiKey": "k-123", "_secrets": {"seed": "s-1"}},
  "output": {"token": "t-9", "note": "done"},
  "variables": {"v": 1, "_masked": {"m": "kept"}, "_secrets": "var-secret"},
  "tasks": [
    {"taskId": "t1", "referenceTaskName": "login", "taskType": "HTTP", "status": "COMPLETED",
     "inputData": {"_secrets": {"pw": "p-1"}, "uri": "https://x"},
     "outputData": {"_secrets": {"token": "tok-1"}, "deep": [{"_masked": "mm", "_secrets": 5}]}},
    {"taskId": "t2", "referenceTaskName": "use", "taskType": "HTTP", "status": "FAILED",
     "inputData": {"_secrets": {"token": "tok-1"}, "a\/b": {"_secr\u0065ts": null}},
     "outputData": {"_secrets": {"x": "y"}}}
  ]
}`

func TestView(t *testing.T) {
	doc := []byte(runDoc)
	before := string(doc)
	v, err := View(doc, []string{"apiKey", "token"})
	if err != nil {
		t.Fatal(err)
	}
	if string(doc) != before {
		t.Fatal("View modified the document")
	}
	var got map[string]any
	if err := json.Unmarshal(v, &got); err != nil {
		t.Fatalf("view is not JSON: %v", err)
	}
	in := got["input"].(map[string]any)
	if in["apiKey"] != Redacted || in["_secrets"] != Redacted || in["user"] != "alice" {
		t.Errorf("input: %v", in)
	}
	if out := got["output"].(map[string]any); out["token"] != Redacted || out["note"] != "done" {
		t.Errorf("output: %v", out)
	}
	vars := got["variables"].(map[string]any)
	if vars["_masked"] != Redacted || vars["_secrets"] != Redacted || vars["v"] != 1.0 {
		t.Errorf("variables: %v", vars)
	}
	for _, leak := range []string{"s-1", "k-123", "t-9", "kept", "p-1", "tok-1", `"mm"`, "var-secret"} {
		if strings.Contains(string(v), leak) {
			t.Errorf("view shows %s", leak)
		}
	}
	// An escaped key spelling still counts; maskedFields apply only to the
	// top-level input/output objects (tasks[0].outputData.token is not one).
	if !strings.Contains(string(v), `"_secr\u0065ts": "***"`) {
		t.Errorf("escaped _secrets key not redacted: %s", v)
	}
	// Whitespace and number spellings outside redacted values are kept.
	if !strings.Contains(string(v), `"version": 1, "status": "FAILED"`) {
		t.Errorf("formatting changed: %s", v)
	}
}

func TestArchive(t *testing.T) {
	doc := []byte(runDoc)
	arch, err := Archive(doc, []string{"apiKey"})
	if err != nil {
		t.Fatal(err)
	}
	if string(doc) != runDoc {
		t.Fatal("Archive modified the document")
	}
	s := string(arch)
	for _, leak := range []string{"s-1", "k-123", "p-1", "tok-1", "var-secret"} {
		if strings.Contains(s, leak) {
			t.Errorf("archive keeps %s", leak)
		}
	}
	for _, kept := range []string{"kept", `"mm"`, "t-9", "alice"} {
		if !strings.Contains(s, kept) {
			t.Errorf("archive lost %s", kept)
		}
	}
	need := ArchivedSecretsNeeded(arch)
	want := []string{
		"/input/_secrets",
		"/variables/_secrets",
		"/tasks/0/outputData/_secrets",
		"/tasks/0/outputData/deep/0/_secrets",
		"/tasks/1/inputData/_secrets",
		"/tasks/1/inputData/a~1b/_secrets",
	}
	if !reflect.DeepEqual(need, want) {
		t.Errorf("ArchivedSecretsNeeded:\n got %q\nwant %q", need, want)
	}
	if got := ArchivedSecretsNeeded([]byte(runDoc)); len(got) != 0 {
		t.Errorf("unarchived document reported %q", got)
	}
	if got := ArchivedFieldsNeeded(arch, []string{"apiKey", "user"}); !reflect.DeepEqual(got, []string{"/input/apiKey"}) {
		t.Errorf("ArchivedFieldsNeeded: %q", got)
	}
	if ArchivedSecretsNeeded([]byte("{")) != nil {
		t.Error("invalid JSON gave pointers")
	}
}

func TestInvalidJSONErrors(t *testing.T) {
	m := New()
	m.Register("topsecret")
	bad := []string{``, `{`, `{"a":}`, `[1,]`, `{"a" 1}`, `"topsecret`, `01`, `1.`, `1e`, `tru`, `{"a":1}x`, "\"a\x01\"", `"\x"`, `"\u12"`, `{1:2}`, `[1 2]`}
	for _, b := range bad {
		for name, f := range map[string]func([]byte) ([]byte, error){
			"View":     func(d []byte) ([]byte, error) { return View(d, nil) },
			"Archive":  func(d []byte) ([]byte, error) { return Archive(d, nil) },
			"MaskJSON": m.MaskJSON,
		} {
			_, err := f([]byte(b))
			if !errors.Is(err, ErrInvalidJSON) {
				t.Errorf("%s(%q): err = %v, want ErrInvalidJSON", name, b, err)
			}
			if err != nil && strings.Contains(err.Error(), "topsecret") {
				t.Errorf("%s: error quotes input: %v", name, err)
			}
			if json.Valid([]byte(b)) {
				t.Errorf("test case %q is valid JSON", b)
			}
		}
	}
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	if _, err := View([]byte(deep), nil); !errors.Is(err, ErrTooDeep) {
		t.Errorf("deep: %v", err)
	}
}

func TestMaskJSON(t *testing.T) {
	m := New()
	m.RegisterAll(`pa"ss\word`, "12345678", `{"k":"structured-secret"}`, "plainsecret", `{"pin":90817}`)
	doc := `{"a":"pa\"ss\\word","b":"x pa\u0022ss\u005cword y","plainsecret":12345678,` +
		`"n":[12345678, 123456789],"s":{"k":"structured-secret"},"p":[{"pin":90817}],"t":"plainsecret and more","u":"ok"}`
	out, err := m.MaskJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(out) {
		t.Fatalf("invalid output: %s", out)
	}
	var got map[string]any
	json.Unmarshal(out, &got)
	want := map[string]any{
		"a": Redacted, "b": "x *** y", Redacted: Redacted,
		"n": []any{Redacted, Redacted}, "s": map[string]any{"k": Redacted}, "p": []any{Redacted}, "t": "*** and more", "u": "ok",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %s", out)
	}
	clean := []byte(`{"nothing": "here"}`)
	out, err = m.MaskJSON(clean)
	if err != nil || &out[0] != &clean[0] {
		t.Fatalf("unchanged document copied or failed: %v", err)
	}
}

// Task statuses are matched to tasks by position even when a task has no
// status field (it counts as not completed, so its input is needed).
func TestArchivedSecretsNeededStatusAlignment(t *testing.T) {
	arch := []byte(`{"tasks":[{"inputData":{"_secrets":"***"}},` +
		`{"status":"COMPLETED","inputData":{"_secrets":"***"},"outputData":{"_secrets":"***"}},` +
		`{"outputData":{"_secrets":"***"},"status":"FAILED"}],"output":{"_secrets":"***"}}`)
	got := ArchivedSecretsNeeded(arch)
	want := []string{"/tasks/0/inputData/_secrets", "/tasks/1/outputData/_secrets"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
