package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"
	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/envvalues"
	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/env"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/tasks"
)

// Conductor's poll-based secret specs (TaskDeclaredSecretsSpec,
// EnvBackedSecretsSpec) against wfrun serve: their definitions, built in
// Groovy, are transcribed under testdata/conductor/transcribed
// (SOURCES.md). As in the specs, secrets are CONDUCTOR_SECRET_<NAME> and
// env values CONDUCTOR_ENV_<NAME> (wfrun's env store and env values with
// Conductor's prefixes, over a fixed environment).

const transcribedDir = "../../testdata/conductor/transcribed/"

// conductorEnvServer is a Conductor server whose secret store and env
// values are the CONDUCTOR_SECRET_ and CONDUCTOR_ENV_ variables of environ.
func conductorEnvServer(t *testing.T, environ ...string) *conductorServer {
	t.Helper()
	st := env.New(env.WithPrefix("CONDUCTOR_SECRET_"), env.WithEnviron(environ))
	runs := runstore.NewMemory()
	logs := &testkit.SyncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(st, server.WithLogger(logger), server.WithConductor(t.TempDir(),
		engine.WithRunStore(runs),
		engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithEnvValues(envvalues.FromEnviron("CONDUCTOR_ENV_", environ)),
		engine.WithSecrets(func(p engine.Principal, project, environment string) interpolate.SecretSource {
			return store.NewRunView(st, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, environment)
		})))
	if err != nil {
		t.Fatal(err)
	}
	hs := serveTest(t, srv)
	return &conductorServer{testServer: &testServer{Server: hs, srv: srv, store: st, logs: logs}, runs: runs}
}

// register registers the transcribed task definition (raw: the Go SDK's
// TaskDef has no runtimeMetadata) and workflow definition (Go SDK).
func (ts *conductorServer) register(t *testing.T, api *client.APIClient, taskDefFile, wfFile string) {
	t.Helper()
	td, err := os.ReadFile(transcribedDir + taskDefFile)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", "["+string(td)+"]"); code != http.StatusOK {
		t.Fatalf("register task definition: %d %s", code, body)
	}
	b, err := os.ReadFile(transcribedDir + wfFile)
	if err != nil {
		t.Fatal(err)
	}
	var def model.WorkflowDef
	if err := json.Unmarshal(b, &def); err != nil {
		t.Fatal(err)
	}
	if resp, err := client.NewMetadataClient(api).RegisterWorkflowDef(context.Background(), true, def); err != nil {
		t.Fatalf("RegisterWorkflowDef: %v (status %d)", err, status(resp))
	}
}

// rawPoll polls one task of name with the raw batch-poll API (the Go SDK's
// Task has no runtimeMetadata), waiting up to 10 s.
func (ts *conductorServer) rawPoll(t *testing.T, name string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		code, ctype, body := ts.do(t, "GET", "/api/tasks/poll/batch/"+name+"?workerid=test-worker&count=1&timeout=500", "")
		if code != http.StatusOK || !strings.HasPrefix(ctype, "application/json") {
			t.Fatalf("poll: %d %s %s", code, ctype, body)
		}
		var got []map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("poll body %q: %v", body, err)
		}
		if len(got) == 1 {
			return got[0]
		}
	}
	t.Fatalf("no %s task was polled within 10s", name)
	return nil
}

// TaskDeclaredSecretsSpec: the task definition declares API_KEY, REGION and
// MISSING_ONE; the polled task's runtimeMetadata has API_KEY from the
// secrets, REGION from the env values, and no MISSING_ONE. The map is not
// stored: a worker echoing a value back has it masked, and neither the
// execution, the stored run nor the log holds the value.
func TestConductorTaskDeclaredSecretsSpec(t *testing.T) {
	const apiKey = "key-123"
	ts := conductorEnvServer(t, "CONDUCTOR_SECRET_API_KEY="+apiKey, "CONDUCTOR_ENV_REGION=us-east-1")
	api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
	ts.register(t, api, "declared_secret_task.json", "declared_secret_wf.json")
	if code, _, body := ts.do(t, "GET", "/api/metadata/taskdefs/declared_secret_task", ""); code != http.StatusOK ||
		!strings.Contains(strings.ReplaceAll(body, " ", ""), `"runtimeMetadata":["API_KEY","REGION","MISSING_ONE"]`) {
		t.Fatalf("the task definition read back: %d %s", code, body)
	}
	ctx := context.Background()
	wc := client.NewWorkflowClient(api)
	wfID, resp, err := wc.StartWorkflowWithRequest(ctx, model.StartWorkflowRequest{Name: "declared_secret_wf", Version: 1, CorrelationId: "declared-secrets-test", Input: map[string]any{}})
	if err != nil || wfID == "" {
		t.Fatalf("start: %q %v (status %d)", wfID, err, status(resp))
	}
	polled := ts.rawPoll(t, "declared_secret_task")
	md, _ := polled["runtimeMetadata"].(map[string]any)
	if md["API_KEY"] != apiKey || md["REGION"] != "us-east-1" || len(md) != 2 {
		t.Fatalf("polled runtimeMetadata %v, want API_KEY and REGION resolved and MISSING_ONE left out", polled["runtimeMetadata"])
	}
	if _, ok := md["MISSING_ONE"]; ok {
		t.Fatal("MISSING_ONE is in runtimeMetadata")
	}
	taskID, _ := polled["taskId"].(string)
	if _, resp, err := client.NewTaskClient(api).UpdateTask(ctx, &model.TaskResult{WorkflowInstanceId: wfID, TaskId: taskID,
		Status: "COMPLETED", OutputData: map[string]any{"usedKey": apiKey}}); err != nil {
		t.Fatalf("UpdateTask: %v (status %d)", err, status(resp))
	}
	st := waitStatus(t, wc, wfID, 10*time.Second)
	if st.Status != "COMPLETED" {
		t.Fatalf("status %s", st.Status)
	}
	_, _, exec := ts.do(t, "GET", "/api/workflow/"+wfID+"?includeTasks=true", "")
	if !strings.Contains(exec, `"usedKey":"***"`) || strings.Contains(exec, "runtimeMetadata\":{") {
		t.Errorf("execution: want the echoed value masked and no runtimeMetadata map:\n%s", exec)
	}
	stored, _, err := ts.runs.Load(ctx, wfID)
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"execution": exec, "stored run": string(stored), "log": ts.logs.String()} {
		if strings.Contains(text, apiKey) {
			t.Errorf("%s holds the declared secret's value", what)
		}
	}
}

// EnvBackedSecretsSpec: ${workflow.env.REGION} resolves when the task is
// scheduled and is stored; ${workflow.secrets.DB_PASSWORD} stays literal
// in the stored input and reaches the polling worker resolved.
func TestConductorEnvBackedSecretsSpec(t *testing.T) {
	const pwd = "s3cr3t"
	ts := conductorEnvServer(t, "CONDUCTOR_SECRET_DB_PASSWORD="+pwd, "CONDUCTOR_ENV_REGION=us-east-1")
	api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
	ts.register(t, api, "echo_task.json", "env_backed_secrets_wf.json")
	ctx := context.Background()
	wc := client.NewWorkflowClient(api)
	wfID, resp, err := wc.StartWorkflowWithRequest(ctx, model.StartWorkflowRequest{Name: "env_backed_secrets_wf", Version: 1, CorrelationId: "env-backed-secrets-test", Input: map[string]any{}})
	if err != nil || wfID == "" {
		t.Fatalf("start: %q %v (status %d)", wfID, err, status(resp))
	}
	// The persisted scheduled task: the secret literal, the env value resolved.
	var scheduled *model.Task
	deadline := time.Now().Add(10 * time.Second)
	for scheduled == nil && time.Now().Before(deadline) {
		wf, _, err := wc.GetExecutionStatus(ctx, wfID, &client.WorkflowResourceApiGetExecutionStatusOpts{IncludeTasks: optional.NewBool(true)})
		if err == nil {
			for i := range wf.Tasks {
				if wf.Tasks[i].Status == "SCHEDULED" {
					scheduled = &wf.Tasks[i]
				}
			}
		}
		if scheduled == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if scheduled == nil {
		t.Fatal("no SCHEDULED task")
	}
	if scheduled.InputData["pwd"] != "${workflow.secrets.DB_PASSWORD}" || scheduled.InputData["region"] != "us-east-1" {
		t.Fatalf("stored input %v: want pwd literal and region resolved", scheduled.InputData)
	}
	stored, _, err := ts.runs.Load(ctx, wfID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(stored), `${workflow.secrets.DB_PASSWORD}`) || !strings.Contains(string(stored), "us-east-1") || strings.Contains(string(stored), pwd) {
		t.Fatalf("stored run: want the literal reference and the env value, not the secret:\n%s", stored)
	}
	// A worker polls the task (Go SDK): the secret is resolved for it.
	got, resp, err := client.NewTaskClient(api).BatchPoll(ctx, "echo_task", &client.TaskResourceApiBatchPollOpts{
		Workerid: optional.NewString("test-worker"), Count: optional.NewInt32(1), Timeout: optional.NewInt32(5000)})
	if err != nil || len(got) != 1 {
		t.Fatalf("BatchPoll: %v %v (status %d)", got, err, status(resp))
	}
	if got[0].InputData["pwd"] != pwd || got[0].InputData["region"] != "us-east-1" {
		t.Fatalf("polled input %v: want pwd and region resolved", got[0].InputData)
	}
	ts.assertNoLeak(t, pwd)
}

// Task-declared secrets across serve processes sharing a Redis: the process
// executing the run offers the task sealed through the boundary (with its
// resolved input and declared values), a poll on another process opens it
// and hands the worker the runtimeMetadata. Redis holds neither value in
// clear, and a blob copied under another task's key is handed to no worker
// (ExampleTransit shows the binding to the id on its own).
func TestSharedQueueTaskDeclaredSecrets(t *testing.T) {
	const apiKey, pwd = "key-shared-7731", "pw-shared-5520"
	st := memory.New()
	for name, v := range map[string]string{"API_KEY": apiKey, "DB_PASSWORD": pwd} {
		putSecret(t, st, name, v)
	}
	ss := newSharedServers(t,
		engine.WithEnvValues(envvalues.FromEnviron("CONDUCTOR_ENV_", []string{"CONDUCTOR_ENV_REGION=us-east-1"})),
		engine.WithSecrets(func(p engine.Principal, project, environment string) interpolate.SecretSource {
			return store.NewRunView(st, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, environment)
		}))
	a, _ := ss.start(t)
	b, _ := ss.start(t)
	td, err := os.ReadFile(transcribedDir + "declared_secret_task.json")
	if err != nil {
		t.Fatal(err)
	}
	if code, _, body := a.do(t, "POST", "/api/metadata/taskdefs", "["+string(td)+"]"); code != 200 {
		t.Fatalf("register task definition: %d %s", code, body)
	}
	def := `{"name":"declared_shared","version":1,"tasks":[{"name":"declared_secret_task","taskReferenceName":"declared_secret_task_ref","type":"SIMPLE","inputParameters":{"pwd":"${workflow.secrets.DB_PASSWORD}"}}]}`
	if code, _, body := a.do(t, "POST", "/api/metadata/workflow", def); code != 200 {
		t.Fatalf("register: %d %s", code, body)
	}
	_, _, id := a.do(t, "POST", "/api/workflow/declared_shared", `{}`)
	rc := redis.NewClient(&redis.Options{Addr: ss.addr})
	defer rc.Close()
	ctx := context.Background()
	var keys []string
	for deadline := time.Now().Add(10 * time.Second); len(keys) == 0; time.Sleep(20 * time.Millisecond) {
		if keys, _ = rc.Keys(ctx, "wfrun:{wfrun-queue}:task:*").Result(); time.Now().After(deadline) {
			t.Fatal("the task was never offered")
		}
	}
	blob, err := rc.HGet(ctx, keys[0], "blob").Result()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(blob, apiKey) || strings.Contains(blob, pwd) || strings.Contains(blob, "runtimeMetadata") || strings.Contains(blob, "RuntimeMetadata") {
		t.Fatal("the shared queue holds the task in clear")
	}
	// The same blob under another task id (a decoy pending entry, first in
	// line) is not handed out.
	decoy := "wfrun:{wfrun-queue}:task:decoy-task"
	if err := rc.HSet(ctx, decoy, "blob", blob, "owner", "nobody", "name", "declared_secret_task", "state", "pending").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.ZAdd(ctx, "wfrun:{wfrun-queue}:pending:declared_secret_task", redis.Z{Score: -1, Member: "decoy-task"}).Err(); err != nil {
		t.Fatal(err)
	}
	var polled map[string]any
	for deadline := time.Now().Add(10 * time.Second); polled == nil && time.Now().Before(deadline); {
		_, _, body := b.do(t, "GET", "/api/tasks/poll/batch/declared_secret_task?workerid=wb&count=5&timeout=500", "")
		var batch []map[string]any
		if err := json.Unmarshal([]byte(body), &batch); err != nil {
			t.Fatalf("poll on B: %s", body)
		}
		for _, task := range batch {
			if task["taskId"] == "decoy-task" {
				t.Fatal("B handed out a blob copied under another task id")
			}
			polled = task
		}
	}
	if polled == nil {
		t.Fatal("B handed out no task of A's run")
	}
	md, _ := polled["runtimeMetadata"].(map[string]any)
	in, _ := polled["inputData"].(map[string]any)
	if md["API_KEY"] != apiKey || md["REGION"] != "us-east-1" || len(md) != 2 || in["pwd"] != pwd || polled["workflowInstanceId"] != id {
		t.Fatalf("task as B hands it out: %v", polled)
	}
	upd, _ := json.Marshal(map[string]any{"taskId": polled["taskId"], "workflowInstanceId": id, "status": "COMPLETED",
		"outputData": map[string]any{"echo": apiKey + " " + pwd}})
	if code, _, body := b.do(t, "POST", "/api/tasks", string(upd)); code != 200 {
		t.Fatalf("update through B: %d %s", code, body)
	}
	view := waitView(t, a, id, `"status":"COMPLETED","taskToDomain"`)
	if !strings.Contains(view, `"echo":"*** ***"`) || strings.Contains(view, apiKey) || strings.Contains(view, pwd) {
		t.Fatalf("run view: want the echoed values masked:\n%s", view)
	}
}
