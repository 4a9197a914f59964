package eval

import (
	"strconv"

	"github.com/dop251/goja"
)

// javaCollections gives the input's arrays and objects the java.util.List
// and java.util.Map methods that JavaScript written for Conductor's GraalJS
// calls on them ($.list.get(i), $.list.size(), $.map.get(k), isEmpty(),
// contains, containsKey): GraalJS hands scripts host Java collections. The
// methods are non-enumerable, so plain JavaScript (length, for-in,
// Object.keys, JSON.stringify) sees the same arrays and objects as before,
// and an object's own member of the same name wins.
type javaCollections struct {
	list, mp map[string]goja.Value
}

func newJavaCollections(vm *goja.Runtime) *javaCollections {
	length := func(this *goja.Object) int64 {
		if l := this.Get("length"); l != nil {
			return l.ToInteger()
		}
		return 0
	}
	fn := func(f func(this *goja.Object, args []goja.Value) goja.Value) goja.Value {
		return vm.ToValue(func(call goja.FunctionCall) goja.Value {
			return f(call.This.ToObject(vm), call.Arguments)
		})
	}
	arg := func(args []goja.Value, i int) goja.Value {
		if i < len(args) {
			return args[i]
		}
		return goja.Undefined()
	}
	nullIfUndefined := func(v goja.Value) goja.Value {
		if v == nil || goja.IsUndefined(v) {
			return goja.Null()
		}
		return v
	}
	jc := &javaCollections{
		list: map[string]goja.Value{
			"get": fn(func(this *goja.Object, args []goja.Value) goja.Value {
				i := arg(args, 0).ToInteger()
				if i < 0 || i >= length(this) {
					panic(vm.NewTypeError("Index %d out of bounds for length %d", i, length(this)))
				}
				return nullIfUndefined(this.Get(arg(args, 0).String()))
			}),
			"size":    fn(func(this *goja.Object, _ []goja.Value) goja.Value { return vm.ToValue(length(this)) }),
			"isEmpty": fn(func(this *goja.Object, _ []goja.Value) goja.Value { return vm.ToValue(length(this) == 0) }),
			"contains": fn(func(this *goja.Object, args []goja.Value) goja.Value {
				x := arg(args, 0)
				for i := int64(0); i < length(this); i++ {
					if this.Get(strconv.FormatInt(i, 10)).StrictEquals(x) {
						return vm.ToValue(true)
					}
				}
				return vm.ToValue(false)
			}),
		},
		mp: map[string]goja.Value{
			"get": fn(func(this *goja.Object, args []goja.Value) goja.Value {
				k := arg(args, 0).String()
				if !hasOwn(this, k) {
					return goja.Null()
				}
				return nullIfUndefined(this.Get(k))
			}),
			"size":    fn(func(this *goja.Object, _ []goja.Value) goja.Value { return vm.ToValue(len(this.Keys())) }),
			"isEmpty": fn(func(this *goja.Object, _ []goja.Value) goja.Value { return vm.ToValue(len(this.Keys()) == 0) }),
			"containsKey": fn(func(this *goja.Object, args []goja.Value) goja.Value {
				return vm.ToValue(hasOwn(this, arg(args, 0).String()))
			}),
		},
	}
	return jc
}

func hasOwn(o *goja.Object, k string) bool {
	for _, x := range o.Keys() {
		if x == k {
			return true
		}
	}
	return false
}

func (jc *javaCollections) addList(arr *goja.Object) {
	if jc == nil {
		return
	}
	for name, f := range jc.list {
		_ = arr.DefineDataProperty(name, f, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
}

func (jc *javaCollections) addMap(obj *goja.Object, data map[string]any) {
	if jc == nil {
		return
	}
	for name, f := range jc.mp {
		if _, own := data[name]; own {
			continue
		}
		_ = obj.DefineDataProperty(name, f, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
}
