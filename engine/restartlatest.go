package engine

import (
	"context"
	"fmt"
	"path/filepath"
)

// RestartOptions are the options of a restart from the start
// (RestartWith).
type RestartOptions struct {
	// UseLatestDefinitions: the run restarts on the highest version of its
	// workflow definition in the definitions directory (Conductor's
	// useLatestDefinitions), instead of the definition it ran, with the
	// task definitions registered now instead of the ones it started with.
	UseLatestDefinitions bool
}

// RestartWith restarts an ended run from the start, as Restart(ctx, id,
// true) does, with o. UseLatestDefinitions looks in the definitions
// directory or, without one, in the directory of the file the run was
// started from (WithDefinitionPath); when there is neither, or it has no
// definition of the run's name, it fails with ErrDefinitionNotFound and
// the run is left as it was.
func (e *Engine) RestartWith(ctx context.Context, id string, o RestartOptions) (*Result, error) {
	if !o.UseLatestDefinitions {
		return e.Restart(ctx, id, true)
	}
	if err := e.checkRestartable(ctx, id); err != nil {
		return nil, err
	}
	return e.restartWith(ctx, id, true, "", &RerunOptions{latestDefinition: true})
}

// useLatestDefinition replaces the definition an ended run ran by the
// highest version of the definitions directory.
func (e *Engine) useLatestDefinition(er *endedRun) error {
	dir := e.defsDir
	if dir == "" && er.d.DefinitionPath != "" {
		// As "wfrun run" defaults to it: the directory of the file the
		// run was started from.
		dir = filepath.Dir(er.d.DefinitionPath)
	}
	def, err := e.findDefinitionIn(dir, er.d.WorkflowType, 0)
	if err != nil {
		return fmt.Errorf("restart run %s with the latest definition: %w", er.id, err)
	}
	er.d.WorkflowDefinition = def.raw
	er.d.Version = def.Version
	er.d.MaskedFields = def.MaskedFields
	er.d.DefinitionHash = defHash(def.raw)
	er.d.DefinitionPath = ""
	return nil
}
