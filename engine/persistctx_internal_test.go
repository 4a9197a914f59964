package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

type persistKey struct{}

// persistCtx behaves as context.WithTimeout(context.WithoutCancel(ctx), d):
// the parent's values, not its cancellation, its own deadline whether a
// store waits on Done or only asks Err, and Canceled once released.
func TestPersistCtxIsATimeoutWithoutParentCancel(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.WithValue(context.Background(), persistKey{}, "v"))
	c := newPersistCtx(parent, time.Hour)
	stop := c.stop
	cancelParent()
	if c.Value(persistKey{}) != "v" {
		t.Fatal("value of the parent context lost")
	}
	if err := c.Err(); err != nil {
		t.Fatalf("parent's cancellation reached the write: %v", err)
	}
	if d, ok := c.Deadline(); !ok || time.Until(d) < 59*time.Minute {
		t.Fatalf("deadline %v %v", d, ok)
	}
	select {
	case <-c.Done():
		t.Fatal("done before its deadline")
	default:
	}
	stop()
	<-c.Done()
	if !errors.Is(c.Err(), context.Canceled) {
		t.Fatalf("released: %v", c.Err())
	}

	for _, waits := range []bool{true, false} {
		c := newPersistCtx(context.Background(), 20*time.Millisecond)
		stop := c.stop
		child, cancelChild := context.WithCancel(c)
		if waits {
			select {
			case <-c.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("deadline never came")
			}
		} else {
			time.Sleep(30 * time.Millisecond)
		}
		if !errors.Is(c.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(c), context.DeadlineExceeded) {
			t.Fatalf("after the deadline: %v / %v", c.Err(), context.Cause(c))
		}
		select {
		case <-c.Done():
		default:
			t.Fatal("Err says ended but Done is open")
		}
		select {
		case <-child.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("a context derived from the write's did not end with it")
		}
		cancelChild()
		stop()
		if !errors.Is(c.Err(), context.DeadlineExceeded) {
			t.Fatalf("release changed the cause: %v", c.Err())
		}
	}
}
