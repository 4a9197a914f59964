// Package tasks holds wfrun's system task executors, one file per task type,
// and a registry by type name. Control flow (SWITCH, DO_WHILE, FORK_JOIN,
// SUB_WORKFLOW, ...) is driven by the engine; the leaf tasks here receive a
// resolved input and return an output.
package tasks
