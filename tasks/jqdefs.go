package tasks

import (
	"slices"

	"github.com/itchyny/gojq"
)

// jqJacksonDefs are builtins as jackson-jq 0.0.13 defines them, added to
// every query before its own definitions (which shadow them). Parsed
// afresh for every query, as the rewrites change the tree they are part
// of. From jackson-jq/src/main/ at tag 0.0.13:
//   - resources/net/thisptr/jackson/jq/jq.json: group, sort(f), min(f),
//     max(f), unique(f) and recurse_down, which gojq has under another
//     name; transpose, in and inside, whose jq bodies are taken as they
//     are there, so they fail where and as jackson-jq's do; paths, which
//     is paths(.) there: no path to a null or false;
//   - java/net/thisptr/jackson/jq/internal/functions/: GroupByFunction,
//     SortByFunction, MinByFunction, MaxByFunction (unique_by is group
//     there) check that the input is an array before they call f
//     ("group is not applicable to OBJECT; expected one of [ARRAY]"),
//     where gojq calls f first; HasFunction fails on null, where gojq
//     gives false; DelFunction checks its input's type first
//     ("del is not applicable to STRING; expected one of [OBJECT, ARRAY,
//     NULL]");
//   - fromjson reads its input as Jackson does (jqfromjson.go);
//   - first(f) and limit(n; f) compute all of f first, as jackson-jq's
//     (foreach over f, which it computes whole) do: f's failure after the
//     values taken fails them; they collect only the values taken (a
//     foreach over f that lets the first n through), so memory stays with
//     n, not with how many values f has;
//   - tree/IdentifierKeyFieldConstruction.java and
//     StringKeyFieldConstruction.java: {a} and {"a"} read a with
//     JsonNode.get, null on a value that is not an object, where gojq's .a
//     fails (objectShorthands);
//   - tree/matcher/matchers/ObjectMatcher.java: a destructuring pattern
//     checks that the value is an object (or null) before it computes a
//     key, and fails on a key that is not a string naming both types
//     ("Cannot index object with null"; patternKeys).
//
// The _wfrun_ names call gojq's builtins before the definitions below
// shadow them.
const jqJacksonDefs = `def _wfrun_group_by(f): group_by(f); def _wfrun_sort_by(f): sort_by(f);
def _wfrun_min_by(f): min_by(f); def _wfrun_max_by(f): max_by(f); def _wfrun_unique_by(f): unique_by(f);
def _wfrun_has($k): has($k); def _wfrun_del(f): del(f);
def _wfrun_array(name): if type == "array" then . else
  error("\(name) is not applicable to \(type | ascii_upcase); expected one of [ARRAY]") end;
def group_by(f): _wfrun_array("group") | _wfrun_group_by(f);
def sort_by(f): _wfrun_array("sort") | _wfrun_sort_by(f);
def min_by(f): _wfrun_array("min") | _wfrun_min_by(f);
def max_by(f): _wfrun_array("max") | _wfrun_max_by(f);
def unique_by(f): _wfrun_array("group") | _wfrun_unique_by(f);
def has($k): if . == null then error("has() is not applicable to NULL") else _wfrun_has($k) end;
def in(xs): . as $x | xs | has($x);
def inside(xs): . as $x | xs | contains($x);
def del(f): if type == "object" or type == "array" or type == "null" then . as $__wfrun_del_in | _wfrun_del(f) | _wfrun_reorder($__wfrun_del_in; $__wfrun_orders)
  else error("del is not applicable to \(type | ascii_upcase); expected one of [OBJECT, ARRAY, NULL]") end;
def transpose: if . == [] then [] else . as $in | (map(length) | max) as $max | length as $length |
  reduce range(0; $max) as $j ([]; . + [reduce range(0; $length) as $i ([]; . + [$in[$i][$j]])]) end;
def fromjson: _wfrun_fromjson;
def _wfrun_field($k): if type == "object" then .[$k] else null end;
def _wfrun_pkey(k): . as $v | if type != "object" and type != "null" then error("Cannot index \(type) with string")
  else (k | if type == "string" then . else error("Cannot index \($v | type) with \(type)") end) end;
def group: group_by(.); def group(f): group_by(f); def sort(f): sort_by(f);
def min(f): min_by(f); def max(f): max_by(f); def unique(f): unique_by(f); def recurse_down: recurse;
def paths: paths(.);
def limit($n; f): if $n < 0 then f else [foreach f as $x (0; . + 1; if . <= $n then $x else empty end)][] end;
def first(f): limit(1; f); .`

// jqDelNotAccess is DelFunction's failure on an argument that is not a
// field access (.a, .[0], .[], (.a), .a?; not .a, .b, nor first(.a)).
const jqDelNotAccess = "1st argument to del() must be a field access"

// delFieldAccess rewrites the argument of each call of del in q that
// jackson-jq does not take (jqFieldAccess) into a failure with its
// message, raised once del has checked its input's type. A query that
// defines del/1 or error/1 itself is left as it is.
func delFieldAccess(q *gojq.Query) {
	own := ownNames(q)
	if own["del/1"] || own["error/1"] {
		return
	}
	walkJQ(q, nil, func(t *gojq.Term) {
		if t.Type != gojq.TermTypeFunc || t.Func.Name != "del" || len(t.Func.Args) != 1 {
			return
		}
		if access, _ := jqFieldAccess(t.Func.Args[0]); !access {
			arg := &gojq.Term{}
			raise(arg, jqDelNotAccess)
			t.Func.Args[0] = &gojq.Query{Term: arg}
		}
	})
}

// objectShorthands rewrites each {a} and {"a"} of q (a key with no value,
// not a variable's, not interpolated) into {a: _wfrun_field("a")}, and
// an object with an interpolated key with no value ({"a\(x)"}) into
// if type == "object" or type == "null" then {"a\(x)"} else {"a\(x)":
// null} end: jackson-jq reads such a key's value as null from a value
// that is not an object (StringKeyFieldConstruction: in.get(key)), where
// gojq fails. The key is computed once either way, as jackson-jq does.
func objectShorthands(q *gojq.Query) {
	var interpolated []*gojq.Term
	walkJQ(q, nil, func(t *gojq.Term) {
		if t.Object == nil {
			return
		}
		for _, kv := range t.Object.KeyVals {
			if kv.Val != nil {
				continue
			}
			key, ok := kv.Key, kv.Key != "" && kv.Key[0] != '$'
			if kv.KeyString != nil {
				key, ok = kv.KeyString.Str, len(kv.KeyString.Queries) == 0
				if !ok && !slices.Contains(interpolated, t) {
					interpolated = append(interpolated, t)
				}
			}
			if !ok {
				continue
			}
			arg := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeString, Str: &gojq.String{Str: key}}}
			kv.Val = &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: "_wfrun_field", Args: []*gojq.Query{arg}}}}
		}
	})
	for _, t := range interpolated {
		cond, err := gojq.Parse(`type == "object" or type == "null"`)
		if err != nil {
			return
		}
		keyVals := make([]*gojq.ObjectKeyVal, len(t.Object.KeyVals))
		for i, kv := range t.Object.KeyVals {
			c := *kv
			if c.KeyString != nil && c.Val == nil {
				c.Val = &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeNull}}
			}
			keyVals[i] = &c
		}
		asObject := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeObject, Object: t.Object}}
		asOther := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeObject, Object: &gojq.Object{KeyVals: keyVals}}}
		t.Type, t.Object = gojq.TermTypeIf, nil
		t.If = &gojq.If{Cond: cond, Then: asObject, Else: asOther}
	}
}

// patternKeys rewrites each computed key (K) of q's destructuring
// patterns into _wfrun_pkey(K).
func patternKeys(q *gojq.Query) {
	var pat func(p *gojq.Pattern)
	pat = func(p *gojq.Pattern) {
		if p == nil {
			return
		}
		for _, a := range p.Array {
			pat(a)
		}
		for _, o := range p.Object {
			if o.KeyQuery != nil {
				o.KeyQuery = &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc,
					Func: &gojq.Func{Name: "_wfrun_pkey", Args: []*gojq.Query{o.KeyQuery}}}}
			}
			pat(o.Val)
		}
	}
	walkJQ(q, func(x *gojq.Query) {
		for _, p := range x.Patterns {
			pat(p)
		}
	}, func(t *gojq.Term) {
		if t.Reduce != nil {
			for _, p := range t.Reduce.Patterns {
				pat(p)
			}
		}
		if t.Foreach != nil {
			for _, p := range t.Foreach.Patterns {
				pat(p)
			}
		}
	})
}
