package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine"
)

// openEventSink turns --event-sink into the engine's EventSink: "stdout" or
// "stderr" (JSON lines), "file:PATH" (JSON lines appended, mode 0600), or a
// redis:// / rediss:// URL (one Redis stream per queue). The returned
// function releases it.
func openEventSink(spec string, stdout, stderr io.Writer) (engine.EventSink, func(), error) {
	switch {
	case spec == "":
		return nil, func() {}, nil
	case spec == "stdout":
		return engine.NewWriterSink(stdout), func() {}, nil
	case spec == "stderr":
		return engine.NewWriterSink(stderr), func() {}, nil
	case strings.HasPrefix(spec, "file:"):
		path := strings.TrimPrefix(spec, "file:")
		if path == "" {
			return nil, nil, usageErr(fmt.Errorf("--event-sink file: needs a path (file:PATH)"))
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("--event-sink: %w", err)
		}
		return engine.NewWriterSink(f), func() { _ = f.Close() }, nil
	case strings.HasPrefix(spec, "redis://"), strings.HasPrefix(spec, "rediss://"):
		opt, err := redis.ParseURL(spec)
		if err != nil {
			// The URL may hold a password: name the flag, not the value.
			return nil, nil, usageErr(fmt.Errorf("--event-sink: not a valid Redis URL"))
		}
		c := redis.NewClient(opt)
		return engine.NewRedisStreamSink(c, ""), func() { _ = c.Close() }, nil
	}
	return nil, nil, usageErr(fmt.Errorf("--event-sink %q: want stdout, stderr, file:PATH or a redis:// URL", spec))
}
