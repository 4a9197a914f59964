package engine

import (
	"encoding/json"

	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store/seal"
)

// SealFailuresAsEarlierWfrun rewrites doc, run id's stored document by
// member, as a wfrun before FailuresSealed stored it: its head's seal,
// made again with ring, does not cover failureOf and restartedFailures.
func SealFailuresAsEarlierWfrun(doc map[string]json.RawMessage, id string, ring *seal.Keyring) error {
	return resealHeadWithout(doc, id, ring, "failuresSealed")
}

// ResealArchived seals again, with ring, what run id's archived document
// doc attests of its parts and records (as the archive does,
// resealRecords): a test that writes another process's end in its place
// stores it as that process would have sealed it.
func ResealArchived(doc []byte, id string, ring *seal.Keyring) ([]byte, error) {
	sec, err := runsecrets.New(id, nil, ring)
	if err != nil {
		return nil, err
	}
	return resealRecords(doc, sec)
}
