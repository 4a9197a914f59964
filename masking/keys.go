package masking

import "bytes"

// KeyIs reports whether raw, the body of a JSON object key exactly as it
// appears between its quotes (escapes included), decodes to name. It is the
// one recogniser of the `_secrets` and `_masked` keys: "\u005fsecrets" is
// "_secrets". View, Archive and the run's secret boundary all use it.
func KeyIs(raw []byte, name string) bool { return keyIs(raw, name) }

// MayHoldKey reports whether some object key of the JSON document doc could
// decode to name. False is certain; true means "decode and look". For a
// name of letters, digits and '_' (such as "_secrets") false needs only
// that neither name nor a \u escape occurs in doc: \u is the one JSON escape
// that can spell those characters. Any other name needs doc to hold no
// escape at all.
func MayHoldKey(doc []byte, name string) bool {
	if bytes.Contains(doc, []byte(name)) {
		return true
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return bytes.IndexByte(doc, '\\') >= 0
		}
	}
	return bytes.Contains(doc, []byte(`\u`))
}
