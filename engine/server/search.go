package server

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Conductor's workflow search query (its indexing DAOs' query parser):
//
//	query  := term [ ("AND" | "OR") query ]      right to left, as Conductor groups it
//	term   := "(" query ")" | name op value
//	op     := "=" | "!=" | "<" | ">" | "IN" "(" value {"," value} ")"
//	        | "BETWEEN" value "AND" value | "IS" ("null" | "not null")
//	        | "STARTS_WITH" value
//	value  := 'text' | "text" | bare word
//
// over the fields of a workflow summary: workflowId, workflowType, version,
// status, correlationId, startTime, updateTime, parentWorkflowId. Times are
// epoch milliseconds or RFC 3339 (a date alone is midnight UTC).

var errBadQuery = errors.New("bad search query")

// searchFields are the names a query may use; numeric ones compare as numbers.
var searchFields = map[string]bool{
	"workflowId": false, "workflowType": false, "version": true, "status": false,
	"correlationId": false, "startTime": true, "updateTime": true, "parentWorkflowId": false,
}

// searchExpr is a parsed query; match reads a run's fields through get.
type searchExpr interface {
	match(get func(field string) string) bool
}

type boolExpr struct {
	and         bool
	left, right searchExpr
}

func (b *boolExpr) match(get func(string) string) bool {
	if b.and {
		return b.left.match(get) && b.right.match(get)
	}
	return b.left.match(get) || b.right.match(get)
}

type condition struct {
	field, op string
	values    []string
	numeric   bool // compares as numbers when both sides are
}

func (c *condition) match(get func(string) string) bool {
	v := get(c.field)
	switch c.op {
	case "=":
		return c.compare(v, c.values[0]) == 0
	case "!=":
		return c.compare(v, c.values[0]) != 0
	case "<":
		return v != "" && c.compare(v, c.values[0]) < 0
	case ">":
		return v != "" && c.compare(v, c.values[0]) > 0
	case "IN":
		for _, x := range c.values {
			if c.compare(v, x) == 0 {
				return true
			}
		}
		return false
	case "BETWEEN":
		return v != "" && c.compare(v, c.values[0]) >= 0 && c.compare(v, c.values[1]) <= 0
	case "IS NULL":
		return v == ""
	case "IS NOT NULL":
		return v != ""
	case "STARTS_WITH":
		return strings.HasPrefix(v, c.values[0])
	}
	return false
}

func (c *condition) compare(a, b string) int {
	if c.numeric {
		x, errA := strconv.ParseInt(a, 10, 64)
		y, errB := strconv.ParseInt(b, 10, 64)
		if errA == nil && errB == nil {
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
	}
	return strings.Compare(a, b)
}

// parseSearch parses query ("" or "*": nil, everything matches); mask
// masks what of the query an error quotes (nil: nothing).
func parseSearch(query string, mask func(string) string) (searchExpr, error) {
	return parseSearchOver(query, searchFields, mask)
}

// parseSearchOver parses query over the names of fields (true: numeric).
func parseSearchOver(query string, fields map[string]bool, mask func(string) string) (searchExpr, error) {
	if q := strings.TrimSpace(query); q == "" || q == "*" {
		return nil, nil
	}
	p := &searchParser{in: query, fields: fields, mask: mask}
	e, err := p.query()
	if err != nil {
		return nil, err
	}
	if p.skip(); p.pos < len(p.in) {
		return nil, p.errorf("unexpected %q", p.rest())
	}
	return e, nil
}

type searchParser struct {
	in     string
	pos    int
	depth  int
	fields map[string]bool // the names a query may use; true: numeric
	// mask masks the query's text an error quotes (nil: none).
	mask func(string) string
}

// maxSearchDepth bounds nested parentheses and chained terms.
const maxSearchDepth = 100

func (p *searchParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", errBadQuery, p.pos, fmt.Sprintf(format, args...))
}

func (p *searchParser) skip() {
	for p.pos < len(p.in) && unicode.IsSpace(rune(p.in[p.pos])) {
		p.pos++
	}
}

func (p *searchParser) rest() string {
	r := p.in[p.pos:]
	if p.mask != nil && p.mask(p.in) != p.in {
		// The query holds a value the server knows, which may begin
		// before the excerpt would (a piece of it that no pattern
		// matches): none of the query is quoted.
		return "***"
	}
	if len(r) > 20 {
		r = r[:20] + "…"
	}
	return r
}

// keyword consumes word (case-insensitive) when it comes next as a whole word.
func (p *searchParser) keyword(word string) bool {
	p.skip()
	end := p.pos + len(word)
	if end > len(p.in) || !strings.EqualFold(p.in[p.pos:end], word) {
		return false
	}
	if end < len(p.in) && isNameByte(p.in[end]) {
		return false
	}
	p.pos = end
	return true
}

func (p *searchParser) char(c byte) bool {
	p.skip()
	if p.pos < len(p.in) && p.in[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func isNameByte(c byte) bool {
	return c == '_' || c == '.' || c == '-' || c == ':' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func (p *searchParser) query() (searchExpr, error) {
	if p.depth++; p.depth > maxSearchDepth {
		return nil, p.errorf("more than %d nested or chained terms", maxSearchDepth)
	}
	defer func() { p.depth-- }()
	left, err := p.term()
	if err != nil {
		return nil, err
	}
	var and bool
	switch {
	case p.keyword("AND"):
		and = true
	case p.keyword("OR"):
	default:
		return left, nil
	}
	right, err := p.query()
	if err != nil {
		return nil, err
	}
	return &boolExpr{and: and, left: left, right: right}, nil
}

func (p *searchParser) term() (searchExpr, error) {
	if p.char('(') {
		e, err := p.query()
		if err != nil {
			return nil, err
		}
		if !p.char(')') {
			return nil, p.errorf("missing )")
		}
		return e, nil
	}
	p.skip()
	start := p.pos
	for p.pos < len(p.in) && isNameByte(p.in[p.pos]) {
		p.pos++
	}
	name := p.in[start:p.pos]
	if name == "" {
		return nil, p.errorf("expected a field name, found %q", p.rest())
	}
	if _, ok := p.fields[name]; !ok {
		return nil, fmt.Errorf("%w: unknown field %q (known: %s)", errBadQuery, name, knownFields(p.fields))
	}
	c := &condition{field: name, numeric: p.fields[name]}
	p.skip()
	switch {
	case strings.HasPrefix(p.in[p.pos:], "!="):
		p.pos += 2
		c.op = "!="
	case p.char('='):
		c.op = "="
	case p.char('<'):
		c.op = "<"
	case p.char('>'):
		c.op = ">"
	case p.keyword("IN"):
		c.op = "IN"
		if !p.char('(') {
			return nil, p.errorf("IN needs a list: (a, b)")
		}
		for {
			v, err := p.value(name)
			if err != nil {
				return nil, err
			}
			c.values = append(c.values, v)
			if p.char(')') {
				return c, nil
			}
			if !p.char(',') {
				return nil, p.errorf("expected , or ) in the IN list")
			}
		}
	case p.keyword("BETWEEN"):
		c.op = "BETWEEN"
		lo, err := p.value(name)
		if err != nil {
			return nil, err
		}
		if !p.keyword("AND") {
			return nil, p.errorf("BETWEEN needs AND")
		}
		hi, err := p.value(name)
		if err != nil {
			return nil, err
		}
		c.values = []string{lo, hi}
		return c, nil
	case p.keyword("IS"):
		switch {
		case p.keyword("null"):
			c.op = "IS NULL"
		case p.keyword("not") && p.keyword("null"):
			c.op = "IS NOT NULL"
		default:
			return nil, p.errorf("IS needs null or not null")
		}
		return c, nil
	case p.keyword("STARTS_WITH"):
		c.op = "STARTS_WITH"
	default:
		return nil, p.errorf("expected an operator (=, !=, <, >, IN, BETWEEN, IS, STARTS_WITH) after %s", name)
	}
	v, err := p.value(name)
	if err != nil {
		return nil, err
	}
	c.values = []string{v}
	return c, nil
}

// value reads a constant; for a time field a date becomes epoch ms.
func (p *searchParser) value(field string) (string, error) {
	p.skip()
	if p.pos >= len(p.in) {
		return "", p.errorf("expected a value")
	}
	var v string
	if q := p.in[p.pos]; q == '\'' || q == '"' {
		end := strings.IndexByte(p.in[p.pos+1:], q)
		if end < 0 {
			return "", p.errorf("unterminated string")
		}
		v = p.in[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
	} else {
		start := p.pos
		for p.pos < len(p.in) && isNameByte(p.in[p.pos]) {
			p.pos++
		}
		v = p.in[start:p.pos]
		if v == "" {
			return "", p.errorf("expected a value, found %q", p.rest())
		}
	}
	if p.fields[field] && strings.HasSuffix(field, "Time") {
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			t, err := parseSearchTime(v)
			if err != nil {
				return "", fmt.Errorf("%w: %s %q: want epoch milliseconds or an RFC 3339 time", errBadQuery, field, v)
			}
			v = strconv.FormatInt(t.UnixMilli(), 10)
		}
	}
	return v, nil
}

// knownFields lists fields' names, in the order a reader expects them.
func knownFields(fields map[string]bool) string {
	order := []string{"workflowId", "workflowType", "version", "status", "correlationId", "startTime", "updateTime", "parentWorkflowId"}
	var out []string
	seen := map[string]bool{}
	for _, n := range order {
		if _, ok := fields[n]; ok {
			out = append(out, n)
			seen[n] = true
		}
	}
	var rest []string
	for n := range fields {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return strings.Join(append(out, rest...), ", ")
}

func parseSearchTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errBadQuery
}
