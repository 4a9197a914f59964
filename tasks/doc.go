// Package tasks holds wfrun's system task executors, one file per task type,
// and a registry by type name. Control flow (SWITCH, DO_WHILE, FORK_JOIN,
// SUB_WORKFLOW, ...) is driven by the engine; the leaf tasks here receive a
// resolved input and return an output.
//
// NewDefaultRegistry (or Register on an existing Registry) installs the leaf
// executors HTTP, HTTP_POLL, INLINE, JSON_JQ_TRANSFORM and NOOP. They share one
// keep-alive HTTP client (unless the request's Services carry one) and one
// expression compile cache (package tasks/eval), so an expression or jq
// program compiles once per process, not once per execution. Each also
// implements Validator, which checks a definition node at load time and
// names the field of every problem (FieldError, ErrInvalidDefinition);
// literals are checked, ${...} templates are left for run time.
//
// Outcomes follow Conductor: a definition problem a retry cannot fix
// (missing uri, unknown evaluator, expression that does not compile) is
// FailedTerminal; a runtime failure (non-2xx, transport error, script
// error, timeout) is Failed and may be retried. Reasons and "error" outputs
// pass through Services.Masker, and URLs in reasons lose their query and
// user info, because either may carry a secret.
//
// ParseDuration and ParseUntil read WAIT's duration and until values for
// the engine.
package tasks
