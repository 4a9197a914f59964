// Package server is wfrun serve: the HTTP APIs real Conductor, Orkes and
// Taskcluster clients use, over wfrun's secret store and engine.
//
// # APIs
//
//   - Orkes secrets under /api/secrets (PUT a value, GET it as text/plain,
//     DELETE, /{key}/exists, list, /api/secrets-v2, /{key}/tags), with
//     Orkes' token auth: POST /api/token exchanges an application key
//     (keyId, keySecret) for a JWT that clients send in X-Authorization.
//     Without an auth configuration /api/token answers 404, which the Orkes
//     SDKs take as "no auth" (Conductor OSS).
//   - Taskcluster secrets under /api/secrets/v1 (ping, PUT/GET/DELETE
//     /secret/<name>, GET /secrets with continuationToken and limit), with
//     Hawk authentication and Taskcluster scopes.
//   - The Conductor API (metadata, workflows, task poll and update) over
//     wfrun's engine, when the Server is built with an engine.
//   - /metrics (Prometheus) and /healthz.
//
// # Principals
//
// An auth configuration (LoadAuthConfig) maps Orkes application keys and
// Taskcluster clients to store principals with Taskcluster-style scopes;
// every secret operation goes through store.WithAccess with the caller's
// principal, exactly as the CLI's do. Without a configuration every caller
// is the local principal (all scopes): bind to loopback then.
//
// # What is never written anywhere
//
// Request and response bodies are never logged. Every value the server
// handles is registered with the server's masker, and every log line passes
// through a masking slog handler before it is written.
package server
