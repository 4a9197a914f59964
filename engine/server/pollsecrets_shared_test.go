package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
)

// redisText is everything Redis holds (keys and values of every type), as
// text, to look for values in clear.
func redisText(t *testing.T, rc *redis.Client) string {
	t.Helper()
	ctx := context.Background()
	keys, err := rc.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "\n")
		switch rc.Type(ctx, k).Val() {
		case "string":
			b.WriteString(rc.Get(ctx, k).Val())
		case "hash":
			for f, v := range rc.HGetAll(ctx, k).Val() {
				b.WriteString(f + "=" + v + "\n")
			}
		case "list":
			b.WriteString(strings.Join(rc.LRange(ctx, k, 0, -1).Val(), "\n"))
		case "set":
			b.WriteString(strings.Join(rc.SMembers(ctx, k).Val(), "\n"))
		case "zset":
			b.WriteString(strings.Join(rc.ZRange(ctx, k, 0, -1).Val(), "\n"))
		case "stream":
			for _, m := range rc.XRange(ctx, k, "-", "+").Val() {
				raw, _ := json.Marshal(m.Values)
				b.Write(raw)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// sharedRotating starts two serve processes on one Redis sharing the
// secret store st, registers rotating_wf and starts it on A; it returns
// both, the run id, the id of the task offered in the shared queue and a
// Redis client.
func sharedRotating(t *testing.T, st store.Store) (a, b *testServer, ss *sharedServers, id, taskID string, rc *redis.Client) {
	t.Helper()
	ss = newSharedServers(t, engine.WithSecrets(func(p engine.Principal, project, environment string) interpolate.SecretSource {
		return store.NewRunView(st, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, environment)
	}))
	a, _ = ss.start(t)
	b, _ = ss.start(t)
	if code, _, body := a.do(t, "POST", "/api/metadata/taskdefs", rotatingTaskDef); code != 200 {
		t.Fatalf("register task definition: %d %s", code, body)
	}
	if code, _, body := a.do(t, "POST", "/api/metadata/workflow", rotatingWf); code != 200 {
		t.Fatalf("register workflow: %d %s", code, body)
	}
	_, _, id = a.do(t, "POST", "/api/workflow/rotating_wf", `{"who":"ada"}`)
	rc = redis.NewClient(&redis.Options{Addr: ss.addr})
	t.Cleanup(func() { _ = rc.Close() })
	for deadline := time.Now().Add(10 * time.Second); taskID == ""; time.Sleep(20 * time.Millisecond) {
		keys, _ := rc.Keys(context.Background(), "wfrun:{wfrun-queue}:task:*").Result()
		if len(keys) == 1 {
			taskID = strings.TrimPrefix(keys[0], "wfrun:{wfrun-queue}:task:")
		}
		if time.Now().After(deadline) {
			t.Fatal("the task was never offered")
		}
	}
	return a, b, ss, id, taskID, rc
}

// pollOn polls rotating_task on s until it answers a task or within is
// over (then nil).
func pollOn(t *testing.T, s *testServer, within time.Duration) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); {
		_, _, body := s.do(t, "GET", "/api/tasks/poll/batch/rotating_task?workerid=wb&count=3&timeout=300", "")
		var batch []map[string]any
		if err := json.Unmarshal([]byte(body), &batch); err != nil {
			t.Fatalf("poll: %s", body)
		}
		if len(batch) > 0 {
			return batch[0]
		}
	}
	return nil
}

// TestSharedQueueResolvesAtPoll: with serve processes sharing a Redis, a
// task of A's run polled on B gets the values of when B's poll took it: A
// resolves them then, through the run's boundary (audited for the run and
// task at that time, registered with A's run masker), and hands them to
// B's poll. While the task waits, Redis holds no value of it — neither in
// clear anywhere nor sealed in the task's entry — and after the poll no
// hand-off is left behind. The worker's echo is masked in A's run.
func TestSharedQueueResolvesAtPoll(t *testing.T) {
	const oldV, newV, onlyV = "tok-shared-old-Wq5Ej9", "tok-shared-new-Ko3Mz6", "only-shared-Dn4Bv8"
	st := memory.New()
	putSecret(t, st, "TOKEN", oldV)
	putSecret(t, st, "ONLY", onlyV)
	a, b, ss, id, taskID, rc := sharedRotating(t, st)
	ctx := context.Background()

	before := redisText(t, rc)
	if strings.Contains(before, oldV) || strings.Contains(before, onlyV) {
		t.Fatal("Redis holds the secret in clear while the task waits")
	}
	blob, err := rc.HGet(ctx, "wfrun:{wfrun-queue}:task:"+taskID, "blob").Result()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := runsecrets.NewTransit(ss.ring)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := tr.Open([]byte(blob), "shared queue task", taskID+"\x00rotating_task")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plain), oldV) || strings.Contains(string(plain), onlyV) {
		t.Fatalf("the task's entry in Redis holds the secret (sealed) while it waits for a poll: %s", plain)
	}
	if reads := tokenReads(t, st, id); len(reads) != 0 {
		t.Fatalf("TOKEN was read while the task waited for a worker: %+v", reads)
	}

	time.Sleep(30 * time.Millisecond)
	rotated := time.Now()
	putSecret(t, st, "TOKEN", newV)
	polled := pollOn(t, b, 10*time.Second)
	if polled == nil {
		t.Fatal("B handed out no task of A's run")
	}
	in, _ := polled["inputData"].(map[string]any)
	md, _ := polled["runtimeMetadata"].(map[string]any)
	if polled["workflowInstanceId"] != id || polled["taskId"] != taskID || in["auth"] != "Bearer "+newV ||
		in["kept"] != "$<workflow.secrets.TOKEN>" || in["only"] != onlyV || md["TOKEN"] != newV {
		t.Fatalf("task as B hands it out: %v", polled)
	}
	reads := tokenReads(t, st, id)
	if len(reads) == 0 {
		t.Fatal("no audited read of TOKEN for the run")
	}
	for _, e := range reads {
		if e.Task != "rotating_ref" || e.Version != 2 || e.Time.Before(rotated.Truncate(time.Millisecond)) {
			t.Errorf("audited read %+v: want task rotating_ref, version 2, at the poll", e)
		}
	}
	after := redisText(t, rc)
	if strings.Contains(after, newV) || strings.Contains(after, oldV) || strings.Contains(after, onlyV) {
		t.Fatal("Redis holds the secret in clear after the poll")
	}
	if keys, _ := rc.Keys(ctx, "wfrun:{wfrun-queue}:handoff:*").Result(); len(keys) != 0 {
		t.Fatalf("hand-offs left in Redis after the poll: %v", keys)
	}
	waitView(t, a, id, `"status":"IN_PROGRESS"`)

	upd, _ := json.Marshal(map[string]any{"taskId": taskID, "workflowInstanceId": id, "status": "COMPLETED",
		"outputData": map[string]any{"echo": "got " + newV, "only": "and " + onlyV}})
	if code, _, body := b.do(t, "POST", "/api/tasks", string(upd)); code != 200 {
		t.Fatalf("update through B: %d %s", code, body)
	}
	view := waitView(t, a, id, `"status":"COMPLETED","taskToDomain"`)
	if !strings.Contains(view, `"echo":"got ***"`) || !strings.Contains(view, `"only":"and ***"`) || strings.Contains(view, newV) || strings.Contains(view, onlyV) {
		t.Fatalf("run view: want the echoed value masked:\n%s", view)
	}
	a.assertNoLeak(t, oldV, newV, onlyV)
	b.assertNoLeak(t, oldV, newV, onlyV)
}

// TestSharedQueueHandOffFailure: the secret is deleted while the task
// waits; B's poll takes it, A cannot resolve it and fails the task with
// the reason; B's poll hands it to nobody and the run fails.
func TestSharedQueueHandOffFailure(t *testing.T) {
	st := memory.New()
	putSecret(t, st, "TOKEN", "tok-gone-Lp2Xc7")
	putSecret(t, st, "ONLY", "only-gone-Lp2Xc7")
	a, b, _, id, _, rc := sharedRotating(t, st)
	if err := st.Delete(context.Background(), "TOKEN"); err != nil {
		t.Fatal(err)
	}
	if polled := pollOn(t, b, 2*time.Second); polled != nil {
		t.Fatalf("B handed out a task whose secret is gone: %v", polled)
	}
	view := waitView(t, a, id, `"status":"FAILED"`)
	if !strings.Contains(view, `FAILED_WITH_TERMINAL_ERROR`) || !strings.Contains(view, `secret \"TOKEN\": cannot be resolved`) {
		t.Fatalf("run view: want the task failed naming TOKEN:\n%s", view)
	}
	if keys, _ := rc.Keys(context.Background(), "wfrun:{wfrun-queue}:task:*").Result(); len(keys) != 0 {
		t.Fatalf("tasks left in the shared queue: %v", keys)
	}
}

// TestSharedQueueEntryStaysInItsQueue: Redis is storage, not trusted. A
// task's id moved from its type's pending set into another type's is not
// handed to a worker polling that other type: the entry is sealed bound
// to its queue, the poll refuses it, and the run's secrets are never read
// for it.
func TestSharedQueueEntryStaysInItsQueue(t *testing.T) {
	const tokV, onlyV = "tok-moved-Hs8Lq2", "only-moved-Vc7Nw1"
	st := memory.New()
	putSecret(t, st, "TOKEN", tokV)
	putSecret(t, st, "ONLY", onlyV)
	a, b, _, id, taskID, rc := sharedRotating(t, st)
	ctx := context.Background()
	from, to := "wfrun:{wfrun-queue}:pending:rotating_task", "wfrun:{wfrun-queue}:pending:other_task"
	score, err := rc.ZScore(ctx, from, taskID).Result()
	if err != nil {
		t.Fatalf("the task is not pending in its queue: %v", err)
	}
	if err := rc.ZRem(ctx, from, taskID).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.ZAdd(ctx, to, redis.Z{Score: score, Member: taskID}).Err(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*testServer{b, a} {
		_, _, body := s.do(t, "GET", "/api/tasks/poll/batch/other_task?workerid=wx&count=3&timeout=500", "")
		if body != "[]" {
			t.Fatalf("a poll of other_task got a task moved into its queue: %s", body)
		}
	}
	if reads := tokenReads(t, st, id); len(reads) != 0 {
		t.Fatalf("TOKEN was read for a task polled from another queue: %+v", reads)
	}
	if !strings.Contains(b.logs.String(), "does not open in the queue it was polled from") && !strings.Contains(a.logs.String(), "does not open in the queue it was polled from") {
		t.Error("no log line says a moved entry was refused")
	}
	a.assertNoLeak(t, tokV, onlyV)
	b.assertNoLeak(t, tokV, onlyV)
}
