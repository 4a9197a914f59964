package tasks

import (
	"reflect"
	"slices"
	"sort"
	"unicode/utf16"
	"unsafe"
	"weak"

	"github.com/itchyny/gojq"
)

// jackson-jq's objects keep an order (ObjectNode, a LinkedHashMap): `+`,
// `*`, assignments, del, from_entries and with_entries keep the left
// object's keys in their order and add the new ones after, in the order
// they come; a `{…}` the query builds lists its keys in Java HashMap
// order (tree/ObjectConstruction.java collects the fields in a HashMap);
// keys_unsorted, to_entries, `.[]`, `..`, paths, tostring, tojson and the
// task output list them in that order. gojq's objects are Go maps, which
// keep none, and gojq lists their keys sorted.
//
// wfrun keeps the order beside the values: a run's jqOrders records, for
// each object wfrun's functions build or gojq builds from one of them,
// its keys in jackson-jq's order, by the map's identity (gojq never
// changes a map once built; it copies). The query is
// rewritten so that what builds an object records its order (keyOrders:
// `{…}` through _wfrun_hashorder, an assignment through _wfrun_reorder,
// which orders the maps gojq copied as the ones they were copied from,
// `+` and `*` in jqlong.go) and what lists keys reads it (`.[]` through
// _wfrun_each, keys_unsorted, to_entries, tostring, tojson, the output).
// An object without a record (the task input's, gojq's own) lists its
// keys sorted, as before; the task input's objects are recorded so, so
// that a copy of one is ordered as it.
//
// Not followed: the task input's own order (Conductor builds it as a
// HashMap; wfrun keeps its keys sorted), objects fromjson reads, and
// the builtins gojq runs in Go that build objects (which then list their
// keys sorted). Every object a query builds is ordered, however many: a
// cap on the records would make the output depend on when the garbage
// collector last ran (records of objects it took count until a sweep).

const jqOrdersVar = "$__wfrun_orders"

// jqOrders is one run's record of key orders, by the address of each
// object's map. A record holds its object weakly (weak.Pointer), so that
// the record keeps no object alive (a reduce that builds an object key by
// key makes as many copies as keys), and a record whose object the
// garbage collector took is told from one of another object at the same
// address. Records of objects taken are dropped as the table grows. A
// run's functions are called on its goroutine only.
type jqOrders struct {
	m         map[uintptr]jqOrder
	lastSweep int // len(m) after the last sweep
}

// jqOrder is an object and its keys in order (nil: sorted).
type jqOrder struct {
	obj  weak.Pointer[byte]
	keys []string
}

func newJQOrders() *jqOrders { return &jqOrders{m: map[uintptr]jqOrder{}} }

// mapRef is m's address (that of its header, a heap object of its own).
func mapRef(m map[string]any) (uintptr, *byte) {
	p := (*byte)(reflect.ValueOf(m).UnsafePointer())
	return uintptr(unsafe.Pointer(p)), p
}

// get is m's record.
func (o *jqOrders) get(m map[string]any) (jqOrder, bool) {
	if o == nil {
		return jqOrder{}, false
	}
	id, p := mapRef(m)
	r, ok := o.m[id]
	if !ok || r.obj.Value() != p {
		return jqOrder{}, false
	}
	return r, true
}

// known reports whether m has a record.
func (o *jqOrders) known(m map[string]any) bool {
	_, ok := o.get(m)
	return ok
}

// record sets m's order (keys nil: sorted) and returns m. keys must hold
// each of m's keys once.
func (o *jqOrders) record(m map[string]any, keys []string) map[string]any {
	if o == nil || len(m) < 2 && keys != nil {
		return m
	}
	if len(o.m) >= 1024 && len(o.m) >= 2*o.lastSweep {
		o.sweep()
	}
	id, p := mapRef(m)
	o.m[id] = jqOrder{obj: weak.Make(p), keys: keys}
	return m
}

// sweep drops the records of objects the garbage collector took.
func (o *jqOrders) sweep() {
	for id, r := range o.m {
		if r.obj.Value() == nil {
			delete(o.m, id)
		}
	}
	o.lastSweep = len(o.m)
}

// keysOf lists m's keys in order.
func (o *jqOrders) keysOf(m map[string]any) []string {
	if r, ok := o.get(m); ok && r.keys != nil && len(r.keys) == len(m) {
		return r.keys
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// recordInput records every object of the task input as sorted, so that
// an assignment's copy of one is told from an object gojq built.
func (o *jqOrders) recordInput(v any) {
	switch x := v.(type) {
	case map[string]any:
		o.record(x, nil)
		for _, e := range x {
			o.recordInput(e)
		}
	case []any:
		for _, e := range x {
			o.recordInput(e)
		}
	}
}

// merge is `+` of two objects (PlusOperator.java): l's keys in order, then
// r's new ones in order; deep merges `*` (MultiplyOperator.java), where
// two objects under the same key merge the same way.
func (o *jqOrders) merge(l, r map[string]any, deep bool) map[string]any {
	out := make(map[string]any, len(l)+len(r))
	keys := make([]string, 0, len(l)+len(r))
	for _, k := range o.keysOf(l) {
		out[k] = l[k]
		keys = append(keys, k)
	}
	for _, k := range o.keysOf(r) {
		v := r[k]
		if old, ok := out[k]; ok {
			if lm, ok := old.(map[string]any); ok && deep {
				if rm, ok := v.(map[string]any); ok {
					v = o.merge(lm, rm, true)
				}
			}
		} else {
			keys = append(keys, k)
		}
		out[k] = v
	}
	return o.record(out, keys)
}

// reorder records the order of the objects of out that gojq built from
// in (an assignment's copies along the paths it changed): in's keys that
// out keeps, in in's order, then out's new keys sorted. Objects out
// shares with in, or that have a record, are left as they are.
func (o *jqOrders) reorder(out, in any) {
	if o == nil {
		return
	}
	switch x := out.(type) {
	case map[string]any:
		im, ok := in.(map[string]any)
		if !ok || o.known(x) || reflect.ValueOf(x).Pointer() == reflect.ValueOf(im).Pointer() {
			return
		}
		keys := make([]string, 0, len(x))
		for _, k := range o.keysOf(im) {
			if _, ok := x[k]; ok {
				keys = append(keys, k)
			}
		}
		if len(keys) < len(x) {
			var added []string
			for k := range x {
				if _, ok := im[k]; !ok {
					added = append(added, k)
				}
			}
			slices.Sort(added)
			keys = append(keys, added...)
		}
		o.record(x, keys)
		for k, v := range x {
			o.reorder(v, im[k])
		}
	case []any:
		il, ok := in.([]any)
		if !ok || len(il) != len(x) || len(x) == 0 || &x[0] == &il[0] {
			return
		}
		for i := range x {
			o.reorder(x[i], il[i])
		}
	}
}

// javaHashMapOrder is the order a java.util.HashMap lists keys put into it
// in the order given (each once): by bucket, (h ^ h>>>16) & (n-1) of the
// key's String.hashCode, n the table's size (16, doubled while the keys
// are more than 3/4 of it), and in a bucket in the order they were put.
// (A bucket of 8 or more keys, which makes the HashMap grow or turn the
// bucket into a tree, is not followed.)
func javaHashMapOrder(keys []string) []string {
	n := 16
	for len(keys) > n*3/4 {
		n *= 2
	}
	buckets := make([]int, len(keys))
	for i, k := range keys {
		h := uint32(javaStringHash(k))
		buckets[i] = int((h ^ h>>16) & uint32(n-1))
	}
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return buckets[idx[a]] < buckets[idx[b]] })
	out := make([]string, len(keys))
	for i, j := range idx {
		out[i] = keys[j]
	}
	return out
}

// javaStringHash is String.hashCode: s[0]*31^(n-1) + … + s[n-1] over its
// UTF-16 units, in 32 bits.
func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r < 0x10000 {
			h = 31*h + int32(r)
			continue
		}
		a, b := utf16.EncodeRune(r)
		h = 31*h + int32(a)
		h = 31*h + int32(b)
	}
	return h
}

// hashOrder records the order of m, an object a `{…}` of the query built:
// HashMap order, the keys put in the order the literal names them (named
// lists the literal's keys, null for one computed from data; the keys
// computed are taken as put where the first of them is, in sorted order).
func (o *jqOrders) hashOrder(m map[string]any, named []any) map[string]any {
	if o == nil || len(m) < 2 {
		return m
	}
	put := make([]string, 0, len(m))
	seen := make(map[string]bool, len(m))
	computedDone := false
	for _, n := range named {
		if s, ok := n.(string); ok {
			if _, in := m[s]; in && !seen[s] {
				seen[s] = true
				put = append(put, s)
			}
			continue
		}
		if computedDone {
			continue
		}
		computedDone = true
		var rest []string
		for k := range m {
			if !slices.Contains(named, any(k)) {
				rest = append(rest, k)
			}
		}
		slices.Sort(rest)
		for _, k := range rest {
			seen[k] = true
			put = append(put, k)
		}
	}
	if len(put) != len(m) {
		for _, k := range o.keysOf(m) {
			if !seen[k] {
				put = append(put, k)
			}
		}
	}
	return o.record(m, javaHashMapOrder(put))
}

// reserveVariables turns the query's own mentions of the variables wfrun
// gives every query (the masker, the key orders) into an undefined
// variable's (jackson-jq's "Undefined variable", and null as a {$x} key's
// value). It runs before the rewrites, which pass them to wfrun's
// functions.
func reserveVariables(q *gojq.Query) {
	reserved := func(name string) bool { return name == jqOrdersVar || name == jqMaskerVar }
	walkJQ(q, nil, func(t *gojq.Term) {
		if t.Type == gojq.TermTypeFunc && t.Func != nil && reserved(t.Func.Name) {
			raise(t, "Undefined variable: "+t.Func.Name)
		}
		if t.Object != nil {
			for _, kv := range t.Object.KeyVals {
				if reserved(kv.Key) && kv.Val == nil {
					kv.Key, kv.Val = kv.Key[1:], &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeNull}}
				}
			}
		}
	})
}

// jqOrdersOf is the run's record given to a function as its argument.
func jqOrdersOf(v any) *jqOrders {
	o, _ := v.(*jqOrders)
	return o
}

var jqToEntries, jqFromEntries, jqKeysCode = mustCompileJQ("to_entries"), mustCompileJQ("from_entries"), mustCompileJQ("keys")

// jqKeyOrderOptions registers the functions the rewrites call.
func jqKeyOrderOptions() []gojq.CompilerOption {
	native := func(c *gojq.Code, v any) any {
		res, _ := c.Run(v).Next()
		return res
	}
	return []gojq.CompilerOption{
		gojq.WithFunction("_wfrun_hashorder", 2, 2, func(v any, args []any) any {
			m, ok := v.(map[string]any)
			named, _ := args[0].([]any)
			if !ok {
				return v
			}
			return jqOrdersOf(args[1]).hashOrder(m, named)
		}),
		gojq.WithFunction("_wfrun_reorder", 2, 2, func(v any, args []any) any {
			jqOrdersOf(args[1]).reorder(v, args[0])
			return v
		}),
		gojq.WithFunction("_wfrun_keys", 1, 1, func(v any, args []any) any {
			m, ok := v.(map[string]any)
			if !ok {
				return native(jqKeysCode, v)
			}
			keys := jqOrdersOf(args[0]).keysOf(m)
			out := make([]any, len(keys))
			for i, k := range keys {
				out[i] = k
			}
			return out
		}),
		// functions/ToEntriesFunction.java: {"key", "value"} in that order.
		gojq.WithFunction("_wfrun_to_entries", 1, 1, func(v any, args []any) any {
			m, ok := v.(map[string]any)
			if !ok {
				return native(jqToEntries, v)
			}
			o := jqOrdersOf(args[0])
			out := make([]any, 0, len(m))
			for _, k := range o.keysOf(m) {
				out = append(out, o.record(map[string]any{"key": k, "value": m[k]}, []string{"key", "value"}))
			}
			return out
		}),
		// functions/FromEntriesFunction.java: the keys in the order the
		// entries give them (key, Key, name, Name).
		gojq.WithFunction("_wfrun_from_entries", 1, 1, func(v any, args []any) any {
			res := native(jqFromEntries, v)
			m, ok := res.(map[string]any)
			entries, isList := v.([]any)
			if !ok || !isList {
				return res
			}
			keys := make([]string, 0, len(m))
			seen := map[string]bool{}
			for _, e := range entries {
				em, _ := e.(map[string]any)
				for _, name := range [...]string{"key", "Key", "name", "Name"} {
					if k, present := em[name]; present {
						if s, ok := k.(string); ok && !seen[s] {
							if _, in := m[s]; in {
								seen[s] = true
								keys = append(keys, s)
							}
						}
						break
					}
				}
			}
			if len(keys) != len(m) {
				return res
			}
			return jqOrdersOf(args[0]).record(m, keys)
		}),
	}
}

// jqKeyOrderDefs are the builtins that list or build objects, as
// jackson-jq 0.0.13 defines them (jq.json there) where gojq's would
// iterate in its own order: each `.[]` in them is rewritten as the
// query's are. Added with jqJacksonDefs.
const jqKeyOrderDefs = `def keys_unsorted: _wfrun_keys($__wfrun_orders);
def to_entries: _wfrun_to_entries($__wfrun_orders);
def from_entries: _wfrun_from_entries($__wfrun_orders);
def with_entries(f): to_entries | map(f) | from_entries;
def map(f): [.[] | f];
def map_values(f): .[] |= f;
def recurse: recurse(.[]?);
def paths(f): _wfrun_path(.. | select(f)) | select(length > 0);
def leaf_paths: paths(scalars);
def walk(f): . as $in | if type == "object" then reduce keys[] as $key ({}; . + {($key): ($in[$key] | walk(f))}) | f
  elif type == "array" then map(walk(f)) | f else f end;
`

// jqEachDef is `.[]` with an object's values in its order, an index by a
// key read from the object, so that it is a path (an assignment's left
// side, path(f), del); and path(f) for the definitions above, which
// jackson-jq lacks (jqbuiltins.go rewrites the query's calls of it). Added
// after the rewrites, which would otherwise turn its own `.[]` into a call
// of itself.
const jqEachDef = `def _wfrun_each: if type == "object" then _wfrun_keys($__wfrun_orders)[] as $k | .[$k] else .[] end;
def _wfrun_path(f): path(f); .`

// keyOrders rewrites q so that objects keep jackson-jq's key order: each
// `{…}` records its HashMap order, each assignment orders the objects it
// copied, and each `.[]` iterates an object in its order.
func keyOrders(q *gojq.Query) {
	orders := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: jqOrdersVar}}}
	call := func(name string, args ...*gojq.Query) *gojq.Query {
		return &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: name, Args: args}}}
	}
	wrapped := map[*gojq.Query]bool{}
	walkJQOrder(q, func(x *gojq.Query) {
		if !jqAssignOps[x.Op] || x.Left == nil || x.Right == nil || wrapped[x] {
			return
		}
		// . as $in | (A op B) | _wfrun_reorder($in; $orders)
		const in = "$__wfrun_assign_in"
		assign := &gojq.Query{Left: x.Left, Op: x.Op, Right: x.Right}
		wrapped[assign] = true
		reordered := &gojq.Query{Left: &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeQuery, Query: assign}}, Op: gojq.OpPipe,
			Right: call("_wfrun_reorder", call(in), orders)}
		*x = gojq.Query{FuncDefs: x.FuncDefs, Left: &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeIdentity}}, Op: gojq.OpPipe,
			Patterns: []*gojq.Pattern{{Name: in}}, Right: reordered}
	}, nil, func(t *gojq.Term) {
		if t.Type == gojq.TermTypeObject && t.Object != nil {
			var named []*gojq.Query
			for _, kv := range t.Object.KeyVals {
				var key *gojq.Term
				switch {
				case kv.KeyString != nil && kv.KeyString.Queries == nil:
					key = &gojq.Term{Type: gojq.TermTypeString, Str: &gojq.String{Str: kv.KeyString.Str}}
				case kv.KeyString == nil && kv.KeyQuery == nil && kv.Key != "":
					name := kv.Key
					if name[0] == '$' {
						name = name[1:]
					}
					key = &gojq.Term{Type: gojq.TermTypeString, Str: &gojq.String{Str: name}}
				default:
					key = &gojq.Term{Type: gojq.TermTypeNull}
				}
				named = append(named, &gojq.Query{Term: key})
			}
			list := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeArray, Array: &gojq.Array{Query: commaList(named)}}}
			obj := &gojq.Term{Type: gojq.TermTypeObject, Object: t.Object}
			built := &gojq.Query{Left: &gojq.Query{Term: obj}, Op: gojq.OpPipe, Right: call("_wfrun_hashorder", list, orders)}
			*t = gojq.Term{Type: gojq.TermTypeQuery, Query: built, SuffixList: t.SuffixList}
		}
		eachSuffixes(t, call)
	})
}

// commaList is qs joined by ",".
func commaList(qs []*gojq.Query) *gojq.Query {
	if len(qs) == 0 {
		return nil
	}
	q := qs[0]
	for _, x := range qs[1:] {
		q = &gojq.Query{Left: q, Op: gojq.OpComma, Right: x}
	}
	return q
}

// eachSuffixes rewrites t's first `[]` suffix (and `[]?`) into a pipe into
// _wfrun_each (try _wfrun_each), the suffixes after it kept after it, and
// so on for each `[]` left.
func eachSuffixes(t *gojq.Term, call func(string, ...*gojq.Query) *gojq.Query) {
	for {
		i := slices.IndexFunc(t.SuffixList, func(s *gojq.Suffix) bool { return s.Iter })
		if i < 0 {
			return
		}
		prefix := *t
		prefix.SuffixList = t.SuffixList[:i]
		rest := t.SuffixList[i+1:]
		each := call("_wfrun_each")
		if len(rest) > 0 && rest[0].Optional {
			each = &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeTry, Try: &gojq.Try{Body: each}}}
			rest = rest[1:]
		}
		pipe := &gojq.Query{Left: &gojq.Query{Term: &prefix}, Op: gojq.OpPipe, Right: each}
		*t = gojq.Term{Type: gojq.TermTypeQuery, Query: pipe, SuffixList: slices.Clone(rest)}
	}
}
