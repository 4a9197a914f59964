// Package masking keeps secret values out of everything wfrun persists or
// shows: task outputs and variables before they are stored, logs, error
// messages, CLI output, API views and archived runs.
//
// A Masker belongs to one run. The engine registers every secret value it
// resolves; the Masker derives the forms a value takes on its way into text
// (JSON-escaped, base64 at every byte alignment, URL-escaped, line by line for
// multi-line values, the string leaves of a JSON value) and replaces every
// occurrence of any of them by "***" in a single Aho–Corasick pass, so the
// cost per byte does not depend on how many values are registered.
// Overlapping and adjacent occurrences merge into one "***", as in the GitHub
// Actions runner. Values shorter than the minimum length (4 by default) are
// refused with a warning: masking "1" or "test" everywhere would make output
// useless.
//
// Around the Masker: MaskJSON masks a JSON document and keeps it valid,
// Writer masks a byte stream whose values may be split across writes, and
// NewHandler wraps an slog.Handler so messages and attributes are masked.
//
// View and Archive work on run documents (Conductor's execution JSON) and
// need no Masker: they apply the Orkes rules for "_secrets", "_masked" and a
// definition's maskedFields. ArchivedSecretsNeeded tells the engine whether a
// restart of an archived run would need data that archiving destroyed.
//
// Nothing in this package puts a value into an error message or a log line.
package masking
