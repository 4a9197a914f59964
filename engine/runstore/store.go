package runstore

import (
	"context"
	"errors"
	"sort"
	"strings"
)

// ErrNotFound is returned by Load when no primary or archived run has the id.
var ErrNotFound = errors.New("run not found")

// ErrUnavailable wraps backend failures (file locked too long, Redis down).
var ErrUnavailable = errors.New("run store unavailable")

// Summary is the small per-run record used by List.
type Summary struct {
	ID           string `json:"workflowId"`
	WorkflowType string `json:"workflowType"`
	Version      int    `json:"version"`
	Status       string `json:"status"`
	CreateTime   int64  `json:"createTime"`
	UpdateTime   int64  `json:"updateTime"`
	ParentID     string `json:"parentWorkflowId,omitempty"`
	Archived     bool   `json:"archived"`
}

// ListOptions filter List.
type ListOptions struct {
	// Status keeps only runs with this status ("" = all).
	Status string
	// Limit caps the number of summaries (0 = no cap). The newest come first.
	Limit int
}

// Store persists run documents. Implementations are safe for concurrent use.
type Store interface {
	// Save writes the primary record of a run (create or replace).
	Save(ctx context.Context, id string, doc []byte, sum Summary) error
	// Load returns the primary record, or else the archived one.
	Load(ctx context.Context, id string) (doc []byte, archived bool, err error)
	// List returns run summaries, newest first.
	List(ctx context.Context, opt ListOptions) ([]Summary, error)
	// Archive stores the archived form and removes the primary atomically.
	Archive(ctx context.Context, id string, archived []byte, sum Summary) error
	// Restore makes an archived run primary again (restart): it writes doc
	// as the primary and removes the archive atomically.
	Restore(ctx context.Context, id string, doc []byte, sum Summary) error
	// PutSignal records an out-of-band message for a run, keyed by name
	// (a later one with the same key replaces it).
	PutSignal(ctx context.Context, id, key string, payload []byte) error
	// TakeSignals returns and deletes the pending signals of a run.
	TakeSignals(ctx context.Context, id string) (map[string][]byte, error)
	Close() error
}

// sortSummaries orders newest first and applies the options.
func sortSummaries(all []Summary, opt ListOptions) []Summary {
	out := all[:0]
	for _, s := range all {
		if opt.Status != "" && !strings.EqualFold(s.Status, opt.Status) {
			continue
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreateTime != out[j].CreateTime {
			return out[i].CreateTime > out[j].CreateTime
		}
		return out[i].ID > out[j].ID
	})
	if opt.Limit > 0 && len(out) > opt.Limit {
		out = out[:opt.Limit]
	}
	return out
}
