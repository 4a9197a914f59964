package server_test

import (
	"strings"
	"testing"
)

// A client that restarts or reruns a run as soon as it reads it
// ended is not refused as "executing" while this process is still letting
// go of the run (archiving it, giving up its lease).
func TestRestartRightAfterTheEnd(t *testing.T) {
	ts := newConductorServer(t, nil)
	const def = `{"name":"quick","version":1,"schemaVersion":2,"tasks":[
	  {"name":"one","taskReferenceName":"one","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}}]}`
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	_, _, id := ts.do(t, "POST", "/api/workflow/quick", `{}`)
	for i := 0; i < 40; i++ {
		ts.waitRun(t, id, "COMPLETED", func(d runDoc) bool { return d.Status == "COMPLETED" })
		path, body := "/restart", ""
		if i%2 == 1 {
			path, body = "/rerun", `{}`
		}
		st, _, answer := ts.do(t, "POST", "/api/workflow/"+id+path, body)
		if st != 204 && st != 200 {
			t.Fatalf("%s #%d right after the end: %d %s", path, i, st, answer)
		}
		if strings.Contains(answer, "executing") {
			t.Fatalf("%s #%d: %s", path, i, answer)
		}
	}
}
