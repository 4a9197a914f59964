package tasks

import (
	"slices"
	"strconv"
	"strings"
)

// How jackson-jq's JavaCC-generated parser words a syntax error: the
// token found, the tokens its choices would have taken, and the token
// sequences its one syntactic lookahead expected (see jqparse.go).

// fail throws JavaCC's ParseException (generateParseException): the
// token found and the token sequences expected.
func (p *jjParser) fail(kinds ...jjKind) {
	p.choice(kinds...)
	for k, ok := range p.expected {
		if ok {
			p.entries = append(p.entries, []jjKind{jjKind(k)})
		}
	}
	p.endpos = 0
	p.rescanLookaheads()
	p.addErrorToken(0, 0)

	maxSize := 0
	for _, e := range p.entries {
		maxSize = max(maxSize, len(e))
	}
	var b strings.Builder
	b.WriteString(`Encountered "`)
	for i := range maxSize {
		if i != 0 {
			b.WriteByte(' ')
		}
		t := p.peekAt(i)
		if t.kind == jjEOF {
			b.WriteString(jjImages[jjEOF])
			break
		}
		b.WriteString(" " + jjImages[t.kind] + ` "` + jjEscape(t.image) + ` "`)
	}
	t := p.peekAt(0)
	b.WriteString(`" at line ` + strconv.Itoa(t.line) + ", column " + strconv.Itoa(t.col) + ".\n")
	if len(p.entries) == 1 {
		b.WriteString("Was expecting:\n    ")
	} else {
		b.WriteString("Was expecting one of:\n    ")
	}
	for _, e := range p.entries {
		for _, k := range e {
			b.WriteString(jjImages[k] + " ")
		}
		if e[len(e)-1] != jjEOF {
			b.WriteString("...")
		}
		b.WriteString("\n    ")
	}
	panic(jjFail{&jjError{b.String()}})
}

// addErrorToken is JavaCC's jj_add_error_token: a rescan reports each
// token it compares at its distance from the current token, and a
// sequence ends when the distance does not grow. As JavaCC (6.1 and 7)
// writes it, a sequence is added only when an equal one is there already.
func (p *jjParser) addErrorToken(kind jjKind, pos int) {
	if pos >= 100 {
		return
	}
	if pos == p.endpos+1 {
		p.lasttokens[p.endpos] = kind
		p.endpos++
		return
	}
	if p.endpos == 0 {
		return
	}
	entry := slices.Clone(p.lasttokens[:p.endpos])
	for _, old := range p.entries {
		if slices.Equal(old, entry) {
			p.entries = append(p.entries, entry)
			break
		}
	}
	if pos != 0 {
		p.endpos = pos
		p.lasttokens[pos-1] = kind
	}
}

// rescanLookaheads is jj_rescan_token: every lookahead still live is
// scanned again, reporting the tokens it compares.
func (p *jjParser) rescanLookaheads() {
	p.rescan = true
	defer func() {
		p.rescan = false
		if r := recover(); r != nil {
			if _, ok := r.(jjLookaheadSuccess); !ok {
				panic(r)
			}
		}
	}()
	for _, c := range p.calls {
		if c.gen > p.gen {
			p.la, p.scanpos, p.lastpos = 3, c.first, c.first
			p.scanString()
		}
	}
}

// stringAhead is PrimaryExpression's LOOKAHEAD(3) before
// StringInterpolation (jj_2_1), a scan of at most three tokens.
func (p *jjParser) stringAhead() (ok bool) {
	const xla = 3
	p.la, p.scanpos, p.lastpos = xla, p.cur, p.cur
	defer func() {
		if r := recover(); r != nil {
			if _, isSuccess := r.(jjLookaheadSuccess); !isSuccess {
				panic(r)
			}
			ok = true
		}
		// jj_save: the first call no longer live is reused.
		i := 0
		for p.calls[i].gen > p.gen {
			if i+1 == len(p.calls) {
				p.calls = append(p.calls, jjCall{})
				i++
				break
			}
			i++
		}
		p.calls[i] = jjCall{gen: p.gen + xla - p.la, first: p.cur}
	}()
	return !p.scanString()
}

// scanToken is jj_scan_token: true when the token scanned is not k.
func (p *jjParser) scanToken(k jjKind) bool {
	if p.scanpos == p.lastpos {
		p.la--
		p.token(p.scanpos + 1)
		p.scanpos++
		p.lastpos = p.scanpos
	} else {
		p.scanpos++
	}
	if p.rescan && p.scanpos >= p.cur {
		p.addErrorToken(k, p.scanpos-p.cur)
	}
	if p.tokens[p.scanpos].kind != k {
		return true
	}
	if p.la == 0 && p.scanpos == p.lastpos {
		panic(jjLookaheadSuccess{})
	}
	return false
}

// scanFirst tries each scan in turn from the same place, as JavaCC's
// lookahead code tries a choice's alternatives: true when none matches.
func (p *jjParser) scanFirst(alts ...func() bool) bool {
	xsp := p.scanpos
	for _, alt := range alts {
		if !alt() {
			return false
		}
		p.scanpos = xsp
	}
	return true
}

func (p *jjParser) scanKind(k jjKind) func() bool { return func() bool { return p.scanToken(k) } }

// scanString is StringInterpolation's lookahead: ("@" IDENTIFIER)? "\""
// part* ENDQUOTE.
func (p *jjParser) scanString() bool {
	xsp := p.scanpos
	if p.scanFormat() {
		p.scanpos = xsp
	}
	if p.scanToken(jjQuote) {
		return true
	}
	for {
		xsp = p.scanpos
		if p.scanFirst(p.scanKind(jjVisibleChar), p.scanKind(jjEscapeChar), p.scanKind(jjCodepointChar), func() bool {
			return p.scanToken(jjOpenInterp) || p.scanPrimary()
		}) {
			p.scanpos = xsp
			break
		}
	}
	return p.scanToken(jjEndQuote)
}

func (p *jjParser) scanFormat() bool { return p.scanToken(jjAt) || p.scanToken(jjIdentifier) }

// scanPrimary is the start of PrimaryExpression as the lookahead sees it
// (its first token is all three tokens leave room for).
func (p *jjParser) scanPrimary() bool {
	for {
		xsp := p.scanpos
		if p.scanToken(jjDef) {
			p.scanpos = xsp
			break
		}
	}
	return p.scanFirst(p.scanKind(jjDot), p.scanKind(jjDollar), func() bool {
		return p.scanFirst(func() bool {
			return p.scanFirst(p.scanKind(jjInteger), p.scanKind(jjFloat), p.scanKind(jjNull), p.scanKind(jjTrue), p.scanKind(jjFalse))
		}, p.scanString, p.scanFormat, p.scanKind(jjOpenBracket), p.scanKind(jjOpenBrace), p.scanKind(jjIdentifier))
	}, p.scanKind(jjOpenPar), p.scanKind(jjMinus), p.scanKind(jjIf), p.scanKind(jjReduce), p.scanKind(jjRecursion),
		p.scanKind(jjForeach), p.scanKind(jjTry))
}
