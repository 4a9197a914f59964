// Package envvalues builds the source of `${workflow.env.NAME}` (Orkes'
// "environment variables", Conductor's EnvironmentDAO) from a configuration
// string, as wfrun run and wfrun serve take it from --env-values or
// WFRUN_ENV_VALUES:
//
//   - env:PREFIX — the process's variables whose names start with PREFIX,
//     the prefix removed (env:CONDUCTOR_ENV_ serves CONDUCTOR_ENV_REGION as
//     REGION, as Conductor's env-backed EnvironmentDAO does). Each value is
//     a JSON string. The prefix is required: the whole OS environment is
//     never a value source (SPEC §1: Conductor's `${ANY_OS_VAR}` is a leak);
//   - file:PATH — a JSON object whose members are the values (any JSON, so
//     `${workflow.env.db.host}` reads a field).
//
// Both are read once, when the source is built. Env values are not
// secrets: they resolve when a task is scheduled and are stored in its
// input, as in Conductor.
package envvalues
