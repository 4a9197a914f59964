package engine_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/tasks"
)

// A task definition's runtimeMetadata (Conductor's TaskDef.runtimeMetadata):
// the worker gets each declared name resolved — a remote worker at its poll,
// a local WorkerFunc through engine.RuntimeMetadata — secrets first (as the
// run's principal), then env values; a missing name is left out, a
// forbidden one fails the task unless an env value has it, an expired
// secret fails it; the values reach the worker only, are registered with
// the run's masker (a worker echoing one back has it masked) and are in no
// stored record. Every read is audited with the run id and the task ref.
func TestRuntimeMetadata(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	for _, tc := range []struct {
		name       string
		declared   []string
		scopes     []string
		env        map[string]string
		wantMeta   map[string]string
		wantStatus string
		wantReason string
	}{
		{name: "secret, env value, missing omitted", declared: []string{"API_KEY", "REGION", "MISSING_ONE"},
			env: map[string]string{"REGION": `"us-east-1"`}, wantMeta: map[string]string{"API_KEY": "key-123-abc", "REGION": "us-east-1"}, wantStatus: engine.StatusCompleted},
		{name: "a secret wins over an env value", declared: []string{"API_KEY"},
			env: map[string]string{"API_KEY": `"not-this"`}, wantMeta: map[string]string{"API_KEY": "key-123-abc"}, wantStatus: engine.StatusCompleted},
		{name: "JSON secret as compact JSON", declared: []string{"DB"},
			wantMeta: map[string]string{"DB": `{"user":"app","password":"pw-json-4242"}`}, wantStatus: engine.StatusCompleted},
		{name: "nothing resolves: no map", declared: []string{"MISSING_ONE"}, wantStatus: engine.StatusCompleted},
		{name: "forbidden, env value", declared: []string{"REGION"}, scopes: []string{"secrets:get:other/*"},
			env: map[string]string{"REGION": `"eu-west-1"`}, wantMeta: map[string]string{"REGION": "eu-west-1"}, wantStatus: engine.StatusCompleted},
		{name: "forbidden existing secret fails", declared: []string{"API_KEY"}, scopes: []string{"secrets:get:other/*"},
			wantStatus: engine.StatusFailed, wantReason: `task definition's runtimeMetadata "API_KEY": ` + store.ErrForbidden.Error()},
		{name: "forbidden missing secret fails the same way", declared: []string{"MISSING_ONE"}, scopes: []string{"secrets:get:other/*"},
			wantStatus: engine.StatusFailed, wantReason: `task definition's runtimeMetadata "MISSING_ONE": ` + store.ErrForbidden.Error()},
		{name: "expired fails", declared: []string{"OLD"},
			wantStatus: engine.StatusFailed, wantReason: `task definition's runtimeMetadata "OLD": secret "OLD": ` + store.ErrExpired.Error()},
	} {
		for _, kind := range []string{"remote", "local"} {
			t.Run(tc.name+"/"+kind, func(t *testing.T) {
				st := memory.New(memory.WithClock(clock))
				ctx := context.Background()
				for name, v := range map[string]string{"API_KEY": `"key-123-abc"`, "DB": `{"user":"app","password":"pw-json-4242"}`} {
					if _, err := st.Put(ctx, &store.Secret{Name: name, Value: json.RawMessage(v)}); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := st.Put(ctx, &store.Secret{Name: "OLD", Value: json.RawMessage(`"old-value-77"`), Expires: now.Add(-time.Minute)}); err == nil {
					// A store that refuses an expiry in the past: write it valid
					// and let it expire.
				} else if _, err := st.Put(ctx, &store.Secret{Name: "OLD", Value: json.RawMessage(`"old-value-77"`), Expires: now.Add(time.Minute)}); err != nil {
					t.Fatal(err)
				}
				now = now.Add(2 * time.Minute)
				values := interpolate.MapValues{}
				for k, v := range tc.env {
					values[k] = json.RawMessage(v)
				}
				defs := engine.NewTaskDefs()
				if err := defs.Put(&engine.TaskDef{Name: "declared_task", RuntimeMetadata: tc.declared}); err != nil {
					t.Fatal(err)
				}
				var mu sync.Mutex
				var got map[string]string
				runs := runstore.NewMemory()
				engineOpts := []engine.Option{
					engine.WithRegistry(tasks.NewDefaultRegistry()),
					engine.WithRunStore(runs),
					engine.WithTaskDefs(defs),
					engine.WithEnvValues(values),
					engine.WithSecrets(func(p engine.Principal, project, environment string) interpolate.SecretSource {
						return store.NewRunView(st, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, environment)
					}),
				}
				echo := func(md map[string]string) json.RawMessage {
					mu.Lock()
					got = md
					mu.Unlock()
					out, _ := json.Marshal(map[string]any{"echo": md})
					return out
				}
				if kind == "remote" {
					engineOpts = append(engineOpts, engine.WithRemoteWorker(func(ctx context.Context, rt engine.RemoteTask) tasks.Result {
						_, md, err := rt.Resolve(ctx)
						if err != nil {
							return tasks.Result{Status: tasks.FailedTerminal, Reason: err.Error()}
						}
						return tasks.Result{Status: tasks.Completed, Output: echo(md)}
					}))
				} else {
					engineOpts = append(engineOpts, engine.WithWorker("declared_task", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
						return echo(engine.RuntimeMetadata(ctx)), nil
					}))
				}
				e, err := engine.New(engineOpts...)
				if err != nil {
					t.Fatal(err)
				}
				d, err := e.Parse([]byte(`{"name":"declared_wf","version":1,"tasks":[{"name":"declared_task","taskReferenceName":"declared_ref","type":"SIMPLE"}]}`))
				if err != nil {
					t.Fatal(err)
				}
				var opts []engine.RunOption
				if tc.scopes != nil {
					opts = append(opts, engine.AsPrincipal(engine.Principal{Name: "app-restricted", Scopes: tc.scopes}))
				}
				res, err := e.Start(ctx, d, json.RawMessage(`{}`), opts...)
				if err != nil {
					t.Fatal(err)
				}
				wf := viewRun(t, e, res.RunID)
				if wf.Status != tc.wantStatus || !strings.Contains(wf.Reason, tc.wantReason) {
					t.Fatalf("%s %q, want %s %q", wf.Status, wf.Reason, tc.wantStatus, tc.wantReason)
				}
				mu.Lock()
				defer mu.Unlock()
				if tc.wantStatus == engine.StatusCompleted && !reflect.DeepEqual(got, tc.wantMeta) {
					t.Fatalf("runtimeMetadata %v, want %v", got, tc.wantMeta)
				}
				stored, _, err := runs.Load(ctx, res.RunID)
				if err != nil {
					t.Fatal(err)
				}
				shown, _ := json.Marshal(wf)
				for _, v := range []string{"key-123-abc", "pw-json-4242", "old-value-77"} {
					if strings.Contains(string(stored)+string(shown), v) {
						t.Errorf("secret value %q is in the stored or shown run", v)
					}
				}
				if strings.Contains(string(stored), `"runtimeMetadata":{`) || strings.Contains(string(stored), `"RuntimeMetadata"`) {
					t.Errorf("the stored run keeps the runtimeMetadata map")
				}
				if tc.wantStatus == engine.StatusCompleted && got["API_KEY"] != "" {
					echo, _ := json.Marshal(wf.Tasks[0].Output["echo"])
					if !strings.Contains(string(echo), `"API_KEY":"***"`) {
						t.Errorf("a worker echoing the value back: output %s, want it masked", echo)
					}
				}
				// By name: a name no secret holds is audited by its
				// fingerprint, which the name filter matches.
				evs, err := st.ReadAudit(ctx, store.AuditFilter{Run: res.RunID, Name: tc.declared[0]})
				if err != nil {
					t.Fatal(err)
				}
				read := false
				for _, ev := range evs {
					read = read || ev.Task == "declared_ref"
				}
				if !read {
					t.Errorf("audit of run %s has no read of %s by task declared_ref: %+v", res.RunID, tc.declared[0], evs)
				}
			})
		}
	}
}

// A task definition naming something that is not a secret name is refused
// when it is registered, naming the definition and the entry.
func TestRuntimeMetadataNamesValidated(t *testing.T) {
	_, err := engine.ParseTaskDefs([]byte(`{"name":"t","runtimeMetadata":["OK","bad name"]}`))
	if err == nil || !strings.Contains(err.Error(), `"t": runtimeMetadata[1]`) {
		t.Fatalf("err %v", err)
	}
	defs, err := engine.ParseTaskDefs([]byte(`{"name":"t","runtimeMetadata":["API_KEY","project/app/token"]}`))
	if err != nil || len(defs) != 1 || !reflect.DeepEqual(defs[0].RuntimeMetadata, []string{"API_KEY", "project/app/token"}) {
		t.Fatalf("%v %v", defs, err)
	}
	// A file in a task-definitions directory that only declares names is a
	// task definition.
	dir := t.TempDir()
	if err := writeFile(dir+"/t.json", `{"name":"only_declares","runtimeMetadata":["API_KEY"]}`); err != nil {
		t.Fatal(err)
	}
	reg := engine.NewTaskDefs()
	if err := reg.LoadDir(dir); err != nil {
		t.Fatal(err)
	}
	if d, ok := reg.TaskDef("only_declares"); !ok || !reflect.DeepEqual(d.RuntimeMetadata, []string{"API_KEY"}) {
		t.Fatalf("loaded %+v %v", d, ok)
	}
}
