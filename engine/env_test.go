package engine_test

import (
	"fmt"
	"strings"
	"testing"
)

// References into a large output are served from an index of its members;
// they resolve exactly as a scan of the document does (present, missing,
// nested, array index, escaped keys, the whole output).
func TestReferencesIntoLargeOutput(t *testing.T) {
	h := newHarness(t, nil)
	var big strings.Builder
	big.WriteString(`{"k0":"v0"`)
	for i := 1; i < 400; i++ {
		fmt.Fprintf(&big, `,"k%d":{"n":%d,"arr":[1,2,%d]}`, i, i, i)
	}
	big.WriteString(`,"a.b":"dotted","k1":"duplicate"}`)
	res := h.run(`{"name":"w","tasks":[
	  {"name":"echo","taskReferenceName":"src","inputParameters":{"data":`+big.String()+`}},
	  {"name":"echo","taskReferenceName":"use","inputParameters":{
	    "first":"${src.output.echo.data.k0}",
	    "nested":"${src.output.echo.data.k399.n}",
	    "index":"${src.output.echo.data.k200.arr[2]}",
	    "dup":"${src.output.echo.data.k1.n}",
	    "dotted":"${src.output.echo.data['a.b']}",
	    "missing":"${src.output.nope.x}",
	    "text":"n=${src.output.echo.data.k7.n}",
	    "status":"${src.status}"}}],
	  "outputParameters":{"r":"${use.output.echo}"}}`, `{}`)
	if res.Status != "COMPLETED" {
		t.Fatalf("%s %s", res.Status, res.Reason)
	}
	jsonEq(t, res.Output, `{"r":{"first":"v0","nested":399,"index":200,"dup":1,"dotted":"dotted","missing":null,"text":"n=7","status":"COMPLETED"}}`)
}
