package runsecrets

import (
	"errors"
	"fmt"

	"github.com/wfrun/wfrun/store/seal"
)

// Transit seals what a run hands to another process sharing its keyring,
// outside any one run's stored record: a SIMPLE task offered to workers
// through a shared task queue in Redis, and the input (and declared
// secrets) its run resolves for the poll of another process that took it,
// which that poll opens. Such data rests only
// sealed outside the process, each item bound to what it is (a kind, such
// as "shared queue task", and its id): copied under another id, or opened
// as another kind, it does not open. Every process that opens an item
// needs the keyring that sealed it.
type Transit struct{ ring *seal.Keyring }

// NewTransit returns the transit sealer over ring.
func NewTransit(ring *seal.Keyring) (*Transit, error) {
	if ring == nil {
		return nil, errors.New("runsecrets: a keyring is required (it seals what leaves the process)")
	}
	return &Transit{ring: ring}, nil
}

// transitAAD binds an item to its kind and id.
func transitAAD(kind, id string) []byte { return []byte("wfrun " + kind + " " + id) }

// Seal seals plain as the item id of kind.
func (t *Transit) Seal(plain []byte, kind, id string) ([]byte, error) {
	b, err := t.ring.Seal(plain, transitAAD(kind, id))
	if err != nil {
		return nil, fmt.Errorf("seal %s %s: %w", kind, id, err)
	}
	return b, nil
}

// Open opens the item id of kind. A sealed item of another kind or id, a
// damaged one, or one sealed under a key this keyring does not hold is an
// error (never its content).
func (t *Transit) Open(sealed []byte, kind, id string) ([]byte, error) {
	b, err := t.ring.Open(sealed, transitAAD(kind, id))
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", kind, id, err)
	}
	return b, nil
}
