package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	bbolt "go.etcd.io/bbolt"

	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/store"
)

// editAudit changes the outcome of audit record seq in place, the way
// someone with write access to the storage could.
type auditEditor func(t *testing.T, seq int, edit func(map[string]any))

func boltAuditEditor(home string) auditEditor {
	return func(t *testing.T, seq int, edit func(map[string]any)) {
		t.Helper()
		db, err := bbolt.Open(filepath.Join(home, "secrets.db"), 0o600, &bbolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		err = db.Update(func(tx *bbolt.Tx) error {
			b := tx.Bucket([]byte("records"))
			k := []byte(auditKey(seq))
			var rec map[string]any
			if err := json.Unmarshal(b.Get(k), &rec); err != nil {
				return err
			}
			edit(rec)
			data, _ := json.Marshal(rec)
			return b.Put(k, data)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func redisAuditEditor(addr string) auditEditor {
	return func(t *testing.T, seq int, edit func(map[string]any)) {
		t.Helper()
		ctx := context.Background()
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		const stream = "{wfrun}:audit"
		msgs, err := c.XRange(ctx, stream, "-", "+").Result()
		if err != nil || len(msgs) < seq {
			t.Fatalf("audit stream: %d entries, %v", len(msgs), err)
		}
		// A stream cannot be edited in place: rewrite it whole.
		if err := c.Del(ctx, stream).Err(); err != nil {
			t.Fatal(err)
		}
		for i, m := range msgs {
			v := m.Values["r"].(string)
			if i == seq-1 {
				var rec map[string]any
				if err := json.Unmarshal([]byte(v), &rec); err != nil {
					t.Fatal(err)
				}
				edit(rec)
				b, _ := json.Marshal(rec)
				v = string(b)
			}
			if err := c.XAdd(ctx, &redis.XAddArgs{Stream: stream, ID: m.ID, Values: []string{"r", v}}).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func auditKey(seq int) string { return "a/" + strings.Repeat("0", 15) + string(rune('0'+seq)) }

// audit ls shows every operation without a value; audit verify passes on
// an untouched store and fails, naming the record, after an edit.
func TestAuditLsAndVerify(t *testing.T) {
	for _, backend := range []string{"bolt", "redis"} {
		t.Run(backend, func(t *testing.T) {
			home := cliEnv(t)
			editor := boltAuditEditor(home)
			if backend == "redis" {
				addr := redistest.Start(t)
				t.Setenv("WFRUN_STORE", "redis://"+addr)
				editor = redisAuditEditor(addr)
			}
			mustRun(t, "", "secret", "set", "tok", "--value", "audit-cli-value-1")
			mustRun(t, "", "secret", "get", "tok", "--reveal")
			mustRun(t, "", "secret", "set", "other", "--value", "audit-cli-value-2")
			mustRun(t, "", "secret", "rm", "other")
			out := mustRun(t, "", "audit", "ls", "--name", "tok", "-o", "json")
			if strings.Contains(out, "audit-cli-value") {
				t.Fatalf("audit ls shows a value: %s", out)
			}
			var evs []store.AuditEvent
			if err := json.Unmarshal([]byte(out), &evs); err != nil {
				t.Fatalf("audit ls -o json: %v: %s", err, out)
			}
			if len(evs) != 2 || evs[0].Op != store.OpSet || evs[1].Op != store.OpGet || evs[1].Version != 1 ||
				evs[1].Principal != "local" || evs[1].Outcome != store.OutcomeAllowed || evs[1].Seq != 2 {
				t.Fatalf("audit ls --name tok: %+v", evs)
			}
			table := mustRun(t, "", "audit", "ls")
			for _, want := range []string{"SEQ", "OUTCOME", "delete", "other"} {
				if !strings.Contains(table, want) {
					t.Errorf("audit ls table lacks %q:\n%s", want, table)
				}
			}
			if got := mustRun(t, "", "audit", "verify"); !strings.HasPrefix(got, "audit trail verified: ") {
				t.Fatalf("verify untouched: %q", got)
			}
			editor(t, 2, func(r map[string]any) { r["principal"] = "someone-else" })
			out, errOut, code := wfrun(t, "", "audit", "verify")
			want := `wfrun: audit trail does not verify: record 2 (a/0000000000000002) (seq 2, get "tok"): its content was edited` + "\n"
			if code != 1 || out != "" || errOut != want {
				t.Fatalf("verify after an edit: exit %d, stdout %q, stderr %q; want exit 1 and %q", code, out, errOut, want)
			}
		})
	}
}

// A run's secret reads are in the trail with the run id and the task ref
// (its start's, with the run id).
func TestAuditRecordsRunReads(t *testing.T) {
	cliEnv(t)
	mustRun(t, "", "secret", "set", "api_token", "--value", "audit-run-token-77")
	_, errOut, code := wfrun(t, "", "run", workflows+"secret_echo.json")
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	m := regexp.MustCompile(`run ([0-9a-f-]{36})`).FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("no run id in %q", errOut)
	}
	out := mustRun(t, "", "audit", "ls", "--run", m[1], "-o", "json")
	if strings.Contains(out, "audit-run-token-77") {
		t.Fatal("audit trail holds the value")
	}
	var evs []store.AuditEvent
	if err := json.Unmarshal([]byte(out), &evs); err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		t.Fatalf("no audit record for run %s: %s", m[1], mustRun(t, "", "audit", "ls"))
	}
	tasks := map[string]int{}
	for _, e := range evs {
		// The task's read, and the run's start's (no task): it checks that
		// the definition holds no value of a secret it names.
		if e.Op != store.OpGet || e.Name != "api_token" || e.Run != m[1] || (e.Task != "use_token" && e.Task != "") || e.Outcome != store.OutcomeAllowed || e.Version != 1 {
			t.Fatalf("run read record: %+v", e)
		}
		tasks[e.Task]++
	}
	if tasks["use_token"] == 0 || tasks[""] != 1 {
		t.Fatalf("run read records by task: %v", tasks)
	}
	mustRun(t, "", "audit", "verify")
}
