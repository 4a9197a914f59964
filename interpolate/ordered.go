package interpolate

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/wfrun/wfrun/internal/jsonenc"
)

// object is a JSON object that remembers member order. It implements ojg's jp.Keyed, so
// wildcard, recursive-descent and filter results come out in document order (Jayway's
// order), which plain Go maps cannot give.
type object struct {
	keys []string
	vals map[string]any
}

func (o *object) ValueForKey(k string) (any, bool) {
	v, ok := o.vals[k]
	return v, ok
}

// SetValueForKey is required by jp.Keyed; templates only read, but keep it correct.
func (o *object) SetValueForKey(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *object) RemoveValueForKey(k string) {
	if _, ok := o.vals[k]; !ok {
		return
	}
	delete(o.vals, k)
	for i, key := range o.keys {
		if key == k {
			o.keys = append(o.keys[:i:i], o.keys[i+1:]...)
			break
		}
	}
}

func (o *object) Keys() []string { return o.keys }

// decodeOrdered turns a (validated) JSON value into []any, *object, string, int64, float64,
// bool and nil. Duplicate keys keep the last value, as encoding/json does.
func decodeOrdered(r gjson.Result) any {
	switch r.Type {
	case gjson.String:
		return r.Str
	case gjson.Number:
		if i, err := strconv.ParseInt(r.Raw, 10, 64); err == nil {
			return i
		}
		return r.Num
	case gjson.True:
		return true
	case gjson.False:
		return false
	case gjson.JSON:
		if r.IsArray() {
			arr := []any{}
			r.ForEach(func(_, v gjson.Result) bool {
				arr = append(arr, decodeOrdered(v))
				return true
			})
			return arr
		}
		o := &object{vals: map[string]any{}}
		r.ForEach(func(k, v gjson.Result) bool {
			o.SetValueForKey(k.Str, decodeOrdered(v))
			return true
		})
		return o
	}
	return nil
}

// appendOrdered encodes a decoded value as compact JSON.
func appendOrdered(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		return strconv.AppendBool(dst, x)
	case string:
		return jsonenc.AppendString(dst, x)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(dst, "null"...)
		}
		b, _ := json.Marshal(x)
		return append(dst, b...)
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendOrdered(dst, e)
		}
		return append(dst, ']')
	case *object:
		dst = append(dst, '{')
		for i, k := range x.keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonenc.AppendString(dst, k)
			dst = append(dst, ':')
			dst = appendOrdered(dst, x.vals[k])
		}
		return append(dst, '}')
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	}
	// Anything else (ojg never produces it from our input) is encoded generically.
	b, err := json.Marshal(v)
	if err != nil {
		return append(dst, "null"...)
	}
	return append(dst, b...)
}

// unquote decodes a JSON string literal (quotes included) into a new string that shares no
// memory with raw (raw may alias a buffer the SecretSource owns). One allocation.
func unquote(raw string) string {
	s := raw[1 : len(raw)-1]
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return strings.Clone(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		i++
		switch s[i] {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, n := hex4(s[i+1:])
			i += n
			if utf16.IsSurrogate(r) && strings.HasPrefix(s[i+1:], `\u`) {
				if r2, n2 := hex4(s[i+3:]); n2 == 4 {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					}
				}
			}
			if utf16.IsSurrogate(r) {
				r = utf8.RuneError
			}
			b.WriteRune(r)
		default: // '"', '\\', '/'
			b.WriteByte(s[i])
		}
		i++
	}
	return b.String()
}

// hex4 reads four hex digits; it returns how many it consumed (4 on success).
func hex4(s string) (rune, int) {
	if len(s) < 4 {
		return utf8.RuneError, 0
	}
	v, err := strconv.ParseUint(s[:4], 16, 32)
	if err != nil {
		return utf8.RuneError, 0
	}
	return rune(v), 4
}
