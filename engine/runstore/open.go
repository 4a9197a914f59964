package runstore

import (
	"path/filepath"
	"strings"
)

// Open picks the run store from the same configuration as the secret store:
// a redis:// or rediss:// storeURL selects Redis, anything else the bolt file
// runs.db under home.
func Open(home, storeURL string) (Store, error) {
	if strings.HasPrefix(storeURL, "redis://") || strings.HasPrefix(storeURL, "rediss://") {
		return OpenRedis(storeURL)
	}
	return OpenBolt(filepath.Join(home, "runs.db"))
}
