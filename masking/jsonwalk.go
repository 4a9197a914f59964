package masking

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrInvalidJSON is returned (wrapped, with the byte offset) for input that
// is not a single valid JSON value. The message never quotes the input, which
// may hold secrets.
var ErrInvalidJSON = errors.New("masking: invalid JSON")

// ErrTooDeep is returned for documents nested deeper than MaxDepth.
var ErrTooDeep = errors.New("masking: JSON nested too deeply")

// MaxDepth bounds object/array nesting, as encoding/json does, so a hostile
// document cannot exhaust the stack.
const MaxDepth = 10000

// seg is one step of the path to the current value: an object key (raw, as
// it appears between the quotes) or an array index.
type seg struct {
	key   []byte // nil for an array element
	index int
}

// walker validates a JSON document and copies it to out, byte for byte,
// except where a hook rewrites a string or replaces a member's value by
// "***". Whitespace and number spellings are preserved.
type walker struct {
	src  []byte
	pos  int
	out  []byte
	mute int // >0 while skipping a replaced value: nothing is written
	path []seg

	// redactMember reports whether the value of member key (raw) of the
	// object at w.path is replaced by "***".
	redactMember func(w *walker, key []byte) bool
	// str writes a string token whose body is raw (escaped, without quotes).
	str func(w *walker, raw []byte, escaped bool)
	// valueDone is told the span of every value once it is complete
	// (inner values first).
	valueDone func(start, end int)
}

func (w *walker) fail(msg string) error {
	return fmt.Errorf("%w: offset %d: %s", ErrInvalidJSON, w.pos, msg)
}

func (w *walker) emit(b []byte) {
	if w.mute == 0 {
		w.out = append(w.out, b...)
	}
}

func (w *walker) emitByte(c byte) {
	if w.mute == 0 {
		w.out = append(w.out, c)
	}
}

// document walks the whole input: one value with optional whitespace.
func (w *walker) document() error {
	w.ws()
	if err := w.value(0); err != nil {
		return err
	}
	w.ws()
	if w.pos != len(w.src) {
		return w.fail("unexpected data after the top-level value")
	}
	return nil
}

func (w *walker) ws() {
	start := w.pos
	for w.pos < len(w.src) {
		switch w.src[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
			continue
		}
		break
	}
	w.emit(w.src[start:w.pos])
}

func (w *walker) value(depth int) error {
	if w.valueDone == nil {
		return w.value1(depth)
	}
	start := w.pos
	if err := w.value1(depth); err != nil {
		return err
	}
	w.valueDone(start, w.pos)
	return nil
}

func (w *walker) value1(depth int) error {
	if w.pos >= len(w.src) {
		return w.fail("unexpected end of input, expected a value")
	}
	switch c := w.src[w.pos]; {
	case c == '{':
		return w.object(depth + 1)
	case c == '[':
		return w.array(depth + 1)
	case c == '"':
		raw, esc, err := w.stringToken()
		if err != nil {
			return err
		}
		w.writeString(raw, esc)
		return nil
	case c == 't':
		return w.literal("true")
	case c == 'f':
		return w.literal("false")
	case c == 'n':
		return w.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return w.number()
	default:
		return w.fail("invalid character, expected a value")
	}
}

func (w *walker) writeString(raw []byte, esc bool) {
	if w.mute == 0 && w.str != nil {
		w.str(w, raw, esc)
		return
	}
	w.emitByte('"')
	w.emit(raw)
	w.emitByte('"')
}

func (w *walker) object(depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("%w: offset %d: more than %d levels", ErrTooDeep, w.pos, MaxDepth)
	}
	w.emitByte('{')
	w.pos++
	w.ws()
	if w.pos < len(w.src) && w.src[w.pos] == '}' {
		w.pos++
		w.emitByte('}')
		return nil
	}
	for {
		if w.pos >= len(w.src) || w.src[w.pos] != '"' {
			return w.fail("expected a string object key")
		}
		key, esc, err := w.stringToken()
		if err != nil {
			return err
		}
		w.writeString(key, esc)
		w.ws()
		if w.pos >= len(w.src) || w.src[w.pos] != ':' {
			return w.fail("expected ':' after object key")
		}
		w.pos++
		w.emitByte(':')
		w.ws()
		redacted := w.redactMember != nil && w.redactMember(w, key)
		if redacted {
			w.emit([]byte(`"` + Redacted + `"`))
			w.mute++
		}
		w.path = append(w.path, seg{key: key})
		err = w.value(depth)
		w.path = w.path[:len(w.path)-1]
		if redacted {
			w.mute--
		}
		if err != nil {
			return err
		}
		w.ws()
		if w.pos >= len(w.src) {
			return w.fail("unexpected end of input in object")
		}
		switch w.src[w.pos] {
		case ',':
			w.pos++
			w.emitByte(',')
			w.ws()
		case '}':
			w.pos++
			w.emitByte('}')
			return nil
		default:
			return w.fail("expected ',' or '}' in object")
		}
	}
}

func (w *walker) array(depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("%w: offset %d: more than %d levels", ErrTooDeep, w.pos, MaxDepth)
	}
	w.emitByte('[')
	w.pos++
	w.ws()
	if w.pos < len(w.src) && w.src[w.pos] == ']' {
		w.pos++
		w.emitByte(']')
		return nil
	}
	for i := 0; ; i++ {
		w.path = append(w.path, seg{index: i})
		err := w.value(depth)
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return err
		}
		w.ws()
		if w.pos >= len(w.src) {
			return w.fail("unexpected end of input in array")
		}
		switch w.src[w.pos] {
		case ',':
			w.pos++
			w.emitByte(',')
			w.ws()
		case ']':
			w.pos++
			w.emitByte(']')
			return nil
		default:
			return w.fail("expected ',' or ']' in array")
		}
	}
}

// stringToken validates the string at w.pos and returns its body.
func (w *walker) stringToken() (raw []byte, escaped bool, err error) {
	start := w.pos + 1
	i := start
	for i < len(w.src) {
		c := w.src[i]
		switch {
		case c == '"':
			w.pos = i + 1
			return w.src[start:i], escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(w.src) {
				w.pos = i
				return nil, false, w.fail("unterminated escape in string")
			}
			switch w.src[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(w.src) || !isHex4(w.src[i+2:i+6]) {
					w.pos = i
					return nil, false, w.fail(`invalid \u escape in string`)
				}
				i += 6
			default:
				w.pos = i
				return nil, false, w.fail("invalid escape in string")
			}
		case c < 0x20:
			w.pos = i
			return nil, false, w.fail("control character in string")
		default:
			i++
		}
	}
	w.pos = i
	return nil, false, w.fail("unterminated string")
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func (w *walker) literal(lit string) error {
	if !bytes.HasPrefix(w.src[w.pos:], []byte(lit)) {
		return w.fail("invalid literal")
	}
	w.emit(w.src[w.pos : w.pos+len(lit)])
	w.pos += len(lit)
	return nil
}

func (w *walker) number() error {
	s := w.src
	i := w.pos
	if s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		digits()
	default:
		w.pos = i
		return w.fail("invalid number")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			w.pos = i
			return w.fail("invalid number: no digits after '.'")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			w.pos = i
			return w.fail("invalid number: no digits in exponent")
		}
	}
	w.emit(s[w.pos:i])
	w.pos = i
	return nil
}

// unescape decodes a valid JSON string body. Lone surrogates become U+FFFD,
// as in encoding/json.
func unescape(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch raw[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := rune(hex4(raw[i+2 : i+6]))
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if r2 := utf16.DecodeRune(r, rune(hex4(raw[i+2:i+6]))); r2 != utf8.RuneError {
						r = r2
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\', '/'
			out = append(out, raw[i+1])
		}
		i += 2
	}
	return out
}

func hex4(b []byte) int {
	n, _ := strconv.ParseUint(string(b), 16, 32)
	return int(n)
}

// appendJSONString appends s as the body of a JSON string literal. Bytes are
// kept as they are except those JSON requires escaping.
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// keyIs reports whether the raw key body decodes to name.
func keyIs(raw []byte, name string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == name
	}
	return string(unescape(raw)) == name
}

// keyString decodes a raw key body.
func keyString(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	return string(unescape(raw))
}
