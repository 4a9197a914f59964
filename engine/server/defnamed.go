package server

import (
	"context"

	"github.com/wfrun/wfrun/store"
)

// maskDefinitionError masks the text of err, the refusal of definition raw
// before the check for the values of the secrets it names
// (engine.CheckDefinitionValues needs a parsed definition), with the
// values of the secrets raw's strings name that principal p may read, as
// a run of it reads them (engine.MaskDefinitionError): such a refusal
// quotes an unknown task type, an invalid secret name, an invalid
// definition name, which may be a value pasted where a name goes. It
// tells the caller nothing it may not read: a name p may not read is left
// out, and the answer is masked with no value of anybody else's
// (answermask.go).
func (s *Server) maskDefinitionError(ctx context.Context, p store.Principal, raw []byte, err error) error {
	if err == nil || s.conductor == nil || s.conductor.eng == nil {
		return err
	}
	return s.conductor.eng.MaskDefinitionError(ctx, raw, err, enginePrincipal(p), "", "")
}
