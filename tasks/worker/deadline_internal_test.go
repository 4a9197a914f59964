package worker

import (
	"testing"
	"time"
)

func TestWorkDeadline(t *testing.T) {
	for _, tc := range []struct{ rt, want time.Duration }{
		{1 * time.Second, 500 * time.Millisecond}, // never more than half
		{2 * time.Second, 1 * time.Second},
		{5 * time.Second, 4 * time.Second}, // the 1s floor
		{30 * time.Second, 27 * time.Second},
		{50 * time.Second, 45 * time.Second},
		{600 * time.Second, 595 * time.Second}, // the 5s cap
	} {
		if got := workDeadline(tc.rt); got != tc.want {
			t.Errorf("workDeadline(%v) = %v, want %v", tc.rt, got, tc.want)
		}
	}
}
