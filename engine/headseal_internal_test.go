package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/runsecrets"
)

// withSealedHead returns doc, a stored run document a test wrote by hand,
// with the definition hash and head seal a run e wrote would carry: its
// workflowDefinition (compact JSON) is hashed as stored.
func withSealedHead(t *testing.T, e *Engine, id string, doc string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	if m["workflowDefinition"] == nil {
		m["workflowDefinition"] = json.RawMessage(`{"name":"test","tasks":[]}`)
	}
	m["definitionHash"], _ = json.Marshal(defHash(m["workflowDefinition"]))
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var d runDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	sec, err := runsecrets.New(id, nil, e.keyring)
	if err != nil {
		t.Fatal(err)
	}
	seal, err := sec.Attest(headSealPointer, headAttested(appendHeadStatic(nil, &d.runHead), headSealedMembers(&d.runHead), d.RunLogLength))
	if err != nil {
		t.Fatal(err)
	}
	m["headSeal"], _ = json.Marshal(seal)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	return b
}

// A stored definition that is not the one the head's hash names (the
// definitions part rewritten in place, its key kept) is refused, and so is a
// head naming no hash; the hash is checked after the seal.
func TestCheckHeadComparesTheDefinitionWithItsHash(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	doc := withSealedHead(t, e, "r1", `{"workflowId":"r1","status":"RUNNING","principal":{"name":"ci","scopes":["secrets:get:a"]},
		"workflowDefinition":{"name":"d","tasks":[]}}`)
	load := func(edit func(d *runDoc)) error {
		var d runDoc
		if err := json.Unmarshal(doc, &d); err != nil {
			t.Fatal(err)
		}
		edit(&d)
		return e.checkHead("r1", &d)
	}
	if err := load(func(*runDoc) {}); err != nil {
		t.Fatalf("intact head: %v", err)
	}
	if err := load(func(d *runDoc) { d.WorkflowDefinition = json.RawMessage(`{"name":"d","tasks":[{"name":"x"}]}`) }); !errors.Is(err, ErrHeadNotAuthentic) {
		t.Fatalf("definition rewritten under its hash: %v", err)
	}
	if err := load(func(d *runDoc) { d.DefinitionHash = "" }); !errors.Is(err, ErrHeadNotAuthentic) {
		t.Fatalf("no hash: %v", err)
	}
	other, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var d runDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	if err := other.checkHead("r1", &d); !errors.Is(err, ErrHeadNotAuthentic) || !strings.Contains(err.Error(), "WithKeyring") {
		t.Fatalf("another engine's own keyring: %v", err)
	}
}

// An ended run is authenticated before a restart or retry changes
// anything: one whose scopes were widened after it ended is refused, the
// same run intact restarts.
func TestEndedRunHeadIsAuthenticatedBeforeRestart(t *testing.T) {
	ctx := context.Background()
	for _, edited := range []bool{false, true} {
		rs := runstore.NewMemory()
		e, err := New(WithRunStore(rs))
		if err != nil {
			t.Fatal(err)
		}
		def := `{"name":"ended","tasks":[{"name":"t","taskReferenceName":"t","type":"SET_VARIABLE","inputParameters":{"x":1}}]}`
		doc := withSealedHead(t, e, "ended-1", `{"workflowId":"ended-1","workflowType":"ended","version":1,"status":"FAILED","schemaVersion":2,
			"principal":{"name":"ci","scopes":["secrets:get:a"]},"nextSeq":0,"input":{},"output":{},"variables":{},"tasks":[],"workflowDefinition":`+def+`}`)
		if edited {
			doc = bytes.Replace(doc, []byte(`"scopes":["secrets:get:a"]`), []byte(`"scopes":["*"]`), 1)
		}
		if err := rs.Archive(ctx, "ended-1", doc, runstore.Summary{WorkflowType: "ended", Status: StatusFailed}); err != nil {
			t.Fatal(err)
		}
		res, err := e.Restart(ctx, "ended-1", true)
		if edited {
			if !errors.Is(err, ErrHeadNotAuthentic) {
				t.Fatalf("restart of an edited head: %v %+v", err, res)
			}
			if _, err := e.Retry(ctx, "ended-1", false); !errors.Is(err, ErrHeadNotAuthentic) {
				t.Fatalf("retry of an edited head: %v", err)
			}
			continue
		}
		if err != nil || res.Status != StatusCompleted {
			t.Fatalf("restart: %v %+v", err, res)
		}
	}
}
