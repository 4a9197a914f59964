package runstore_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
)

// BenchmarkCommit measures one run's writes as an engine makes them: a
// first write with the definition, then per op a write of the head, the
// task that ended and the one scheduled. On Redis it reports the server's
// own time per write (INFO commandstats of MULTI and EXEC, which includes
// the commands it ran), which a loaded machine's round trips hide.
func BenchmarkCommit(b *testing.B) {
	head := []byte(`{"workflowId":"r1","status":"RUNNING","workflowName":"bench","workflowVersion":1,"createTime":1700000000000,"updateTime":1700000000123,"correlationId":"","ownerApp":"","priority":0,"startTime":1700000000000,"reasonForIncompletion":"","lastRetriedTime":0,"failedReferenceTaskNames":[]}`)
	task := []byte(`{"taskType":"INLINE","status":"COMPLETED","inputData":{"evaluatorType":"expr","expression":"a + 1","a":1},"referenceTaskName":"t1","retryCount":0,"seq":1,"pollCount":0,"taskDefName":"t1","scheduledTime":1700000000000,"startTime":1700000000001,"endTime":1700000000002,"updateTime":1700000000002,"outputData":{"result":2},"taskId":"0b5f1b8e-4a30-4ef9-8a4b-6c7f61b0a1c2"}`)
	for _, kind := range []string{"bolt", "redis"} {
		b.Run("store="+kind, func(b *testing.B) {
			var s runstore.Store
			var c *redis.Client
			switch kind {
			case "bolt":
				bs, err := runstore.OpenBolt(filepath.Join(b.TempDir(), "runs.db"))
				if err != nil {
					b.Fatal(err)
				}
				s = bs
			case "redis":
				addr := redistest.Start(b)
				rs, err := runstore.OpenRedis("redis://" + addr)
				if err != nil {
					b.Fatal(err)
				}
				s = rs
				c = redis.NewClient(&redis.Options{Addr: addr})
				b.Cleanup(func() { c.Close() })
			}
			b.Cleanup(func() { s.Close() })
			if err := s.Commit(ctx, "r1", first("r1")); err != nil {
				b.Fatal(err)
			}
			if c != nil {
				if err := c.ConfigResetStat(ctx).Err(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ch := &runstore.Change{Summary: sum("RUNNING", 1), Head: head, HandOver: true,
					Tasks: []runstore.Task{{Seq: i + 1, Doc: task}, {Seq: i + 2, Doc: task}}}
				if err := s.Commit(ctx, "r1", ch); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if c != nil {
				us, err := serverMicros(c)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(us/float64(b.N), "server-µs/op")
			}
		})
	}
}

// serverMicros is the time the server spent in transactions since its
// stats were reset: MULTI and EXEC (an EXEC's time includes the commands
// it ran, and a script's the commands it called, so they are not added).
func serverMicros(c *redis.Client) (float64, error) {
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, err
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || name != "cmdstat_multi" && name != "cmdstat_exec" {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "usec="); ok {
				n, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return 0, fmt.Errorf("commandstats %q: %w", line, err)
				}
				total += n
			}
		}
	}
	return total, nil
}
