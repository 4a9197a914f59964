package engine

import (
	"context"
	"errors"

	"github.com/wfrun/wfrun/engine/runstore"
)

// ErrNoSummary: the run store answers no summary of one run
// (it is no runstore.SummaryReader, or keeps none of that run).
var ErrNoSummary = errors.New("no stored summary of the run")

// RunSummary is run id's stored summary, read without loading its
// document (an access check before a run is loaded). ErrNoSummary when the
// store cannot answer it: the caller reads the run instead.
func (e *Engine) RunSummary(ctx context.Context, id string) (runstore.Summary, error) {
	sr, ok := e.runs.(runstore.SummaryReader)
	if !ok {
		return runstore.Summary{}, ErrNoSummary
	}
	sum, err := sr.Summary(ctx, id)
	if errors.Is(err, runstore.ErrNotFound) {
		return runstore.Summary{}, ErrNoSummary
	}
	return sum, err
}
