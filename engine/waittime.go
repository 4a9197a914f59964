package engine

import (
	"time"

	"github.com/wfrun/wfrun/tasks"
)

// parseDuration and parseUntil read WAIT's inputs with the tasks package's
// parsers ("10m20s", "2 hours 30 minutes", "30 seconds", "1d";
// "yyyy-MM-dd HH:mm z", "yyyy-MM-dd HH:mm", "yyyy-MM-dd").
func parseDuration(s string) (time.Duration, error) { return tasks.ParseDuration(s) }

func parseUntil(s string) (time.Time, error) { return tasks.ParseUntil(s, time.Now()) }
