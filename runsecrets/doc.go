// Package runsecrets is the secret lifecycle of one workflow run: the one
// door through which every secret value enters and leaves a run. Any Go
// workflow engine can embed it and get the guarantees wfrun's own engine
// gets; wfrun's engine, its tasks and its CLI use nothing else for secrets.
//
// # One value per run
//
// New builds a Run from three things:
//
//   - a Source: the secrets the run may read, as its principal and in its
//     scope (a store.RunView; interpolate.MapSecrets for fixed values). A
//     Source that also implements Writer serves UPDATE_SECRET;
//   - a *seal.Keyring (store/seal): it seals what the run stores, and every
//     process that resumes the run needs the same one;
//   - options: masker options, the definition's maskedFields, what the run
//     needs (Requiring: a run that would read or write secrets without a
//     source that can is refused here, not half-way through a task), and
//     ChildOf for a sub-workflow that shares its parent's masker.
//
// # Values come in through doors that register them
//
// Every value is registered with the run's masker before anything can
// echo it:
//
//   - Resolve(template, env): the stored form (secret references kept
//     literally), the transient form (values) and the registration of every
//     value used, in one call;
//   - Secret(name): a secret read by name — HTTP auth credentials, EXEC
//     bundles;
//   - Get and Put: UPDATE_SECRET's compare-and-swap; the replaced value and
//     the new one are both registered (both are live during the grace
//     window);
//   - Protect: the leaves of `_secrets` subtrees (and maskedFields) of any
//     data the run keeps — task outputs, externally completed outputs,
//     workflow input;
//   - Register / RegisterSecret: anything else an embedder brings in.
//
// A Run implements the tasks package's Masker and SecretAccess, so a task
// executor handed the Run cannot read a secret without registering it.
//
// # What is stored
//
// Protect(data, pointer) returns the in-memory form (masked outside
// `_secrets`) and the stored form, in which each `_secrets` subtree and
// maskedFields value is one sealed string (SealedPrefix + base64 of
// AES-256-GCM), its associated data the run id and the member's JSON
// pointer: moved to another run or another place, it does not open.
// The members are replaced in place (sjson): the rest of the document keeps
// its bytes. Unseal reverses it for a resumed run and registers the leaves
// again; Generation and Remask mask stored forms again when a value is
// registered after they were produced, and NewRemaskIndex lists the forms
// a new value may be in, so that a run registering values one at a time
// does not mask everything it stored with each. Seal and Open seal any other member
// of a run the same way.
// `_secrets` and `_masked` keys are recognised decoded ("\u005fsecrets" is
// "_secrets", see masking.KeyIs).
//
// Journal seals the list of values registered so far; stored with the run
// and given back to Restore, it rebuilds on resume exactly the masker the
// uninterrupted run had — including a credential the store no longer holds
// (a rotated token). JournalSince and RestoreAt do the same in pieces, for
// a store that appends each piece once instead of rewriting the whole list
// with every write. Reread reads the definition's static names again.
// SealCompletion seals an externally completed task output at the moment it
// is written, so it never rests in clear while it waits for the runner.
// Transit seals what leaves the process outside any run's record — a
// task offered to workers through a queue that several processes share,
// and the values its run resolves for another process's poll — bound to
// its kind and id. ResolveLater and ResolveDeferred resolve a task's input
// when its executor takes it (a remote worker's poll), not when it is
// scheduled.
//
// View is the display form (API, show, printed output): `_secrets`,
// `_masked` and maskedFields values as "***", registered values masked, and
// copies of `_masked` values masked too. Archive is the terminal stored
// form: `_secrets` and maskedFields values destroyed, `_masked` kept.
//
// # Around a task
//
// ForTask marks a context for the reads one task makes (the store's audit
// trail records run id and task). NewContext/FromContext hand the Run to
// code that only gets a context, such as a worker function, so it can mask
// its own text before cutting it.
//
// # Text
//
// Text, Excerpt, Line and NewWriter mask whole text first and only then
// cut, normalise or split it: error excerpts, evaluator errors, worker
// stderr, previews, progress lines and streamed command output. No excerpt
// is ever taken from unmasked text.
package runsecrets
