package runstore_test

import (
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
)

// A Redis URL that does not parse is refused without quoting its password.
func TestOpenRedisBadURLKeepsThePassword(t *testing.T) {
	for _, u := range []string{"redis://:hunter2secret@127.0.0.1:badport/0", "redis://u:12/hunter2rest@127.0.0.1/0"} {
		_, err := runstore.OpenRedis(u)
		if err == nil || !strings.Contains(err.Error(), "bad Redis URL") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("OpenRedis: %v, want a bad-URL error without the password", err)
		}
	}
}
