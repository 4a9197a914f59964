package engine

import (
	"encoding/json"

	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store/seal"
)

// SealAsEarlierWfrun rewrites doc, run id's stored document by member, as
// a wfrun before PartsSeal stored it: one seal per part (InputSeal,
// VariablesSeal, OutcomeSeal) and their flags in the head, whose own seal
// is made again with ring.
func SealAsEarlierWfrun(doc map[string]json.RawMessage, id string, ring *seal.Keyring) error {
	sec, err := runsecrets.New(id, nil, ring)
	if err != nil {
		return err
	}
	var d runDoc
	raw, err := json.Marshal(doc)
	if err == nil {
		err = json.Unmarshal(raw, &d)
	}
	if err != nil {
		return err
	}
	d.PartsSealed, d.PartsSeal = false, ""
	d.InputSealed, d.VariablesSealed, d.OutcomeSealed = true, true, true
	for _, a := range []struct {
		seal    *string
		pointer string
		data    []byte
	}{
		{&d.InputSeal, inputPointer, orEmpty(d.Input)},
		{&d.VariablesSeal, variablesPointer, orEmpty(d.Variables)},
		{&d.OutcomeSeal, outcomePointer, outcomeAttested(d.Status, d.ReasonForIncompletion, orEmpty(d.Output))},
	} {
		if *a.seal, err = sec.Attest(a.pointer, a.data); err != nil {
			return err
		}
	}
	if d.HeadSeal, err = sec.Attest(headSealPointer, headAttested(appendHeadStatic(nil, &d.runHead), headSealedMembers(&d.runHead), d.RunLogLength)); err != nil {
		return err
	}
	delete(doc, "partsSealed")
	delete(doc, "partsSeal")
	for k, v := range map[string]any{"inputSealed": true, "variablesSealed": true, "outcomeSealed": true,
		"inputSeal": d.InputSeal, "variablesSeal": d.VariablesSeal, "outcomeSeal": d.OutcomeSeal, "headSeal": d.HeadSeal} {
		if doc[k], err = json.Marshal(v); err != nil {
			return err
		}
	}
	return nil
}
