package engine

import (
	"bytes"
	"fmt"

	"github.com/tidwall/sjson"

	"github.com/wfrun/wfrun/runsecrets"
)

// A run's task-definition snapshot (taskdefsnap.go) is stored sealed, and a
// view opens it (withTaskDefs). A definition holds no secret's value by
// design, but one a user pasted into it (an inputTemplate, a description)
// is a value the run may register: a view of a run that still has its
// values masks the opened definitions with them (showRunHead), and the
// archive, which keeps none of them, masks the snapshot for good as it
// masks the run's copy of its workflow definition (maskArchivedDefinition):
// the snapshot is opened, masked with every value the run registered, and
// when that changed it, sealed again in its masked form under a binding of
// its own and marked (taskDefsMasked). A run whose snapshot holds no value of it is archived
// with the snapshot as it was.
//
// A restart of an archived run whose snapshot was masked would run the
// masked definitions ("***" where a template held the value): unlike the
// workflow definition, whose intact copy is found again by its hash
// (intactDefinition), the snapshot holds the registry's definitions of
// their moment, of which no intact copy is kept, so such a restart is
// refused with ErrArchivedSecrets (checkArchived), unless it takes the
// task definitions registered now (RestartWith's UseLatestDefinitions).

// taskDefsMaskedMember marks an archived run whose task-definition
// snapshot the archive masked (runDoc.TaskDefsMasked).
const taskDefsMaskedMember = "taskDefsMasked"

// taskDefsMaskedPointer binds a snapshot the archive masked: the mark is
// not believed, it is attested. A mark removed (a restart would then run
// "***" where a template held the value) or added leaves the snapshot
// sealed under the other binding, which does not open.
const taskDefsMaskedPointer = taskDefsPointer + "/masked"

// openSnapshot opens a run's sealed snapshot under the binding its mark
// (masked) names. A marked snapshot an earlier wfrun masked was sealed
// again under the plain binding, and opens under it too: a mark added to
// a snapshot the archive did not mask only refuses a restart that could
// have run, and removing one opens nothing.
func openSnapshot(sec *runsecrets.Run, sealed string, masked bool) ([]byte, error) {
	if !masked {
		return sec.Open(sealed, taskDefsPointer)
	}
	plain, err := sec.Open(sealed, taskDefsMaskedPointer)
	if err != nil {
		if earlier, err2 := sec.Open(sealed, taskDefsPointer); err2 == nil {
			return earlier, nil
		}
	}
	return plain, err
}

// maskArchivedTaskDefs is doc, a run document about to be archived whose
// task-definition snapshot is sealed (its TaskDefs: given, so that the
// common run, without one, costs no look into doc), with the snapshot
// masked with every value sec registered, sealed again and marked, when
// masking changes it; doc as it is when the run has no snapshot or the
// snapshot holds none of its values.
func maskArchivedTaskDefs(doc []byte, sealed string, sec *runsecrets.Run) ([]byte, error) {
	if sealed == "" {
		return doc, nil
	}
	plain, err := sec.Open(sealed, taskDefsPointer)
	if err != nil {
		return nil, fmt.Errorf("archive its task definitions: %w", err)
	}
	masked := sec.Remask(plain, taskDefsPointer)
	if bytes.Equal(masked, plain) {
		return doc, nil
	}
	resealed, err := sec.Seal(masked, taskDefsMaskedPointer)
	if err != nil {
		return nil, err
	}
	if doc, err = sjson.SetBytes(doc, "taskDefs", resealed); err != nil {
		return nil, err
	}
	return sjson.SetBytes(doc, taskDefsMaskedMember, true)
}
