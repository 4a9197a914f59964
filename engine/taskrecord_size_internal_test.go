package engine

import (
	"runtime"
	"testing"
	"unsafe"
)

// taskRecordSize: every task of a run allocates one taskRecord, so the
// size class it lands in is paid per task (BenchmarkRun, chain/tasks=1000:
// one int64 more, Postponed, took it from 768 to 896 bytes, 128 B a task).
// Keep it within 768 bytes as allocated (with the runtime's header of an
// object with pointers): put a new flag with the other flags, and look for
// padding before adding a word.
func TestTaskRecordSizeClass(t *testing.T) {
	// The fewest bytes a record took over a few tries (whatever else
	// allocates meanwhile), judged halfway to the next class (896).
	const n, class, next = 1000, 768, 896
	per := uint64(1 << 20)
	for range 5 {
		recs := make([]*taskRecord, n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range recs {
			recs[i] = &taskRecord{Seq: i}
		}
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(recs)
		per = min(per, (after.TotalAlloc-before.TotalAlloc)/n)
	}
	if per > (class+next)/2 {
		t.Fatalf("a taskRecord takes %d bytes allocated (its size %d); want at most %d", per, unsafe.Sizeof(taskRecord{}), class)
	}
}
