package masking

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"math/rand"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// spelling returns v as a stored text may hold it: as it is or in one of
// the spellings the Masker recognises (registered forms and decoded views).
func spelling(r *rand.Rand, v string) string {
	b64 := func(enc *base64.Encoding) string { return enc.EncodeToString([]byte(v)) }
	switch r.Intn(17) {
	case 0:
		return v
	case 1:
		j, _ := json.Marshal(v)
		return string(j[1 : len(j)-1])
	case 2:
		return escapeMix(r, v)
	case 3:
		return html.EscapeString(v)
	case 4:
		var sb strings.Builder
		for _, c := range v {
			fmt.Fprintf(&sb, []string{"&#%d;", "&#x%x;", "&#X%04X;"}[r.Intn(3)], c)
		}
		return sb.String()
	case 5:
		return url.QueryEscape(v)
	case 6:
		// encodeURIComponent's upper case, or lower-case hex.
		s := url.PathEscape(v)
		if r.Intn(2) == 0 {
			s = strings.ToLower(s)
		}
		return s
	case 7:
		return b64(base64.StdEncoding)
	case 8:
		return b64(base64.RawURLEncoding)
	case 9:
		// PEM or MIME wrapping, raw breaks or written as \n in a JSON
		// string.
		w := wrapLines(b64(base64.StdEncoding), []int{64, 76}[r.Intn(2)], []string{"\n", "\r\n", "\r"}[r.Intn(3)])
		if r.Intn(2) == 0 {
			j, _ := json.Marshal(w)
			return string(j[1 : len(j)-1])
		}
		return w
	case 10:
		return "Basic " + determinedBase64(base64.StdEncoding, "user:", v, "")
	case 11:
		// A JSON document logged inside a JSON string.
		inner, _ := json.Marshal(map[string]string{"token": v})
		j, _ := json.Marshal(string(inner))
		return string(j[1 : len(j)-1])
	case 12:
		lines := strings.Split(v, "\n")
		return lines[r.Intn(len(lines))]
	case 13:
		return "&amp;" + html.EscapeString(html.EscapeString(v))
	case 15:
		// Escaped three times over: in a JSON document, the fourth
		// level is found only in the string decoded.
		s := html.EscapeString(v)
		for range 2 {
			j, _ := json.Marshal(s)
			s = string(j[1 : len(j)-1])
		}
		return s
	case 14:
		// Half of the value only: no masker catches it, and it must
		// not confuse the index.
		return v[:len(v)/2]
	default:
		return strings.ToUpper(v[:1]) + v[1:]
	}
}

// indexValue is a random value: short or long (long ones wrap when
// base64-encoded), sometimes multi-line or digits only (a JSON number).
func indexValue(r *rand.Rand) string {
	switch r.Intn(6) {
	case 0:
		return fmt.Sprint(100000 + r.Intn(1e9))
	case 1:
		return randValue(r) + "\n" + randValue(r) + "\n" + randValue(r)
	case 2:
		var sb strings.Builder
		for sb.Len() < 50+r.Intn(80) {
			sb.WriteString(randValue(r))
		}
		return sb.String()
	default:
		return randValue(r)
	}
}

func indexText(r *rand.Rand, values []string) string {
	var sb strings.Builder
	for i := 0; i < 1+r.Intn(6); i++ {
		sb.WriteString(randValue(r)[:r.Intn(5)])
		if len(values) > 0 && r.Intn(3) > 0 {
			sb.WriteString(spelling(r, values[r.Intn(len(values))]))
		}
		sb.WriteString([]string{" ", "\n", "", "&", "%", `\`}[r.Intn(6)])
	}
	return sb.String()
}

// indexDoc is a JSON document whose keys, strings and numbers may carry
// values, some as whole JSON texts embedded raw.
func indexDoc(r *rand.Rand, depth int, values []string) any {
	k := r.Intn(8)
	if depth > 3 {
		k = r.Intn(3)
	}
	switch k {
	case 0, 1:
		return indexText(r, values)
	case 2:
		if len(values) > 0 && r.Intn(2) == 0 {
			if n, err := json.Number(values[r.Intn(len(values))]).Int64(); err == nil {
				return n
			}
		}
		return r.Intn(100000)
	case 3:
		if len(values) > 0 {
			// A value that is itself JSON text, embedded as a document.
			if raw := json.RawMessage(values[r.Intn(len(values))]); json.Valid(raw) {
				return raw
			}
		}
		return nil
	case 4, 5:
		m := map[string]any{}
		for i := 0; i < r.Intn(4); i++ {
			m[indexText(r, values)] = indexDoc(r, depth+1, values)
		}
		return m
	default:
		a := []any{}
		for i := 0; i < r.Intn(4); i++ {
			a = append(a, indexDoc(r, depth+1, values))
		}
		return a
	}
}

// indexRecord is one stored text of the property test.
type indexRecord struct {
	json   bool
	stored []byte
}

func (rec *indexRecord) mask(t *testing.T, m *Masker) []byte {
	t.Helper()
	if !rec.json {
		return m.Mask(rec.stored)
	}
	out, err := m.MaskJSON(rec.stored)
	if err != nil {
		t.Fatalf("MaskJSON of a masked document: %v", err)
	}
	return out
}

func (rec *indexRecord) index(x *Index[int], key int) {
	if rec.json {
		x.SetJSON(key, rec.stored)
	} else {
		x.SetText(key, rec.stored)
	}
}

func newIndexRecord(t *testing.T, r *rand.Rand, m *Masker, values []string) *indexRecord {
	t.Helper()
	rec := &indexRecord{json: r.Intn(2) == 0}
	if rec.json {
		doc, err := json.Marshal(indexDoc(r, 0, values))
		if err != nil {
			t.Fatal(err)
		}
		if r.Intn(3) == 0 {
			doc = bytes.ReplaceAll(doc, []byte(`,"`), []byte(",\n  \""))
			if !json.Valid(doc) {
				doc, _ = json.Marshal(indexDoc(r, 0, values))
			}
		}
		rec.stored = doc
	} else {
		rec.stored = []byte(indexText(r, values))
	}
	rec.stored = rec.mask(t, m) // stored masked, as a run stores it
	return rec
}

// Re-masking only the candidates an Index lists leaves every stored text
// exactly as re-masking every text would: over random texts and JSON
// documents holding values in every spelling the Masker recognises
// (escapes, entities, URL escapes, base64 plain, shifted and wrapped,
// multi-line values, nested JSON), registered one or a few at a time, with
// texts replaced and deleted on the way.
func TestIndexCandidatesAgreeWithMaskingEverything(t *testing.T) {
	// Every text kept as postings, some as Bloom filters (the first few),
	// and as many as the Index keeps that way.
	for _, small := range []int{0, 8, smallTexts} {
		t.Run(fmt.Sprintf("filters=%d", small), func(t *testing.T) { indexAgreesWithMaskingEverything(t, small) })
	}
}

func indexAgreesWithMaskingEverything(t *testing.T, small int) {
	listed, changed, total := 0, 0, 0
	for seed := int64(0); seed < 150; seed++ {
		r := rand.New(rand.NewSource(seed))
		m := New(WithLogger(nil))
		var old, future []string
		for i := 0; i < r.Intn(3); i++ {
			old = append(old, indexValue(r))
		}
		for i := 0; i < 2+r.Intn(6); i++ {
			future = append(future, indexValue(r))
		}
		m.RegisterAll(old...)
		all := append(slices.Clone(old), future...)
		x := NewIndex[int](m)
		x.small = small
		recs := map[int]*indexRecord{}
		for i := 0; i < 24; i++ {
			recs[i] = newIndexRecord(t, r, m, all)
			recs[i].index(x, i)
		}
		next := len(recs)
		since := m.Len()
		for len(future) > 0 {
			n := min(1+r.Intn(2), len(future))
			m.RegisterAll(future[:n]...)
			future = future[n:]
			cands := map[int]bool{}
			for _, k := range x.Candidates(since, nil) {
				if cands[k] {
					t.Fatalf("seed %d: key %d listed twice", seed, k)
				}
				if recs[k] == nil {
					t.Fatalf("seed %d: deleted key %d listed", seed, k)
				}
				cands[k] = true
			}
			since = m.Len()
			for k, rec := range recs {
				total++
				full := rec.mask(t, m)
				if bytes.Equal(full, rec.stored) {
					continue
				}
				changed++
				if !cands[k] {
					t.Fatalf("seed %d: text %d (json %v) is changed by masking again but not a candidate:\n%q\n→\n%q", seed, k, rec.json, rec.stored, full)
				}
				rec.stored = full
				rec.index(x, k)
			}
			listed += len(cands)
			// Texts replaced and deleted as a run's records are.
			for k := range recs {
				switch r.Intn(8) {
				case 0:
					delete(recs, k)
					x.Delete(k)
				case 1:
					recs[k] = newIndexRecord(t, r, m, all)
					recs[k].index(x, k)
				}
			}
			recs[next] = newIndexRecord(t, r, m, all)
			recs[next].index(x, next)
			next++
			if x.Len() != len(recs) {
				t.Fatalf("seed %d: Len %d, %d texts", seed, x.Len(), len(recs))
			}
		}
	}
	t.Logf("%d texts checked, %d changed, %d listed", total, changed, listed)
	if changed == 0 {
		t.Fatal("no text changed: the test tests nothing")
	}
	if listed > total/2 {
		t.Fatalf("%d of %d texts listed: the index hardly selects", listed, total)
	}
}

// A loop that stores one record per value and registers the value later
// (the engine's registering loop): each registration lists the record
// that holds it, and almost nothing else, however many records there are.
// (Values sharing every 4-byte piece with others — token-000001 and
// token-000005 — list those others too: the index keeps pieces, not
// positions.)
func TestIndexListsOnlyTheRecordsHoldingNewValues(t *testing.T) {
	m := New(WithLogger(nil))
	x := NewIndex[int](m)
	r := rand.New(rand.NewSource(7))
	const n = 2000
	values := make([]string, n)
	for i := range n {
		values[i] = fmt.Sprintf("tok_%016x", r.Uint64())
		doc := fmt.Sprintf(`{"ref":"step__%d","output":{"token":%q,"encoded":"%s"}}`, i, values[i],
			base64.StdEncoding.EncodeToString([]byte("user:"+values[i])))
		x.SetJSON(i, []byte(doc))
	}
	most := 0
	for i := range n {
		since := m.Len()
		m.Register(values[i])
		got := x.Candidates(since, nil)
		if !slices.Contains(got, i) {
			t.Fatalf("value %d: record %d not listed (got %v)", i, i, got)
		}
		most = max(most, len(got))
	}
	// The base64 forms at the three alignments are shorter than the
	// value: their rarest piece is now and then shared.
	if most > 8 {
		t.Fatalf("a registration lists up to %d of %d records", most, n)
	}
}

// A pattern shorter than a gram makes every text a candidate.
func TestIndexShortPatternListsEverything(t *testing.T) {
	m := New(WithLogger(nil), WithMinLength(2))
	x := NewIndex[string](m)
	x.SetText("a", []byte("nothing here"))
	x.SetText("b", []byte("xy"))
	x.SetJSON("c", []byte(`{"k":"v"}`))
	x.Delete("c")
	since := m.Len()
	m.Register("xy")
	got := x.Candidates(since, nil)
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("got %v, want every text", got)
	}
	if got := x.Candidates(m.Len(), nil); len(got) != 0 {
		t.Fatalf("nothing registered since: got %v", got)
	}
}

// Texts set again and again keep the index's size proportional to what it
// holds now: replaced postings are dropped.
func TestIndexCompactsReplacedTexts(t *testing.T) {
	m := New(WithLogger(nil))
	x := NewIndex[int](m)
	x.small = 0 // postings only
	r := rand.New(rand.NewSource(1))
	for i := range 20000 {
		x.SetText(i%10, []byte(randValue(r)+randValue(r)+randValue(r)))
		if i%7 == 0 {
			x.Delete((i + 3) % 10)
		}
	}
	if x.live > 10*3*32 || len(x.arena) > 2*x.live+2*minIndexBuckets {
		t.Fatalf("%d postings kept for %d live", len(x.arena), x.live)
	}
	// What is left is still found.
	x.SetText(42, []byte("a fresh value 0123456789"))
	since := m.Len()
	m.Register("0123456789")
	if got := x.Candidates(since, nil); !slices.Contains(got, 42) {
		t.Fatalf("got %v", got)
	}
}

func ExampleIndex() {
	m := New()
	x := NewIndex[string](m)
	// Stored forms, masked when they were produced.
	for key, doc := range map[string]string{
		"task-1": `{"url":"https://api.example.com/?token=tok_8J2kL9qX"}`,
		"task-2": `{"status":200}`,
	} {
		stored, _ := m.MaskJSON([]byte(doc))
		x.SetJSON(key, stored)
	}
	// A value registered later: only the texts that may hold it are
	// masked again (and indexed again).
	since := m.Len()
	m.Register("tok_8J2kL9qX")
	for _, key := range x.Candidates(since, nil) {
		fmt.Println(key)
	}
	// Output: task-1
}
