package runstore

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Lease says which process executes a run. A process holds the lease of
// every run it executes and renews it (its heartbeat) well within the TTL;
// a lease whose Expires has passed belongs to a process that died or hung,
// and another process may take the run over.
type Lease struct {
	// Owner identifies the holder (one random token per engine).
	Owner string `json:"owner"`
	PID   int    `json:"pid"`
	Host  string `json:"host"`
	// Heartbeat and Expires are Unix milliseconds.
	Heartbeat int64 `json:"heartbeat"`
	Expires   int64 `json:"expires"`
	// Presence: the holder keeps a presence key in the store (presence.go);
	// once it is gone the lease is a dead holder's, whatever Expires says.
	Presence bool `json:"presence,omitempty"`
	// lapsed: the store found the holder's presence gone.
	lapsed bool
}

// Live reports whether the lease is held at now: it has not expired, and
// when its holder ran on this host, that process still exists (a process
// killed here frees its runs at once; one on another host, after the TTL,
// or once its presence in a Redis store lapsed: presence.go).
func (l Lease) Live(now time.Time) bool {
	if l.Expires <= millis(now) || l.lapsed {
		return false
	}
	if l.Host != "" && l.Host == hostname() && l.PID != 0 {
		return processAlive(l.PID)
	}
	return true
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// String names the holder for messages.
func (l Lease) String() string {
	return fmt.Sprintf("pid %d on %s (heartbeat %s, expires %s)", l.PID, l.Host,
		time.UnixMilli(l.Heartbeat).UTC().Format(time.RFC3339), time.UnixMilli(l.Expires).UTC().Format(time.RFC3339))
}

// NewLease returns a lease of this process for owner.
func NewLease(owner string) Lease {
	return Lease{Owner: owner, PID: os.Getpid(), Host: hostname()}
}

// LeasedError is returned when another live process holds a run's lease.
type LeasedError struct {
	RunID  string
	Holder Lease
}

func (e *LeasedError) Error() string {
	return fmt.Sprintf("run %s is being executed by another process: %s", e.RunID, e.Holder)
}

// Is makes errors.Is(err, ErrLeased) true.
func (e *LeasedError) Is(target error) bool { return target == ErrLeased }

// Leaser is the lease part of a Store. `wfrun serve` processes sharing one
// store use it to execute each run in exactly one process and to take over
// the runs of a process that died.
type Leaser interface {
	// AcquireLease takes or renews the lease of run id for l.Owner until
	// now+ttl. It fails with a *LeasedError when another owner holds a live
	// lease. Renewing is acquiring again with the same owner.
	AcquireLease(ctx context.Context, id string, l Lease, ttl time.Duration) error
	// RenewLease renews the lease of run id that l.Owner holds, for ttl
	// from now; a run without a lease (it expired and was dropped) is
	// leased to l.Owner as AcquireLease does, unless the store holds the
	// run archived: refused with ErrArchived then, and no lease is
	// written (the run ended, in this process or another). A lease
	// another live owner holds is refused with a *LeasedError.
	RenewLease(ctx context.Context, id string, l Lease, ttl time.Duration) error
	// ReleaseLease drops the lease of run id if owner holds it.
	ReleaseLease(ctx context.Context, id, owner string) error
	// GetLease returns the run's lease (live or not); ok is false when there
	// is none.
	GetLease(ctx context.Context, id string) (l Lease, ok bool, err error)
}

// grant decides an acquisition against the current lease (cur, when has).
func grant(id string, cur Lease, has bool, l Lease, ttl time.Duration, now time.Time) (Lease, error) {
	if has && cur.Owner != l.Owner && cur.Live(now) {
		return Lease{}, &LeasedError{RunID: id, Holder: cur}
	}
	l.Heartbeat = millis(now)
	l.Expires = millis(now.Add(ttl))
	return l, nil
}

// leaseArchived is RenewLease's answer for archived run id.
func leaseArchived(id string) error {
	return fmt.Errorf("renew the lease of run %s: %w", id, ErrArchived)
}

func decodeLease(b []byte) (Lease, bool) {
	var l Lease
	if len(b) == 0 || json.Unmarshal(b, &l) != nil {
		return Lease{}, false
	}
	return l, true
}
