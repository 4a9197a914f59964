package runstore

import (
	"fmt"
	"testing"
)

// The field names of task records and log entries are those fmt's
// "%010d" gives (stored records are read by them).
func TestPaddedField(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 99, 12345, 999999999, 1000000000, 9999999999, 10000000000, -1, -12} {
		if got, want := taskField(n), fmt.Sprintf("t:%010d", n); got != want {
			t.Errorf("taskField(%d) = %q, want %q", n, got, want)
		}
		if got, want := logField(n), fmt.Sprintf("l:%010d", n); got != want {
			t.Errorf("logField(%d) = %q, want %q", n, got, want)
		}
	}
}
