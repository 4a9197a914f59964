// Package worker is a Conductor worker that runs wfrun's tasks (HTTP, EXEC,
// UPDATE_SECRET, …) for a remote Conductor server — Conductor OSS, Orkes or
// wfrun serve — as SIMPLE task names (`wfrun worker`).
//
// It authenticates like the Orkes SDKs (key id and secret → token in
// X-Authorization; a server without /api/token is used without auth),
// polls each configured task name in batches with long-poll, runs at most
// Concurrency tasks at once, answers within each task's
// responseTimeoutSeconds and, when its context ends, stops polling and lets
// running tasks finish.
//
// Secrets: a Conductor server interprets only `${…}`, so
// `$<workflow.secrets.x>` in a task's input arrives verbatim and the worker
// resolves it from its own store, through the run boundary (runsecrets):
// the server never holds the value. Whatever `${…}` text is left in the
// polled input stays literal. The output goes back with every value the
// task used masked and every `_secrets` leaf sealed for the run
// (Config.Seal; sealed.go) — or removed, without a key —, so the server
// stores references, sealed leaves and "***" only. A later task of the run
// that reads such a leaf gets it opened.
//
// An outputFilter (Orkes) in the polled input is applied by the worker,
// compiled from the poll's workflowTask, before the answer is cleaned: a
// Conductor server does not know it, and only what it selects is sent
// (outputfilter.go). A server that applies it itself (wfrun serve) hands
// the task over without it, and the worker leaves it to the server.
//
// A polled task's runtimeMetadata (the secrets and env values its task
// definition declares, resolved by the server at poll time — Conductor OSS
// and wfrun serve both do) is not resolved again by the worker: the
// declaration and the store it names are the server's. The worker treats
// the values as secrets: they are registered with the task's masker, so an
// output or a failure reason that echoes one goes back masked.
package worker
