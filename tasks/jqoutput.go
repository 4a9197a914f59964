package tasks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// decodeJQInput reads the task input with each number's text kept
// (json.Number): gojq then holds a number written with a fraction or an
// exponent as a float64 and another as an integer, the kinds Jackson
// reads them as (DoubleNode, IntNode/LongNode/BigIntegerNode), which
// decide what % takes and how tostring writes a number (jqjava.go).
func decodeJQInput(raw json.RawMessage) (map[string]any, error) {
	m := map[string]any{}
	if len(raw) == 0 {
		return m, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("input is not a JSON object: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("input is not a JSON object: more than one value")
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// jqOutput is the task output {"result": first value, "resultList": [all
// values]} as Conductor's ObjectMapper writes it (writeJavaNode): a
// double in Java's text (1.0, 1.0E20), one that is not finite as a
// string ("Infinity", "-Infinity", "NaN"; Jackson's
// JsonWriteFeature.WRITE_NAN_AS_STRINGS, on by default and left on by
// conductor-oss's ObjectMapperProvider), an object's keys in its order.
func jqOutput(results []any, o *jqOrders) json.RawMessage {
	var b strings.Builder
	b.WriteString(`{"result":`)
	if len(results) > 0 {
		writeJavaNode(&b, results[0], o)
	} else {
		b.WriteString("null")
	}
	b.WriteString(`,"resultList":`)
	writeJavaNode(&b, results, o)
	b.WriteByte('}')
	return json.RawMessage(b.String())
}

// jacksonParsedNumbers returns v, a value gojq's fromjson read, with each
// number written with a fraction or an exponent as Jackson reads it: a
// double (1e400 is infinite; gojq keeps such a number's text when a
// float64 cannot hold it exactly). Integers stay exact, as Jackson's
// int, long and BigInteger nodes keep them.
func jacksonParsedNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			f, _ := x.Float64() // ±Inf on overflow, as Java's parseDouble
			return f
		}
	case []any:
		for i, e := range x {
			x[i] = jacksonParsedNumbers(e)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = jacksonParsedNumbers(e)
		}
	}
	return v
}
