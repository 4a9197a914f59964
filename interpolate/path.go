package interpolate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ohler55/ojg/jp"
	"github.com/tidwall/gjson"
)

type refKind uint8

const (
	kindEmpty    refKind = iota // ${} and ${  }: ""
	kindTaskID                  // CPEWF_TASK_ID
	kindWorkflow                // workflow.*
	kindTask                    // <taskRef>.*
	kindSecret                  // workflow.secrets.NAME[path]
	kindEnv                     // workflow.env.NAME[path]
)

// ref is a compiled expression path: a root (workflow document, task record, secret, env
// value) and a path into that root's JSON.
type ref struct {
	kind refKind
	name string // task ref, secret name or env name
	path docPath
}

// docPath selects inside one JSON document. Definite paths made of keys and non-negative
// indexes go through gjson (no parsing of the document, no allocation); anything else
// (wildcards, recursive descent, filters, slices, unions, negative indexes) goes through
// ojg's JSONPath, whose semantics follow Jayway / RFC 9535.
type docPath struct {
	text       string // the path after the root, as written (".a[0]"), for messages
	empty      bool   // select the root document itself
	gpath      string // gjson path (keys escaped) when jp is nil
	jp         jp.Expr
	indefinite bool // wildcard, descent, filter, slice or union: the result is an array
}

// synErr is a path error with the sentinel it belongs to.
type synErr struct {
	msg  string
	kind error
}

func (e *synErr) Error() string { return e.msg }
func (e *synErr) Unwrap() error { return e.kind }

func errSyntaxf(format string, a ...any) error {
	return &synErr{msg: fmt.Sprintf(format, a...), kind: ErrSyntax}
}

func unwrapSentinel(err error) error {
	if k := errors.Unwrap(err); k != nil {
		return k
	}
	return ErrSyntax
}

type segKind uint8

const (
	segName segKind = iota
	segIndex
	segOther // wildcard, filter, slice, union: needs JSONPath
)

type seg struct {
	kind       segKind
	name       string
	index      int
	start      int // where the segment starts in the path, including its '.' or '['
	indefinite bool
	negative   bool
}

// compileRef compiles the text between the delimiters of an expression.
func compileRef(text string) (*ref, error) {
	p := strings.TrimSpace(text)
	if p == "" {
		return &ref{kind: kindEmpty}, nil
	}
	if p == "CPEWF_TASK_ID" {
		return &ref{kind: kindTaskID}, nil
	}
	// Jayway prepends "$." to paths without a root; we accept "$." / "$[" and drop the root.
	if strings.HasPrefix(p, "$.") && !strings.HasPrefix(p, "$..") {
		p = p[2:]
	} else if strings.HasPrefix(p, "$[") {
		p = p[1:]
	} else if strings.HasPrefix(p, "$") {
		return nil, errSyntaxf("path %q: only \"$.\" may start a path; the whole context cannot be searched", text)
	}
	segs, err := splitPath(p)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 || segs[0].kind != segName || segs[0].indefinite {
		return nil, errSyntaxf("path %q must start with \"workflow\" or a task reference name", text)
	}
	root := segs[0].name
	if root == "workflow" && len(segs) >= 2 && segs[1].kind == segName && !segs[1].indefinite &&
		(segs[1].name == "secrets" || segs[1].name == "env") {
		kind := kindSecret
		what := "secret"
		if segs[1].name == "env" {
			kind, what = kindEnv, "env value"
		}
		if len(segs) < 3 || segs[2].kind != segName || segs[2].indefinite {
			return nil, &synErr{msg: fmt.Sprintf("path %q: a %s needs a name", text, what), kind: ErrSyntax}
		}
		name := segs[2].name
		if !validName(name) {
			return nil, &synErr{msg: fmt.Sprintf("invalid %s name %q (allowed: letters, digits, _ . / : -)", what, name), kind: ErrSyntax}
		}
		dp, err := compileDocPath(p, segs[3:])
		if err != nil {
			return nil, err
		}
		return &ref{kind: kind, name: name, path: dp}, nil
	}
	dp, err := compileDocPath(p, segs[1:])
	if err != nil {
		return nil, err
	}
	if root == "workflow" {
		return &ref{kind: kindWorkflow, path: dp}, nil
	}
	return &ref{kind: kindTask, name: root, path: dp}, nil
}

// validName is the grammar of secret and env names: [A-Za-z0-9_./:-]+.
func validName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_', c == '.', c == '/', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

func compileDocPath(full string, segs []seg) (docPath, error) {
	if len(segs) == 0 {
		return docPath{empty: true}, nil
	}
	dp := docPath{text: full[segs[0].start:]}
	needJP := false
	for _, s := range segs {
		if s.kind == segOther || s.indefinite || s.negative {
			needJP = true
		}
		if s.indefinite {
			dp.indefinite = true
		}
	}
	if needJP {
		x, err := jp.ParseString("$" + dp.text)
		if err != nil {
			return docPath{}, errSyntaxf("path %q: %v", dp.text, err)
		}
		dp.jp = x
		return dp, nil
	}
	dp.gpath = gjsonPath(segs)
	return dp, nil
}

// gjsonPath is the one place keys become gjson path text: every key is escaped, so a key
// holding '.', '*', '?', '#', '@' or '|' is looked up literally, never as gjson syntax.
func gjsonPath(segs []seg) string {
	var b strings.Builder
	for i, s := range segs {
		if i > 0 {
			b.WriteByte('.')
		}
		if s.kind == segIndex {
			b.WriteString(strconv.Itoa(s.index))
		} else {
			b.WriteString(gjson.Escape(s.name))
		}
	}
	return b.String()
}

// splitPath tokenizes a Jayway-style path: name, .name, ..name, .*, [n], ['k'], ["k"], [*],
// [?(...)], [a:b], [a,b], ['a','b'].
func splitPath(p string) ([]seg, error) {
	var segs []seg
	i := 0
	for i < len(p) {
		start := i
		descent := false
		switch {
		case p[i] == '.':
			if strings.HasPrefix(p[i:], "..") {
				descent = true
				i += 2
			} else {
				i++
			}
			if i >= len(p) {
				return nil, errSyntaxf("path %q ends with '.'", p)
			}
			if p[i] == '[' {
				if !descent {
					return nil, errSyntaxf("path %q: '.' followed by '['", p)
				}
				s, next, err := bracket(p, i)
				if err != nil {
					return nil, err
				}
				s.start, s.indefinite = start, true
				segs = append(segs, s)
				i = next
				continue
			}
		case p[i] == '[':
			s, next, err := bracket(p, i)
			if err != nil {
				return nil, err
			}
			s.start = start
			segs = append(segs, s)
			i = next
			continue
		case start != 0:
			return nil, errSyntaxf("path %q: unexpected %q at %d", p, p[i], i)
		}
		j := i
		for j < len(p) && p[j] != '.' && p[j] != '[' {
			j++
		}
		name := p[i:j]
		if name == "" {
			return nil, errSyntaxf("path %q: empty key", p)
		}
		s := seg{kind: segName, name: name, start: start, indefinite: descent}
		if name == "*" {
			s.kind, s.indefinite = segOther, true
		} else if strings.ContainsAny(name, " \t\n\r'\"()") {
			return nil, errSyntaxf("path %q: key %q needs the ['...'] form", p, name)
		}
		segs = append(segs, s)
		i = j
	}
	return segs, nil
}

// bracket parses the bracket segment starting at p[i] == '['.
func bracket(p string, i int) (seg, int, error) {
	j := i + 1
	for j < len(p) && p[j] == ' ' {
		j++
	}
	if j >= len(p) {
		return seg{}, 0, errSyntaxf("path %q: unterminated '['", p)
	}
	switch c := p[j]; {
	case c == '\'' || c == '"':
		var names []string
		for {
			name, next, err := quoted(p, j)
			if err != nil {
				return seg{}, 0, err
			}
			names = append(names, name)
			j = next
			for j < len(p) && p[j] == ' ' {
				j++
			}
			if j < len(p) && p[j] == ',' {
				j++
				for j < len(p) && p[j] == ' ' {
					j++
				}
				continue
			}
			break
		}
		if j >= len(p) || p[j] != ']' {
			return seg{}, 0, errSyntaxf("path %q: expected ']' after quoted key", p)
		}
		if len(names) > 1 {
			return seg{kind: segOther, indefinite: true}, j + 1, nil
		}
		return seg{kind: segName, name: names[0]}, j + 1, nil
	case c == '*' || c == '?':
		end, err := closeBracket(p, i)
		if err != nil {
			return seg{}, 0, err
		}
		return seg{kind: segOther, indefinite: true}, end, nil
	default:
		end, err := closeBracket(p, i)
		if err != nil {
			return seg{}, 0, err
		}
		inner := strings.TrimSpace(p[i+1 : end-1])
		if n, err := strconv.Atoi(inner); err == nil {
			if n < 0 {
				return seg{kind: segOther, negative: true}, end, nil
			}
			return seg{kind: segIndex, index: n}, end, nil
		}
		if inner != "" && strings.Trim(inner, "0123456789-:, ") == "" {
			return seg{kind: segOther, indefinite: true}, end, nil
		}
		return seg{}, 0, errSyntaxf("path %q: bad bracket %q", p, p[i:end])
	}
}

// quoted reads a '...' or "..." key with backslash escapes starting at p[i].
func quoted(p string, i int) (string, int, error) {
	q := p[i]
	var b strings.Builder
	for j := i + 1; j < len(p); j++ {
		switch p[j] {
		case '\\':
			if j+1 < len(p) {
				j++
				b.WriteByte(p[j])
			}
		case q:
			return b.String(), j + 1, nil
		default:
			b.WriteByte(p[j])
		}
	}
	return "", 0, errSyntaxf("path %q: unterminated quote", p)
}

// closeBracket returns the index after the ']' matching p[i] == '[', skipping quotes and
// nested brackets/parentheses (filters).
func closeBracket(p string, i int) (int, error) {
	depth := 0
	var quote byte
	for j := i; j < len(p); j++ {
		c := p[j]
		if quote != 0 {
			if c == '\\' {
				j++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '\'', '"':
			quote = c
		case '[', '(':
			depth++
		case ']', ')':
			depth--
			if depth == 0 {
				if c != ']' {
					return 0, errSyntaxf("path %q: unbalanced brackets", p)
				}
				return j + 1, nil
			}
		}
	}
	return 0, errSyntaxf("path %q: unterminated '['", p)
}
