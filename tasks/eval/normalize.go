package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"time"
)

// maxSafeInt is 2^53, the largest range in which every integer has an
// exact float64 (and JavaScript number) representation.
const maxSafeInt = 1 << 53

// number applies the package's one rule for numbers: integral values within
// ±2^53 are int64, others float64, NaN and infinities nil.
func number(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	if f == math.Trunc(f) && f >= -maxSafeInt && f <= maxSafeInt {
		return int64(f)
	}
	return f
}

// normalize converts an evaluator's result into plain JSON-shaped Go values
// under the package's number rule.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, bool:
		return x, nil
	case float64:
		return number(x), nil
	case float32:
		return number(float64(x)), nil
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint:
		return number(float64(x)), nil
	case uint64:
		return number(float64(x)), nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("bad number %q", string(x))
		}
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		return number(f), nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case time.Duration:
		return x.String(), nil
	case Lazy:
		return normalize(map[string]any(x))
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	}
	// Anything else (typed slices or maps from expr builtins) goes through
	// reflection for containers and JSON for the rest.
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			n, err := normalize(rv.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			out := make(map[string]any, rv.Len())
			it := rv.MapRange()
			for it.Next() {
				n, err := normalize(it.Value().Interface())
				if err != nil {
					return nil, err
				}
				out[it.Key().String()] = n
			}
			return out, nil
		}
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return nil, fmt.Errorf("result of type %T is not data", v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("result of type %T cannot be represented as JSON", v)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("result of type %T cannot be represented as JSON", v)
	}
	return normalize(out)
}
