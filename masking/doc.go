// Package masking keeps secret values out of everything wfrun persists or
// shows: task outputs and variables before they are stored, logs, error
// messages, CLI output, API views and archived runs.
//
// A Masker belongs to one run. The engine registers every secret value it
// resolves, and the Masker replaces every occurrence of the value, in any of
// the forms below, by "***" in a single pass whose cost per byte does not
// depend on how many values are registered (a bit-set prefilter in front of
// an Aho–Corasick automaton, which takes over on hostile text so the pass
// stays linear; see prefilter.go and BenchmarkMask). Overlapping and adjacent occurrences merge into one "***",
// as in the GitHub Actions runner. Values shorter than the minimum length (4
// by default) are refused with a warning: masking "1" or "test" everywhere
// would make output useless.
//
// # Forms masked
//
// Registered with the value (each form at least the minimum length):
//   - the value as it is, and trimmed of surrounding white space;
//   - each trimmed line of a multi-line value (a log shows a key or a
//     certificate one line at a time);
//   - for a JSON object or array: each string leaf, and the whole document
//     compact, with its keys sorted (as a Go map re-encodes it) and spaced
//     as Python's json.dumps writes it, so an object of short fields is
//     masked when it appears whole;
//   - for each of the above: JSON-escaped (minimal, and Go's HTML-safe
//     escaping), URL-escaped (query with "+" and with "%20", path), and
//     base64 in the standard and URL-safe alphabets, padded and at each of
//     the three byte alignments inside a larger blob (only the characters
//     that depend on the value alone, so "Basic base64(user:password)" is
//     masked whatever the user name);
//   - base64 of each JSON-escaped spelling that differs from the form (a
//     value inside a JSON document that is then base64-encoded: a JWT's
//     payload, jq's tostring | @base64).
//
// Found by scanning decoded views of the text as well as the text itself
// (each decoded byte remembers where it came from, and the whole escape is
// redacted), so that no list of spellings is needed:
//   - JSON escapes in any mix: \uXXXX for any character in either hex case,
//     surrogate pairs, \/ and the short escapes;
//   - HTML character references: &lt; &gt; &amp; &quot; &apos; and numeric
//     ones, decimal or hex, with leading zeros;
//   - URL escapes %HH in either hex case (encodeURIComponent's spelling);
//   - the above nested up to three levels (a JSON document logged inside a
//     JSON string, &amp;lt;, \u0026lt;);
//   - base64 wrapped across lines (PEM at 64 columns, MIME at 76, YAML
//     block scalars), with \n, \r\n or \r breaks, raw or written as \n
//     escapes inside a JSON string.
//
// # Ids left whole
//
// A caller names with KeepID the ids it generated and shows as they are
// (wfrun's run ids), or with KeepIDsWhere a rule that tells them (wfrun's
// task ids carry their run's tag): a registered value found only inside an occurrence of
// a kept id is not masked there, since masking it would mark which
// characters of an id shown whole elsewhere are the value. Every other
// occurrence is masked as above.
//
// # What no masker catches
//
// Masking recognises a value by its bytes; code that transforms the value
// before printing it defeats any masker. SECURITY.md gives the advice for
// each case. Not masked:
//   - a value reversed, re-cased, or otherwise rewritten character by
//     character;
//   - a value split: printed in pieces each shorter than a registered form
//     (character by character, or half here and half there), or only a
//     fragment of it printed;
//   - a value re-encoded by user code in a way not listed above: hex,
//     base32, compressed, encrypted, hashed, base64 of a value wrapped
//     mid-run in some other way, or any encoding applied twice beyond the
//     nesting above;
//   - values derived from a secret (a signature, an issued token) unless
//     they are registered too;
//   - values shorter than the minimum length, and a short field of a JSON
//     secret printed on its own.
//
// # Registering
//
// Register and RegisterAll may be called at any time, concurrently with
// masking. New patterns join a pending set matched in the same pass; the
// automaton is rebuilt with every pattern when that set would outgrow it,
// so registering N values one at a time costs O(N log N) (BenchmarkRegister),
// and after enough masking with patterns pending, the rebuild happens in the
// background. ContainsAny(doc, since) tells whether a document masked when
// Len() was since can hold a pattern registered after: only those need
// masking again. An Index answers the same question for many stored texts
// at once without reading them: it keeps the 4-byte pieces of everything
// the Masker scans in each text (decoded views included), and lists the
// texts that hold the rarest piece of some new pattern, so re-masking after
// a new value costs the texts that may hold it, not all of them.
//
// # Around the Masker
//
// MaskJSON masks a JSON document and keeps it valid, Writer masks a byte
// stream whose values may be split across writes, Excerpt masks a whole text
// before cutting it, and NewHandler wraps an slog.Handler so messages and
// attributes are masked.
//
// View and Archive work on run documents (Conductor's execution JSON) and
// need no Masker: they apply the Orkes rules for "_secrets", "_masked" and a
// definition's maskedFields. ArchivedSecretsNeeded tells the engine whether a
// restart of an archived run would need data that archiving destroyed.
//
// Nothing in this package puts a value into an error message or a log line.
package masking
