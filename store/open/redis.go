package open

import (
	"context"
	"fmt"

	"github.com/wfrun/wfrun/store"
)

func openRedis(ctx context.Context, cfg Config, u string) (store.Store, error) {
	return nil, fmt.Errorf("%w: redis backend not built yet", ErrBadURL)
}
