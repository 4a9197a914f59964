package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

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
	// Not echoed: a mistyped Redis URL (redis:/user:pw@host) holds a password.
	return nil, nil, usageErr(fmt.Errorf("--event-sink: want stdout, stderr, file:PATH or a redis:// URL (the value given is not shown, as it may hold a password)"))
}

// addEventSinkFlag registers --event-sink (run, resume, restart, serve).
func addEventSinkFlag(cmd *cobra.Command, specs *[]string) {
	cmd.Flags().StringArrayVar(specs, "event-sink", nil, "[TYPE=]SINK: where EVENT tasks publish to Conductor's queues (\"conductor\" sinks; wfrun serve has its own, consumed by its event handlers, which SINK replaces), or with TYPE= to queues of that type (sqs=…, for a sink \"sqs:NAME\"); SINK is stdout, stderr, file:PATH (JSON lines) or a redis:// URL (one stream per queue, named as Conductor names it); repeatable")
}

// openEventSinks turns the --event-sink flags into engine options: SINK
// for Conductor's own queues, TYPE=SINK for the queues of TYPE (the part of
// an EVENT sink before its first ':'). The returned function releases them.
func openEventSinks(specs []string, stdout, stderr io.Writer) ([]engine.Option, func(), error) {
	var opts []engine.Option
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	seen := map[string]bool{}
	for _, spec := range specs {
		typ, sinkSpec := engine.ConductorQueueType, spec
		if t, rest, ok := strings.Cut(spec, "="); ok && queueTypeName(t) {
			typ, sinkSpec = t, rest
		}
		if seen[typ] {
			closeAll()
			return nil, nil, usageErr(fmt.Errorf("--event-sink: two sinks for %s queues", typ))
		}
		seen[typ] = true
		sink, closeSink, err := openEventSink(sinkSpec, stdout, stderr)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		if sink == nil {
			continue
		}
		closers = append(closers, closeSink)
		opts = append(opts, engine.WithEventProvider(typ, sink))
	}
	return opts, closeAll, nil
}

// queueTypeName reports whether s can be the TYPE of --event-sink
// TYPE=SINK: a word, so a URL's query ("redis://h/?a=b") is not taken for one.
func queueTypeName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}
