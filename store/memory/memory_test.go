package memory_test

import (
	"testing"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return memory.New() })
}
