package runsecrets

import (
	"fmt"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/masking"
)

// View returns the display form of a run document or of a part of one (API
// responses, wfrun show, the output wfrun run prints): the value of every
// `_secrets` and `_masked` member, and of the maskedFields keys of a
// top-level "input" or "output", is "***"; registered values are masked;
// and copies of `_masked` values elsewhere (an output that repeats an input
// field) are masked too. doc is never modified.
func (r *Run) View(doc []byte) ([]byte, error) {
	v, err := masking.View(doc, r.maskedFields)
	if err != nil {
		return nil, err
	}
	if masking.MayHoldKey(doc, masking.MaskedKey) {
		r.noteMasked(doc)
	}
	if v, err = r.reg.views.MaskJSON(v); err != nil {
		return nil, err
	}
	return r.reg.masker.MaskJSON(v)
}

// ViewMember is View for one member of the run (the workflow output, say):
// it is displayed as the value of key in a run document, so the maskedFields
// of "input" and "output" apply.
func (r *Run) ViewMember(key string, value []byte) ([]byte, error) {
	if len(value) == 0 {
		value = []byte("null")
	}
	doc := append(append([]byte(`{"`+key+`":`), value...), '}')
	v, err := r.View(doc)
	if err != nil {
		return nil, err
	}
	res := gjson.GetBytes(v, gjson.Escape(key))
	if !res.Exists() {
		return []byte(`"` + masking.Redacted + `"`), nil
	}
	return []byte(res.Raw), nil
}

// Archive returns the archived form of a stored run document: `_secrets`
// values and maskedFields values become "***" for good; `_masked` values are
// kept. The caller stores the result in place of the primary record.
func (r *Run) Archive(doc []byte) ([]byte, error) {
	a, err := masking.Archive(doc, r.maskedFields)
	if err != nil {
		return nil, fmt.Errorf("archive run %s: %w", r.id, err)
	}
	return a, nil
}

// ViewStored is View for a stored run document read without its Run (wfrun
// show of another process's run): maskedFields come from the document.
func ViewStored(doc []byte, maskedFields []string) ([]byte, error) {
	r := &Run{id: "view", maskedFields: maskedFields, reg: &registry{
		masker: masking.New(masking.WithLogger(nil)),
		views:  masking.New(masking.WithLogger(nil)),
		seen:   map[string]bool{},
	}}
	return r.View(doc)
}

// noteMasked remembers the string leaves of `_masked` subtrees of doc, so
// View masks their copies.
func (r *Run) noteMasked(doc []byte) {
	v, err := decodeJSON(doc)
	if err != nil {
		return
	}
	var leaves []string
	collectLeaves(v, false, masking.MaskedKey, &leaves)
	if len(leaves) > 0 {
		r.reg.views.RegisterAll(leaves...)
	}
}

// ArchivedSecretsNeeded lists the JSON pointers of the `_secrets` values of
// an archived run document that restarting or retrying the run would read
// again (masking.ArchivedSecretsNeeded explains which). A restart that
// needs one fails with them as the reason.
func ArchivedSecretsNeeded(archived []byte) []string { return masking.ArchivedSecretsNeeded(archived) }

// ArchivedFieldsNeeded lists the maskedFields of the archived workflow
// input whose value archiving destroyed.
func ArchivedFieldsNeeded(archived []byte, maskedFields []string) []string {
	return masking.ArchivedFieldsNeeded(archived, maskedFields)
}
