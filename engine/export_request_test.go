package engine

import (
	"encoding/json"

	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store/seal"
)

// SealHeadAsEarlierWfrun rewrites doc, run id's stored document by member,
// as a wfrun before RequestSealed stored it: its head's seal, made again
// with ring, does not cover the start request's members.
func SealHeadAsEarlierWfrun(doc map[string]json.RawMessage, id string, ring *seal.Keyring) error {
	return resealHeadWithout(doc, id, ring, "requestSealed")
}

// resealHeadWithout rewrites doc, run id's stored document by member,
// without flag (a member saying what the head's seal covers) and its
// head's seal made again with ring: as a wfrun that did not know flag
// stored it.
func resealHeadWithout(doc map[string]json.RawMessage, id string, ring *seal.Keyring, flag string) error {
	sec, err := runsecrets.New(id, nil, ring)
	if err != nil {
		return err
	}
	delete(doc, flag)
	raw, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	var d runDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return err
	}
	if d.HeadSeal, err = sec.Attest(headSealPointer, headAttested(appendHeadStatic(nil, &d.runHead), headSealedMembers(&d.runHead), d.RunLogLength)); err != nil {
		return err
	}
	doc["headSeal"], err = json.Marshal(d.HeadSeal)
	return err
}
