package interpolate

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/tidwall/gjson"
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
		return appendQuoted(dst, x)
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
			dst = appendQuoted(dst, k)
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
