package tasks

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/itchyny/gojq"

	"github.com/wfrun/wfrun/runsecrets"
)

// Conductor runs JSON_JQ_TRANSFORM on jackson-jq 0.0.13 (conductor-oss
// dependencies.gradle, revJq), and the failure reason its users see is
// that library's exception message. This file words gojq's runtime errors
// as jackson-jq 0.0.13 does. The wording was read from jackson-jq's
// sources at tag 0.0.13 (github.com/eiiches/jackson-jq, under
// jackson-jq/src/main/java/net/thisptr/jackson/jq/):
//   - exception/JsonQueryException.java (format: node types lower case,
//     integral doubles as integers) and JsonQueryTypeException.java (a
//     value as "type (preview)", the preview cut to 14 characters);
//   - operators/{Plus,Minus,Multiply,Divide,Modulo}Operator.java;
//   - tree/NegativeExpression.java, tree/JsonQueryKeyFieldConstruction.java,
//     tree/FormattingFilter.java;
//   - tree/fieldaccess/BracketFieldAccess.java and
//     tree/fieldaccess/resolved/Resolved{String,Index,Range,All}FieldAccess.java;
//   - functions/ErrorFunction.java, exception/JsonQueryUserException.java.
//
// gojq keeps the values of a failed operation in its error (unexported
// fields, read here by reflection, which reads and never writes); its own
// message has them only as previews cut at 30 bytes, from which no
// masking can start.

// jqPreviewWidth is jackson-jq's MAX_JSON_STRING_LENGTH: a preview longer
// than this many UTF-16 units is cut to 11 and "..." added.
const jqPreviewWidth = 14

// jqErrorValue reads field name of a gojq error value as plain JSON data;
// ok is false when err has no such field.
func jqErrorValue(err error, name string) (any, bool) {
	rv := reflect.ValueOf(err)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return nil, false
	}
	f := rv.Elem().FieldByName(name)
	if !f.IsValid() {
		return nil, false
	}
	return plainValue(f, 0)
}

var (
	bigIntType     = reflect.TypeFor[big.Int]()
	jsonNumberType = reflect.TypeFor[json.Number]()
)

// plainValue copies a value gojq computes with (nil, bool, int, float64,
// *big.Int, json.Number, string, []any, map[string]any) out of a read-only
// reflect.Value. Deeper than 10000 levels or of another type, ok is false.
func plainValue(v reflect.Value, depth int) (any, bool) {
	if depth > 10000 {
		return nil, false
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return nil, true
		}
		return plainValue(v.Elem(), depth+1)
	case reflect.Bool:
		return v.Bool(), true
	case reflect.Int, reflect.Int64, reflect.Int32:
		return int(v.Int()), true
	case reflect.Float64:
		return v.Float(), true
	case reflect.String:
		if v.Type() == jsonNumberType {
			return json.Number(v.String()), true
		}
		return v.String(), true
	case reflect.Slice:
		if v.IsNil() && v.Type().Elem().Kind() != reflect.Interface {
			return nil, false
		}
		out := make([]any, v.Len())
		for i := range out {
			x, ok := plainValue(v.Index(i), depth+1)
			if !ok {
				return nil, false
			}
			out[i] = x
		}
		return out, true
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return nil, false
		}
		out := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			x, ok := plainValue(it.Value(), depth+1)
			if !ok {
				return nil, false
			}
			out[it.Key().String()] = x
		}
		return out, true
	case reflect.Pointer:
		if v.IsNil() || v.Elem().Type() != bigIntType {
			return nil, false
		}
		// big.Int is {neg bool; abs nat}: rebuilt from its words.
		b := v.Elem()
		neg, abs := b.FieldByName("neg"), b.FieldByName("abs")
		if !neg.IsValid() || !abs.IsValid() || abs.Kind() != reflect.Slice {
			return nil, false
		}
		words := make([]big.Word, abs.Len())
		for i := range words {
			words[i] = big.Word(abs.Index(i).Uint())
		}
		z := new(big.Int).SetBits(words)
		if neg.Bool() {
			z.Neg(z)
		}
		return z, true
	}
	return nil, false
}

// jqErrorType is the name of err's concrete gojq type ("binopTypeError").
func jqErrorType(err error) string {
	t := reflect.TypeOf(err)
	if t == nil {
		return ""
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.PkgPath() != "github.com/itchyny/gojq" {
		return ""
	}
	return t.Name()
}

// jqIndexErrorTypes are gojq's errors of an index, a slice or a key read;
// the index diagnosis (jqindex.go) places them.
var jqIndexErrorTypes = []string{"expectedObjectError", "expectedArrayError", "objectKeyNotStringError",
	"arrayIndexNotNumberError", "stringIndexNotNumberError", "expectedStartEndError"}

// jqBinopWordings are jackson-jq's endings of an operator's type error.
var jqBinopWordings = map[string]string{
	"add": "cannot be added", "subtract": "cannot be subtracted",
	"multiply": "cannot be multiplied", "divide": "cannot be divided",
}

// jacksonRuntimeReason words a gojq runtime error as jackson-jq does;
// ok is false for an error it has no wording for. m masks the values it
// quotes (nil: none); the caller masks the whole reason again.
func jacksonRuntimeReason(m runsecrets.Masker, err error) (string, bool) {
	// Before ValueError, which it implements for try/catch (jqCaught).
	var fe *jqFromJSONError
	if errors.As(err, &fe) {
		return fe.reason(m), true
	}
	var ve gojq.ValueError
	if errors.As(err, &ve) {
		var he *gojq.HaltError
		if !errors.As(err, &he) {
			// error(x): the message is x as text (JsonQueryUserException).
			return jacksonText(m, ve.Value()), true
		}
	}
	var me *jqModuloError
	if errors.As(err, &me) {
		return jqModuloWording, true
	}
	var ie *jqImplodeError
	if errors.As(err, &ie) {
		return ie.Error(), true
	}
	var be *jqBinopError
	if errors.As(err, &be) {
		return be.reason(m), true
	}
	var ne *jqNegateError
	if errors.As(err, &ne) {
		return jqPreview(m, ne.in) + " cannot be negated", true
	}
	typ := jqErrorType(err)
	val := func(name string) any { v, _ := jqErrorValue(err, name); return v }
	switch typ {
	case "iteratorError":
		return "Cannot iterate over " + jqTypeOf(val("v")), true
	case "expectedObjectError":
		return "Cannot index " + jqTypeOf(val("v")) + " with string", true
	case "expectedArrayError":
		return "Cannot index " + jqTypeOf(val("v")) + " with number", true
	case "objectKeyNotStringError":
		// An object built with a key that is not a string; an index with
		// such a key is placed by the diagnosis first.
		return "Cannot use " + jqPreview(m, val("v")) + " as object key", true
	case "binopTypeError":
		name, _ := jqErrorValue(err, "name")
		if name == "modulo" {
			return jqModuloWording, true
		}
		if w, ok := jqBinopWordings[name.(string)]; ok {
			return jqPreview(m, val("l")) + " and " + jqPreview(m, val("r")) + " " + w, true
		}
	case "unaryTypeError":
		// A negation jqorder.go did not rewrite: the value is shown.
		if name, _ := jqErrorValue(err, "name"); name == "negate" {
			return jqPreview(m, val("v")) + " cannot be negated", true
		}
	case "zeroDivisionError":
		return "number (" + jacksonNumberText(m, val("l")) + ") and number (" + jacksonNumberText(m, val("r")) +
			") cannot be divided because the divisor is zero", true
	case "func0TypeError", "func1TypeError":
		name, _ := jqErrorValue(err, "name")
		w, hasArg := jqErrorValue(err, "w")
		if n, ok := name.(string); ok {
			if r, ok := jacksonFuncReason(m, n, val("v"), w, hasArg); ok {
				return r, true
			}
		}
	case "func0WrapError":
		if name, _ := jqErrorValue(err, "name"); name == "tonumber" {
			if s, ok := val("v").(string); ok {
				return jacksonToNumberReason(m, s), true
			}
		}
	case "formatRowError":
		// functions/AtShFunction.java: an array or object (alone or in
		// the array formatted) has no shell text.
		if typ, _ := jqErrorValue(err, "typ"); typ == "sh" {
			return jqNodeType(val("v")) + " cannot be escaped for shell", true
		}
	case "formatNotFoundError":
		// tree/FormattingFilter.java.
		if n, ok := jqErrorValue(err, "n"); ok {
			return "Formatting operator " + n.(string) + " does not exist", true
		}
	case "func2WrapError":
		if name, _ := jqErrorValue(err, "name"); name == "setpath" {
			return jacksonSliceUpdateReason(val("v"), val("w"), val("x"))
		}
	case "zeroModuloError":
		l, r := val("l"), val("r")
		if !jqIntegral(l) || !jqIntegral(r) {
			return jqModuloWording, true
		}
		return "number (" + jacksonNumberText(m, l) + ") and number (" + jacksonNumberText(m, r) +
			") cannot be divided (remainder) because the divisor is zero", true
	}
	return "", false
}

const jqModuloWording = "to calculate module, both sides must be a integer"

// jqTypeOf is jackson-jq's (and jq's) name of v's type.
func jqTypeOf(v any) string {
	if v == nil {
		return "null"
	}
	return gojq.TypeOf(v)
}

// jqIntegral reports whether v is a number with no fraction.
func jqIntegral(v any) bool {
	switch v := v.(type) {
	case int, *big.Int:
		return true
	case float64:
		return v == math.Trunc(v) && !math.IsInf(v, 0)
	case json.Number:
		f, err := v.Float64()
		return err == nil && f == math.Trunc(f)
	}
	return false
}

// jqPreview is jackson-jq's "type (preview)" of v. The preview is built
// from masked text: every string (keys too) masked with its pieces, the
// JSON text masked whole again, and only then cut to 14 characters.
func jqPreview(m runsecrets.Masker, v any) string {
	return jqPreviewOrdered(m, v, nil)
}

// jqPreviewOrdered is jqPreview with v's objects' keys in the order o
// records.
func jqPreviewOrdered(m runsecrets.Masker, v any, o *jqOrders) string {
	w := javaWriter{o: o}
	if m != nil {
		w.mask = func(s string) string { return maskPieces(m, s) }
	}
	var b strings.Builder
	w.write(&b, v)
	return jqTypeOf(v) + " (" + cutUTF16(runsecrets.CodeExcerpt(m, b.String(), 0), jqPreviewWidth) + ")"
}

// jacksonText is JsonNode.asText of v, masked: a string itself, a number
// or boolean its JSON text, null "null", an array or object "".
func jacksonText(m runsecrets.Masker, v any) string {
	switch v := v.(type) {
	case string:
		return maskPieces(m, v)
	case []any, map[string]any:
		return ""
	}
	return runsecrets.CodeExcerpt(m, javaAsText(v, nil).(string), 0)
}

// jacksonNumberText is a number as jackson-jq's String.format("%s") of a
// double writes it (an integral one as a long), masked.
func jacksonNumberText(m runsecrets.Masker, v any) string {
	return runsecrets.CodeExcerpt(m, javaNumber(v), 0)
}

// maskLeaves returns v with every string and object key masked (with the
// pieces of values in it), for text that will be cut afterwards.
func maskLeaves(m runsecrets.Masker, v any) any {
	if m == nil {
		return v
	}
	switch v := v.(type) {
	case string:
		return maskPieces(m, v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = maskLeaves(m, x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[maskPieces(m, k)] = maskLeaves(m, x)
		}
		return out
	}
	return v
}

// maxPieceScan bounds the part of a string maskPieces searches: a jq
// reason is cut at maxQuotedError bytes, so no later byte is shown.
const maxPieceScan = maxQuotedError

// maxPieceStart is the longest text maskPieces tries as the start of a
// piece: the masker skips pieces shorter than its minimum length
// (masking.DefaultMinLength unless configured), and a piece has one of
// every length from that minimum up.
const maxPieceStart = 16

// maskPieces masks s whole and with the pieces of values in it, and then
// also every piece of a value that the query glued to other text
// ("ab" + .token[0:12]): the word masking of CodeExcerpt only finds a
// piece that is a word of its own. From each place in s, the longest
// text that is a piece of a value (the masker's fragment test) becomes
// "***".
func maskPieces(m runsecrets.Masker, s string) string {
	s = runsecrets.CodeExcerpt(m, s, 0)
	f, ok := m.(interface{ MaskFragments([]byte) []byte })
	if !ok || s == "" {
		return s
	}
	isPiece := func(x string) bool { return string(f.MaskFragments([]byte(x))) == "***" }
	scan, rest := s, ""
	if len(s) > maxPieceScan {
		i := maxPieceScan
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		scan, rest = s[:i], s[i:]
	}
	// nextEnd is the end of the rune at j.
	nextEnd := func(t string, j int) int {
		_, w := utf8.DecodeRuneInString(t[j:])
		return j + w
	}
	parts := strings.Split(scan, "***") // what is masked already stays
	for pi, t := range parts {
		var b strings.Builder
		for i := 0; i < len(t); {
			end := 0
			for j := nextEnd(t, i); j <= len(t) && j-i <= maxPieceStart; j = nextEnd(t, j) {
				if isPiece(t[i:j]) {
					end = j
					break
				}
				if j == len(t) {
					break
				}
			}
			if end > 0 {
				for end < len(t) && isPiece(t[i:nextEnd(t, end)]) {
					end = nextEnd(t, end)
				}
				b.WriteString("***")
				i = end
				continue
			}
			j := nextEnd(t, i)
			b.WriteString(t[i:j])
			i = j
		}
		parts[pi] = b.String()
	}
	return strings.Join(parts, "***") + rest
}

// cutUTF16 is jackson-jq's truncate: text longer than max UTF-16 units
// keeps its first max-3 units and gets "...". A surrogate pair the cut
// splits becomes U+FFFD.
func cutUTF16(s string, max int) string {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	if n <= max {
		return s
	}
	var b strings.Builder
	units := 0
	for _, r := range s {
		w := utf16.RuneLen(r)
		if units+w > max-3 {
			if units < max-3 {
				b.WriteRune(utf8.RuneError)
			}
			break
		}
		b.WriteRune(r)
		units += w
	}
	b.WriteString("...")
	return b.String()
}

// writeJackson writes v as Jackson's JsonNode.toString does
// (writeJavaNode), its objects' keys sorted.
func writeJackson(b *strings.Builder, v any) {
	writeJavaNode(b, v, nil)
}

// writeJacksonString quotes s as Jackson's generator does: '"' and '\\'
// escaped, \b \t \n \f \r by letter, other control characters as \u00XX
// (upper-case hex), everything else as it is.
func writeJacksonString(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hex[r>>4])
				b.WriteByte(hex[r&0xf])
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// javaNumber writes a number as jackson-jq shows it: an integral value
// that fits a long as an integer (jackson-jq keeps those as IntNode or
// LongNode), another as Java's Double.toString.
func javaNumber(v any) string {
	switch v := v.(type) {
	case int:
		return strconv.Itoa(v)
	case *big.Int:
		return v.String()
	case json.Number:
		if f, err := v.Float64(); err == nil {
			return javaNumber(f)
		}
		return v.String()
	case float64:
		if v == math.Trunc(v) && v >= -(1<<63) && v < 1<<63 {
			return strconv.FormatInt(int64(v), 10)
		}
		return javaDouble(v)
	}
	return "null"
}

// javaDouble is Java's Double.toString: plain notation with at least one
// fraction digit from 10^-3 to 10^7, else "d.dddE[-]n".
func javaDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	if a := math.Abs(f); a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, 64)
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}
