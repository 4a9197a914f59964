package eval

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/dop251/goja"
)

// Lazy is an input object that the JavaScript evaluators (javascript,
// graaljs) convert member by member as a script reads them, instead of
// copying the whole of it into the script's runtime before it runs. A
// DO_WHILE hands its condition every kept iteration this way: a condition
// that reads only the last one then costs the same at iteration 1 000 as at
// 10. The other evaluators read it as the map it is. A script's writes to
// it stay in the script, as with any input; the caller must not change a
// Lazy while an evaluation that received it runs.
type Lazy map[string]any

// lazyObject is a Lazy seen from JavaScript (a goja dynamic object): a
// member is converted on its first read and kept, so the script sees one
// object per member, and what the script sets or deletes shadows the data.
type lazyObject struct {
	vm      *goja.Runtime
	data    Lazy
	budget  *int
	jc      *javaCollections
	conv    map[string]goja.Value
	deleted map[string]bool
	methods map[string]goja.Value // java.util.Map methods (javacollections.go), made on first use
}

func newLazyObject(vm *goja.Runtime, data Lazy, budget *int, jc *javaCollections) goja.Value {
	return vm.NewDynamicObject(&lazyObject{vm: vm, data: data, budget: budget, jc: jc, conv: map[string]goja.Value{}})
}

func (o *lazyObject) Get(key string) goja.Value {
	if v, ok := o.conv[key]; ok {
		return v
	}
	if !o.deleted[key] {
		if x, ok := o.data[key]; ok {
			v, err := toJSWith(o.vm, x, o.budget, o.jc)
			if err != nil {
				panic(o.vm.NewTypeError(fmt.Sprintf("input member %q: %v", key, err)))
			}
			o.conv[key] = v
			return v
		}
	}
	if o.jc != nil && javaMapMethod(key) {
		if o.methods == nil {
			o.methods = o.mapMethods()
		}
		return o.methods[key]
	}
	return nil
}

func javaMapMethod(key string) bool {
	switch key {
	case "get", "containsKey", "size", "isEmpty":
		return true
	}
	return false
}

func (o *lazyObject) Set(key string, val goja.Value) bool {
	o.conv[key] = val
	delete(o.deleted, key)
	return true
}

func (o *lazyObject) Has(key string) bool {
	if _, ok := o.conv[key]; ok {
		return true
	}
	_, ok := o.data[key]
	return ok && !o.deleted[key]
}

func (o *lazyObject) Delete(key string) bool {
	delete(o.conv, key)
	if _, ok := o.data[key]; ok {
		if o.deleted == nil {
			o.deleted = map[string]bool{}
		}
		o.deleted[key] = true
	}
	return true
}

// Keys lists the members as JavaScript orders an object's keys: array
// indexes ascending first ("2" before "10"), then the other names (sorted:
// a map has no insertion order).
func (o *lazyObject) Keys() []string {
	keys := make([]string, 0, len(o.data)+len(o.conv))
	for k := range o.data {
		if _, set := o.conv[k]; !set && !o.deleted[k] {
			keys = append(keys, k)
		}
	}
	for k := range o.conv {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, aIdx := arrayIndex(keys[i])
		b, bIdx := arrayIndex(keys[j])
		if aIdx != bIdx {
			return aIdx
		}
		if aIdx {
			return a < b
		}
		return keys[i] < keys[j]
	})
	return keys
}

// arrayIndex reports whether k is a canonical array index ("0", "17"; not
// "01" or "-1").
func arrayIndex(k string) (uint64, bool) {
	n, err := strconv.ParseUint(k, 10, 32)
	return n, err == nil && n < 1<<32-1 && strconv.FormatUint(n, 10) == k
}

// mapMethods are the java.util.Map methods of javaCollections for this
// object, answered from its members without listing them all.
func (o *lazyObject) mapMethods() map[string]goja.Value {
	vm := o.vm
	arg := func(call goja.FunctionCall) string {
		if len(call.Arguments) == 0 {
			return "undefined"
		}
		return call.Arguments[0].String()
	}
	return map[string]goja.Value{
		"get": vm.ToValue(func(call goja.FunctionCall) goja.Value {
			k := arg(call)
			if !o.Has(k) {
				return goja.Null()
			}
			if v := o.Get(k); v != nil && !goja.IsUndefined(v) {
				return v
			}
			return goja.Null()
		}),
		"containsKey": vm.ToValue(func(call goja.FunctionCall) goja.Value { return vm.ToValue(o.Has(arg(call))) }),
		"size":        vm.ToValue(func(goja.FunctionCall) goja.Value { return vm.ToValue(len(o.Keys())) }),
		"isEmpty":     vm.ToValue(func(goja.FunctionCall) goja.Value { return vm.ToValue(len(o.Keys()) == 0) }),
	}
}
