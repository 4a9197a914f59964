package interpolate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/interpolate"
)

// testEnv is a small Env whose secret source the test chooses.
type testEnv struct {
	wf      string
	tasks   map[string]string
	taskID  string
	secrets interpolate.SecretSource
	values  interpolate.ValueSource
}

func (e *testEnv) Workflow() []byte { return []byte(e.wf) }
func (e *testEnv) Task(ref string) ([]byte, bool) {
	v, ok := e.tasks[ref]
	return []byte(v), ok
}
func (e *testEnv) TaskID() string                     { return e.taskID }
func (e *testEnv) Secrets() interpolate.SecretSource  { return e.secrets }
func (e *testEnv) EnvValues() interpolate.ValueSource { return e.values }

var (
	errExpired   = errors.New("secret expired")
	errForbidden = errors.New("forbidden for this workflow")
)

// batchSource counts calls, so the tests can prove one round trip per Execute.
type batchSource struct {
	mu          sync.Mutex
	values      map[string][]byte
	errs        map[string]error
	batchCalls  int
	singleCalls int
	lastNames   []string
}

func (b *batchSource) Secret(_ context.Context, name string) ([]byte, error) {
	b.mu.Lock()
	b.singleCalls++
	b.mu.Unlock()
	if err := b.errs[name]; err != nil {
		return nil, err
	}
	v, ok := b.values[name]
	if !ok {
		return nil, interpolate.ErrSecretNotFound
	}
	return v, nil
}

func (b *batchSource) Secrets(_ context.Context, names []string) (map[string][]byte, map[string]error, error) {
	b.mu.Lock()
	b.batchCalls++
	b.lastNames = append([]string(nil), names...)
	b.mu.Unlock()
	vals, errs := map[string][]byte{}, map[string]error{}
	for _, n := range names {
		if err := b.errs[n]; err != nil {
			errs[n] = err
		} else if v, ok := b.values[n]; ok {
			vals[n] = v
		}
	}
	return vals, errs, nil
}

func TestBatchPrefetchOneCall(t *testing.T) {
	src := &batchSource{values: map[string][]byte{"a": []byte(`"A-val"`), "b": []byte(`{"u":"B-user","n":7}`)}}
	env := &testEnv{wf: `{}`, secrets: src}
	tpl := interpolate.MustCompile([]byte(`{"x":"${workflow.secrets.a}","y":"${workflow.secrets.b.u}/${workflow.secrets.b.n}","z":"${workflow.secrets.a}-again"}`))
	out, used, err := tpl.Execute(context.Background(), env, interpolate.ResolveSecrets, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"x":"A-val","y":"B-user/7","z":"A-val-again"}` {
		t.Errorf("out = %s", out)
	}
	if src.batchCalls != 1 || src.singleCalls != 0 {
		t.Errorf("batch calls %d, single calls %d; want 1, 0", src.batchCalls, src.singleCalls)
	}
	if !reflect.DeepEqual(src.lastNames, []string{"a", "b"}) {
		t.Errorf("prefetched %v", src.lastNames)
	}
	got := usedStrings(used)
	if want := []string{"a=A-val", "b=7", "b=B-user"}; !reflect.DeepEqual(got, want) {
		t.Errorf("used = %v, want %v", got, want)
	}
	// Deferred mode never asks the source.
	if _, _, err := tpl.Execute(context.Background(), env, interpolate.DeferSecrets, nil); err != nil {
		t.Fatal(err)
	}
	if src.batchCalls != 1 {
		t.Errorf("DeferSecrets fetched secrets")
	}
}

func usedStrings(used []interpolate.Secret) []string {
	var out []string
	for _, u := range used {
		out = append(out, u.Name+"="+u.Value)
	}
	sort.Strings(out)
	return out
}

func TestUsedReportsEveryLeafOfAWholeJSONSecret(t *testing.T) {
	env := &testEnv{wf: `{}`, secrets: interpolate.MapSecrets{
		"creds": json.RawMessage(`{"user":"u1","pass":"p\"w","nested":{"k":["x1",42,true,null,""]}}`),
	}}
	tpl := interpolate.MustCompile([]byte(`"${workflow.secrets.creds}"`))
	out, used, err := tpl.Execute(context.Background(), env, interpolate.ResolveSecrets, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(out) {
		t.Fatalf("invalid JSON %s", out)
	}
	if got, want := usedStrings(used), []string{"creds=42", `creds=p"w`, "creds=u1", "creds=x1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("used = %q, want %q", got, want)
	}
}

func TestSecretSourceErrorsAreWrappedAndNamed(t *testing.T) {
	src := &batchSource{
		values: map[string][]byte{"ok": []byte(`"fine-value"`)},
		errs:   map[string]error{"old": errExpired, "nope": errForbidden},
	}
	for _, tc := range []struct {
		name    string
		source  interpolate.SecretSource
		doc     string
		want    error
		secret  string
		locHint string
	}{
		{"expired batch", src, `{"h":"${workflow.secrets.ok} ${workflow.secrets.old}"}`, errExpired, "old", "/h:"},
		{"forbidden batch", src, `["${workflow.secrets.nope}"]`, errForbidden, "nope", "/0:"},
		{"missing batch", src, `{"a":{"b":"${workflow.secrets.ghost}"}}`, interpolate.ErrSecretNotFound, "ghost", "/a/b:"},
		{"missing map", interpolate.MapSecrets{}, `{"a":"${workflow.secrets.ghost}"}`, interpolate.ErrSecretNotFound, "ghost", "/a:"},
		{"no source", nil, `{"a":"${workflow.secrets.ok}"}`, interpolate.ErrNoSecretSource, "ok", "/a:"},
		{"not json", interpolate.MapSecrets{"raw": json.RawMessage(`not-json-value`)}, `{"a":"${workflow.secrets.raw}"}`, interpolate.ErrSecretValue, "raw", "/a:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := &testEnv{wf: `{}`}
			if tc.source != nil {
				env.secrets = tc.source
			}
			tpl := interpolate.MustCompile([]byte(tc.doc), interpolate.WithLocation("/tasks/3/inputParameters"))
			out, used, err := tpl.Execute(context.Background(), env, interpolate.ResolveSecrets, nil)
			if err == nil {
				t.Fatalf("no error, out %s", out)
			}
			if out != nil || used != nil {
				t.Errorf("partial result returned with an error")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("%v is not %v", err, tc.want)
			}
			var e *interpolate.Error
			if !errors.As(err, &e) || e.Secret != tc.secret {
				t.Errorf("error does not name secret %q: %#v", tc.secret, e)
			}
			if !strings.HasPrefix(err.Error(), "/tasks/3/inputParameters"+tc.locHint) {
				t.Errorf("error %q not located at %q", err, tc.locHint)
			}
			for _, v := range []string{"fine-value", "not-json-value"} {
				if strings.Contains(err.Error(), v) {
					t.Errorf("error leaks a value: %v", err)
				}
			}
		})
	}
}

func TestTaskIDUnsetStaysLiteral(t *testing.T) {
	env := &testEnv{wf: `{}`}
	tpl := interpolate.MustCompile([]byte(`{"a":"${CPEWF_TASK_ID}","b":"id=${CPEWF_TASK_ID}"}`))
	out, _, err := tpl.Execute(context.Background(), env, interpolate.ResolveSecrets, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"a":"${CPEWF_TASK_ID}","b":"id=${CPEWF_TASK_ID}"}` {
		t.Errorf("out = %s", out)
	}
}

func TestEnvValueSourceError(t *testing.T) {
	env := &testEnv{wf: `{}`, values: failingValues{}}
	tpl := interpolate.MustCompile([]byte(`"${workflow.env.region}"`))
	_, _, err := tpl.Execute(context.Background(), env, interpolate.DeferSecrets, nil)
	if !errors.Is(err, errForbidden) || !strings.Contains(err.Error(), `env value "region"`) {
		t.Errorf("err = %v", err)
	}
}

type failingValues struct{}

func (failingValues) Value(context.Context, string) ([]byte, bool, error) {
	return nil, false, errForbidden
}

func TestBrokenEnvDocumentNeverBreaksOutput(t *testing.T) {
	env := &testEnv{wf: `{"input":{"x":tru}}`, tasks: map[string]string{"t": `{"output":`}}
	for _, doc := range []string{`"${workflow.input.x}"`, `"${t.output}"`, `"${workflow.input[*]}"`} {
		tpl := interpolate.MustCompile([]byte(doc))
		out, _, err := tpl.Execute(context.Background(), env, interpolate.DeferSecrets, nil)
		if err == nil && !json.Valid(out) {
			t.Errorf("%s: invalid output %s", doc, out)
		}
	}
}

func TestAccessors(t *testing.T) {
	tpl := interpolate.MustCompile([]byte(`{"a":"${workflow.secrets.z} ${workflow.secrets['a.b']} ${t1.output.x} ${t0.status}","b":"${workflow.input.m.${t2.output.k}}","k":"${workflow.secrets.z}"}`))
	if !tpl.HasExpressions() || !tpl.HasSecrets() {
		t.Error("HasExpressions/HasSecrets false")
	}
	if got := tpl.SecretNames(); !reflect.DeepEqual(got, []string{"a.b", "z"}) {
		t.Errorf("SecretNames = %v", got)
	}
	if got := tpl.References(); !reflect.DeepEqual(got, []string{"t0", "t1", "t2"}) {
		t.Errorf("References = %v", got)
	}
	plain := interpolate.MustCompile([]byte(`{"a":"$$${x}","b":"cost $5"}`))
	if plain.HasExpressions() || plain.HasSecrets() || plain.SecretNames() != nil {
		t.Error("plain template reports expressions")
	}
	noSecret := interpolate.MustCompile([]byte(`"${workflow.input.x}"`))
	if !noSecret.HasExpressions() || noSecret.HasSecrets() {
		t.Error("wrong flags for a non-secret template")
	}
}

func TestLayoutAndKeysPreserved(t *testing.T) {
	doc := "{\n  \"z\": \"${workflow.input.n}\",\n  \"a\" : [ 1, \"x${workflow.input.n}\" ],\n  \"${k}\": \"lit\"\n}\n"
	env := &testEnv{wf: `{"input":{"n":5}}`}
	out, _, err := interpolate.MustCompile([]byte(doc)).Execute(context.Background(), env, interpolate.DeferSecrets, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"z\": 5,\n  \"a\" : [ 1, \"x5\" ],\n  \"${k}\": \"lit\"\n}\n"
	if string(out) != want {
		t.Errorf("got %q\nwant %q", out, want)
	}
}

func TestNoExpressionsZeroAllocs(t *testing.T) {
	doc := benchDoc(16*1024, 0)
	tpl := interpolate.MustCompile(doc)
	env := &testEnv{wf: `{}`}
	dst := make([]byte, 0, len(doc))
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		out, _, err := tpl.Execute(ctx, env, interpolate.ResolveSecrets, dst[:0])
		if err != nil || len(out) != len(doc) {
			t.Fatal("bad result")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocs per run, want 0", allocs)
	}
	out, _, _ := tpl.Execute(ctx, env, interpolate.ResolveSecrets, nil)
	out[0] = 'X'
	if again, _, _ := tpl.Execute(ctx, env, interpolate.ResolveSecrets, nil); again[0] != '{' {
		t.Error("Execute with nil dst handed out the template's own bytes")
	}
}

func TestConcurrentExecute(t *testing.T) {
	env := loadEnv(t)
	tpl := interpolate.MustCompile([]byte(`{"a":"${workflow.input.map.${workflow.input.mapValue}[${workflow.input.index}]}","b":"Bearer ${workflow.secrets.api_token}","c":"${workflow.input.items[?(@.kind=='a')].id}","d":"${workflow.secrets.db}"}`))
	want, wantUsed, err := tpl.Execute(context.Background(), env, interpolate.ResolveSecrets, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var buf []byte
			for i := 0; i < 200; i++ {
				mode := interpolate.Mode(i % 2)
				out, used, err := tpl.Execute(context.Background(), env, mode, buf[:0])
				if err != nil {
					errs <- err
					return
				}
				if mode == interpolate.ResolveSecrets && (string(out) != string(want) || len(used) != len(wantUsed)) {
					errs <- fmt.Errorf("goroutine %d: got %s", g, out)
					return
				}
				buf = out
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestDeepNestingIsAnError(t *testing.T) {
	s := strings.Repeat("${a.", 40) + "b" + strings.Repeat("}", 40)
	doc, _ := json.Marshal(s)
	if _, err := interpolate.Compile(doc); !errors.Is(err, interpolate.ErrSyntax) {
		t.Errorf("err = %v", err)
	}
	deepJSON := strings.Repeat("[", 5000) + `"${x}"` + strings.Repeat("]", 5000)
	if _, err := interpolate.Compile([]byte(deepJSON)); err != nil {
		t.Errorf("deep JSON: %v", err)
	}
}

func TestCompileExpr(t *testing.T) {
	tpl, err := interpolate.CompileExpr("${workflow.input.list}")
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := tpl.Execute(context.Background(), &testEnv{wf: `{"input":{"list":[1, 2]}}`}, interpolate.DeferSecrets, nil)
	if err != nil || string(out) != `[1, 2]` {
		t.Errorf("out %s err %v", out, err)
	}
}

func TestNewDocEnvErrorsHideContent(t *testing.T) {
	_, err := interpolate.NewDocEnv([]byte(`{"secrets":{"k":"topsecret"`))
	if err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Errorf("err = %v", err)
	}
	if _, err := interpolate.NewDocEnv([]byte(`[1]`)); !errors.Is(err, interpolate.ErrBadDocument) {
		t.Errorf("err = %v", err)
	}
}

func TestDescentOrderIsStable(t *testing.T) {
	env := &testEnv{wf: `{"input":{"m":{"b":{"id":2},"a":{"id":1},"c":{"id":3}}}}`}
	tpl := interpolate.MustCompile([]byte(`"${workflow.input.m..id}"`))
	first, _, err := tpl.Execute(context.Background(), env, interpolate.DeferSecrets, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(first) != `[2,1,3]` {
		t.Errorf("descent gave %s, want document order [2,1,3]", first)
	}
	for i := 0; i < 50; i++ {
		out, _, _ := tpl.Execute(context.Background(), env, interpolate.DeferSecrets, nil)
		if string(out) != string(first) {
			t.Fatalf("unstable order: %s vs %s", out, first)
		}
	}
}

func TestUsedValuesAreUnescaped(t *testing.T) {
	env := &testEnv{wf: `{}`, secrets: interpolate.MapSecrets{
		"u": json.RawMessage(`"\ud83d\ude00 \u00e9 \/ \t\"\\ \ud800x"`),
	}}
	out, used, err := interpolate.MustCompile([]byte(`"<${workflow.secrets.u}>"`)).Execute(context.Background(), env, interpolate.ResolveSecrets, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "😀 é / \t\"\\ \uFFFDx"
	if len(used) != 1 || used[0].Value != want {
		t.Errorf("used = %q, want %q", used, want)
	}
	var got string
	if err := json.Unmarshal(out, &got); err != nil || got != "<"+want+">" {
		t.Errorf("out = %s (%v)", out, err)
	}
}

// TestUsedManyReferencesDeduplicatedInOrder: used lists each value once, in
// first-use order, also past the point where addUsed switches to a map.
func TestUsedManyReferencesDeduplicatedInOrder(t *testing.T) {
	for _, n := range []int{1, 8, 9, 40} {
		secrets := interpolate.MapSecrets{}
		var doc strings.Builder
		doc.WriteString(`[`)
		var want []string
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("s%d", i)
			secrets[name] = json.RawMessage(fmt.Sprintf(`"value-%d"`, i))
			want = append(want, fmt.Sprintf("%s=value-%d", name, i))
		}
		// Every name twice, the second round in reverse order.
		for i := 0; i < 2*n; i++ {
			j := i
			if i >= n {
				j = 2*n - 1 - i
			}
			if i > 0 {
				doc.WriteString(`,`)
			}
			fmt.Fprintf(&doc, `"${workflow.secrets.s%d}"`, j)
		}
		doc.WriteString(`]`)
		env := &testEnv{wf: `{}`, secrets: secrets}
		_, used, err := interpolate.MustCompile([]byte(doc.String())).Execute(context.Background(), env, interpolate.ResolveSecrets, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range used {
			got = append(got, u.Name+"="+u.Value)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("n=%d: used = %q, want %q", n, got, want)
		}
	}
}
