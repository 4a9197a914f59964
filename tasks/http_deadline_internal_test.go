package tasks

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// Calls with mixed timeouts, started in any order and some ended early:
// each one's context ends at its deadline (not before), with
// DeadlineExceeded as its error and cause; an ended call's context is
// canceled and leaves nothing pending.
func TestCallDeadlines(t *testing.T) {
	var d callDeadlines
	timeouts := []time.Duration{300, 40, 120, 40, 80, 200, 10, 160, 60, 20} // ms, in start order
	var wg sync.WaitGroup
	for i, ms := range timeouts {
		timeout := ms * time.Millisecond
		endEarly := i%4 == 3
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			c := d.start(context.Background(), timeout)
			if dl, ok := c.Deadline(); !ok || dl.Before(start.Add(timeout)) {
				t.Errorf("%v: deadline %v (ok %v), started %v", timeout, dl, ok, start)
			}
			if endEarly {
				d.end(c)
				if !errors.Is(c.Err(), context.Canceled) {
					t.Errorf("%v ended early: Err %v", timeout, c.Err())
				}
				return
			}
			defer d.end(c)
			select {
			case <-c.Done():
			case <-time.After(timeout + 5*time.Second):
				t.Errorf("%v: not done 5s after its deadline", timeout)
				return
			}
			if el := time.Since(start); el < timeout {
				t.Errorf("%v: done after %v", timeout, el)
			}
			if c.Err() != context.DeadlineExceeded || context.Cause(c) != context.DeadlineExceeded {
				t.Errorf("%v: Err %v, Cause %v", timeout, c.Err(), context.Cause(c))
			}
		}()
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.calls) != 0 {
		t.Fatalf("%d calls still pending", len(d.calls))
	}
}

// The task's context still rules: its cancellation ends the call at once,
// and a deadline of its own that comes first is the call's.
func TestCallDeadlinesFollowTheTaskContext(t *testing.T) {
	var d callDeadlines
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), connectTimeoutKey{}, time.Second))
	c := d.start(parent, time.Hour)
	if c.Value(connectTimeoutKey{}) != time.Second {
		t.Fatal("the task context's values are lost")
	}
	cancel()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not canceled with the task")
	}
	if c.Err() != context.Canceled {
		t.Fatalf("Err %v", c.Err())
	}
	d.end(c)

	soon, cancelSoon := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancelSoon()
	c = d.start(soon, time.Hour)
	defer d.end(c)
	if dl, _ := c.Deadline(); dl.After(time.Now().Add(time.Minute)) {
		t.Fatalf("deadline %v: the task's earlier one is lost", dl)
	}
	<-c.Done()
	if c.Err() != context.DeadlineExceeded {
		t.Fatalf("Err %v", c.Err())
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.calls) != 0 {
		t.Fatalf("%d calls pending", len(d.calls))
	}
}
