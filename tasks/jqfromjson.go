package tasks

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"

	"github.com/itchyny/gojq"

	"github.com/wfrun/wfrun/runsecrets"
)

// jackson-jq 0.0.13's fromjson (functions/FromJsonFunction.java) reads its
// input with Jackson's ObjectMapper.readTree, and a text that is not JSON
// fails with Jackson's parser message, which quotes the text:
//
//	Unrecognized token 's': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')
//	 at [Source: (String)"s"; line: 1, column: 2]
//
// It also reads only the first value: "1 2" gives 1, "" and " " null.
// jacksonFromJSON checks the text as Jackson's ReaderBasedJsonParser does
// (jackson-core 2.14, the version the recordings in testdata/jq were made
// with: its messages, and lines and columns counted in UTF-16 units from
// 1), then decodes the first value as gojq does. The messages were taken
// from those recordings.
//
// The reason quotes the text and a token of it: both are masked (the text
// whole) before the text is cut to Jackson's 500 characters.

const jqFromJSONFunc = "_wfrun_fromjson"

// jqFromJSONError is fromjson's failure: Jackson's message, with the text
// and the token it quotes kept apart so that the reason masks them.
type jqFromJSONError struct {
	src   string
	parts []jqMsgPart
}

// jqMsgPart is literal text, the quoted source (src) or a token of it.
type jqMsgPart struct {
	text       string
	src, token bool
}

// Error is the message unmasked (the text cut before it could be masked).
func (e *jqFromJSONError) Error() string { return e.render(nil) }

// Value makes the error a gojq.ValueError, so that a try/catch hands its
// handler the error itself rather than Error's text: the handler's first
// step (jqCaught) renders it with the run's masker, the text masked before
// it is cut. Error's text, cut first, could keep the head of a secret the
// cut split. The value is no error itself (gojq takes an error value met
// on the way for a new failure).
func (e *jqFromJSONError) Value() any { return jqCaughtFromJSON{e} }

// jqCaughtFromJSON is a fromjson failure handed to a try's handler.
type jqCaughtFromJSON struct{ err *jqFromJSONError }

func (e *jqFromJSONError) reason(m runsecrets.Masker) string { return e.render(m) }

func (e *jqFromJSONError) render(m runsecrets.Masker) string {
	var b strings.Builder
	for _, p := range e.parts {
		switch {
		case p.src:
			b.WriteString(jacksonSourceSnippet(maskPieces(m, e.src)))
		case p.token && m != nil:
			b.WriteString(maskPieces(m, p.text))
		default:
			b.WriteString(p.text)
		}
	}
	return b.String()
}

// jacksonSourceSnippet is Jackson's description of a String source: the
// text in quotes, control characters other than CR and LF as \uXXXX, cut
// after 500 UTF-16 units with the count of those left out.
func jacksonSourceSnippet(s string) string {
	u := utf16.Encode([]rune(s))
	cut := 0
	if len(u) > 500 {
		cut = len(u) - 500
		u = u[:500]
	}
	var b strings.Builder
	b.WriteString(`(String)"`)
	for _, r := range utf16.Decode(u) {
		if r < 0x20 && r != '\n' && r != '\r' {
			b.WriteString(`\u` + strconv.FormatInt(int64(r)+0x10000, 16)[1:])
			continue
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	if cut > 0 {
		b.WriteString("[truncated " + strconv.Itoa(cut) + " chars]")
	}
	return b.String()
}

var jqFromJSONDecode = mustCompileJQ("fromjson")

// jacksonFromJSON is fromjson as jackson-jq runs it.
func jacksonFromJSON(v any, _ []any) any {
	s, ok := v.(string)
	if !ok {
		return &jqFromJSONError{parts: []jqMsgPart{{text: "fromjson is not applicable to " + jqNodeType(v) + "; expected one of [STRING]"}}}
	}
	p := &jacksonParser{src: s, u: utf16.Encode([]rune(s)), line: 1}
	start, end, err := p.document()
	if err != nil {
		return err
	}
	if start == end {
		return nil
	}
	out, _ := jqFromJSONDecode.Run(loneSurrogates(string(utf16.Decode(p.u[start:end])))).Next()
	return jacksonParsedNumbers(out)
}

// loneSurrogates replaces each \uXXXX escape of a surrogate that is not
// one half of a pair (\ud800 alone) in JSON text by "?": Jackson keeps
// such a UTF-16 unit in its string, and Java writes it to UTF-8 as "?"
// (what Conductor's jq shows), where a Go string can hold only U+FFFD.
func loneSurrogates(text string) string {
	if !strings.Contains(text, `\u`) && !strings.Contains(text, `\U`) {
		return text
	}
	unit := func(i int) (rune, bool) { // the unit of the escape at i, if any
		if i+6 > len(text) || text[i] != '\\' || text[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(text[i+2:i+6], 16, 16)
		return rune(n), err == nil
	}
	var b strings.Builder
	inString := false
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case !inString:
			inString = c == '"'
		case c == '"':
			inString = false
		case c == '\\':
			r, ok := unit(i)
			if !ok {
				b.WriteByte(c)
				i++
				if i < len(text) {
					b.WriteByte(text[i])
				}
				continue
			}
			if utf16.IsSurrogate(r) {
				if r < 0xdc00 {
					if r2, ok := unit(i + 6); ok && r2 >= 0xdc00 && r2 <= 0xdfff {
						b.WriteString(text[i : i+12])
						i += 11
						continue
					}
				}
				b.WriteByte('?')
				i += 5
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// jacksonParser walks the text in UTF-16 units, as Jackson's reader does.
type jacksonParser struct {
	src       string
	u         []uint16
	pos       int
	line      int
	lineStart int
}

const jqValidValues = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"

type jqContext struct {
	kind      string // "root", "Array", "Object"
	line, col int
}

func (p *jacksonParser) location(line, col int) []jqMsgPart {
	return []jqMsgPart{{text: "[Source: "}, {src: true}, {text: "; line: " + strconv.Itoa(line) + ", column: " + strconv.Itoa(col) + "]"}}
}

// fail is Jackson's error: msg parts and the location of the reader
// (after the units it read).
func (p *jacksonParser) fail(parts ...jqMsgPart) *jqFromJSONError {
	parts = append(parts, jqMsgPart{text: "\n at "})
	parts = append(parts, p.location(p.line, p.pos-p.lineStart+1)...)
	return &jqFromJSONError{src: p.src, parts: parts}
}

func (p *jacksonParser) failText(msg string) *jqFromJSONError { return p.fail(jqMsgPart{text: msg}) }

// charDesc is Jackson's _getCharDesc of a unit.
func charDesc(c uint16) string {
	r := rune(c)
	if unicode.IsControl(r) {
		return "(CTRL-CHAR, code " + strconv.Itoa(int(c)) + ")"
	}
	s := string(r)
	if c >= 0xd800 && c <= 0xdfff {
		s = "?"
	}
	if c > 255 {
		return "'" + s + "' (code " + strconv.Itoa(int(c)) + " / 0x" + strconv.FormatInt(int64(c), 16) + ")"
	}
	return "'" + s + "' (code " + strconv.Itoa(int(c)) + ")"
}

func (p *jacksonParser) unexpected(c uint16, msg string) *jqFromJSONError {
	return p.failText("Unexpected character (" + charDesc(c) + "): " + msg)
}

func (p *jacksonParser) eof() bool { return p.pos >= len(p.u) }

// skipWS skips white space; ok is false at the end of the text. A
// character no JSON text has between tokens fails.
func (p *jacksonParser) skipWS() (c uint16, ok bool, err *jqFromJSONError) {
	for !p.eof() {
		c = p.u[p.pos]
		p.pos++
		switch {
		case c == ' ' || c == '\t':
		case c == '\n':
			p.line++
			p.lineStart = p.pos
		case c == '\r':
			if !p.eof() && p.u[p.pos] == '\n' {
				p.pos++
			}
			p.line++
			p.lineStart = p.pos
		case c == '/':
			return 0, false, p.unexpected(c, "maybe a (non-standard) comment? (not recognized as one since Feature 'ALLOW_COMMENTS' not enabled for parser)")
		case c < 0x20:
			return 0, false, p.failText("Illegal character (" + charDesc(c) + "): only regular white space (\\r, \\n, \\t) is allowed between tokens")
		default:
			return c, true, nil
		}
	}
	return 0, false, nil
}

// document checks the first value of the text and returns where it is
// (start == end: none).
func (p *jacksonParser) document() (start, end int, err *jqFromJSONError) {
	c, ok, err := p.skipWS()
	if err != nil || !ok {
		return 0, 0, err
	}
	start = p.pos - 1
	root := jqContext{kind: "root", line: 1, col: 0}
	if c == ']' || c == '}' {
		return 0, 0, p.closeMismatch(c, root)
	}
	if err := p.value(c, root); err != nil {
		return 0, 0, err
	}
	return start, p.pos, nil
}

func (p *jacksonParser) closeMismatch(c uint16, ctx jqContext) *jqFromJSONError {
	want := "}"
	if c == '}' {
		want = "]"
	}
	parts := []jqMsgPart{{text: "Unexpected close marker '" + string(rune(c)) + "': expected '" + want + "' (for " + ctx.kind + " starting at "}}
	parts = append(parts, p.location(ctx.line, ctx.col)...)
	return p.fail(append(parts, jqMsgPart{text: ")"})...)
}

// value checks a value whose first unit c was read.
func (p *jacksonParser) value(c uint16, ctx jqContext) *jqFromJSONError {
	switch {
	case c == '"':
		return p.str(false)
	case c == '[' || c == '{':
		return p.container(c)
	case c == '-' || c >= '0' && c <= '9':
		return p.number(c, ctx)
	case c == 't':
		return p.token("true")
	case c == 'f':
		return p.token("false")
	case c == 'n':
		return p.token("null")
	case c == 'N':
		return p.nonStandard("NaN", "NaN")
	case c == 'I':
		return p.nonStandard("Infinity", "Infinity")
	case c == '+':
		if p.eof() {
			return p.failText("Unexpected end-of-input in a Number value")
		}
		p.pos++
		return p.failText("Unexpected character ('+' (code 43)) in numeric value: JSON spec does not allow numbers to have plus signs: enable `JsonReadFeature.ALLOW_LEADING_PLUS_SIGN_FOR_NUMBERS` to allow")
	case javaIdentStart(c):
		return p.invalidToken(p.pos - 1)
	}
	return p.unexpected(c, "expected a valid value "+jqValidValues)
}

func javaIdentStart(c uint16) bool {
	r := rune(c)
	return unicode.IsLetter(r) || c == '$' || c == '_' || unicode.Is(unicode.Sc, r) || unicode.Is(unicode.Pc, r) || unicode.Is(unicode.Nl, r)
}

func javaIdentPart(c uint16) bool {
	r := rune(c)
	return javaIdentStart(c) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) ||
		c <= 8 || c >= 0xe && c <= 0x1b || c >= 0x7f && c <= 0x9f
}

// invalidToken is Jackson's "Unrecognized token": the identifier
// characters from start on.
func (p *jacksonParser) invalidToken(start int) *jqFromJSONError {
	for !p.eof() && javaIdentPart(p.u[p.pos]) {
		p.pos++
	}
	tok := string(utf16.Decode(p.u[start:p.pos]))
	return p.fail(jqMsgPart{text: "Unrecognized token '"}, jqMsgPart{text: tok, token: true},
		jqMsgPart{text: "': was expecting " + jqValidValues})
}

// matchToken reads the rest of word (its first unit read), which must not
// go on with an identifier character.
func (p *jacksonParser) matchToken(word string) bool {
	start := p.pos - 1
	for i := 1; i < len(word); i++ {
		if p.eof() || p.u[p.pos] != uint16(word[i]) {
			p.pos = start + 1
			return false
		}
		p.pos++
	}
	return p.eof() || !javaIdentPart(p.u[p.pos])
}

func (p *jacksonParser) token(word string) *jqFromJSONError {
	start := p.pos - 1
	if p.matchToken(word) {
		return nil
	}
	return p.invalidToken(start)
}

func (p *jacksonParser) nonStandard(word, shown string) *jqFromJSONError {
	start := p.pos - 1
	if p.matchToken(word) {
		return p.failText("Non-standard token '" + shown + "': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow")
	}
	return p.invalidToken(start)
}

func isDigit(c uint16) bool { return c >= '0' && c <= '9' }

// number checks a number whose first unit c was read.
func (p *jacksonParser) number(c uint16, ctx jqContext) *jqFromJSONError {
	if c == '-' {
		if p.eof() {
			return p.failText("Unexpected end-of-inputNo digit following minus sign")
		}
		c = p.u[p.pos]
		p.pos++
		switch {
		case c == 'I':
			if p.matchToken("Infinity") {
				return p.failText("Non-standard token '-Infinity': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow")
			}
			return p.failText("Unexpected character (" + charDesc(c) + ") in numeric value: expected digit (0-9) to follow minus sign, for valid numeric value")
		case c == '.':
			return p.unexpected(c, "expected a valid value "+jqValidValues)
		case !isDigit(c):
			return p.failText("Unexpected character (" + charDesc(c) + ") in numeric value: expected digit (0-9) to follow minus sign, for valid numeric value")
		}
	}
	if c == '0' && !p.eof() && isDigit(p.u[p.pos]) {
		return p.failText("Invalid numeric value: Leading zeroes not allowed")
	}
	for !p.eof() && isDigit(p.u[p.pos]) {
		p.pos++
	}
	// Jackson reads a number that starts with 1-9 on a fast path, which
	// places a failure after the first '.' or 'e' it met; the slow one
	// (a leading 0, or the number runs to the end of the text) after the
	// character that fails.
	fast, mark := c != '0', -1
	failAt := func(bad uint16, msg string) *jqFromJSONError {
		if fast {
			p.pos = mark
		} else {
			p.pos++
		}
		return p.failText("Unexpected character (" + charDesc(bad) + ") in numeric value: " + msg)
	}
	if !p.eof() && p.u[p.pos] == '.' {
		p.pos++
		mark = p.pos
		if p.eof() {
			return p.failText("Unexpected character ('.' (code 46)) in numeric value: Decimal point not followed by a digit")
		}
		if !isDigit(p.u[p.pos]) {
			return failAt(p.u[p.pos], "Decimal point not followed by a digit")
		}
		for !p.eof() && isDigit(p.u[p.pos]) {
			p.pos++
		}
	}
	if !p.eof() && (p.u[p.pos] == 'e' || p.u[p.pos] == 'E') {
		p.pos++
		if mark < 0 {
			mark = p.pos
		}
		if !p.eof() && (p.u[p.pos] == '+' || p.u[p.pos] == '-') {
			p.pos++
		}
		if p.eof() {
			return p.failText("Unexpected end-of-inputexpected a digit for number exponent")
		}
		if !isDigit(p.u[p.pos]) {
			return failAt(p.u[p.pos], "Exponent indicator not followed by a digit")
		}
		for !p.eof() && isDigit(p.u[p.pos]) {
			p.pos++
		}
	}
	if ctx.kind == "root" && !p.eof() {
		switch c := p.u[p.pos]; c {
		case ' ', '\t', '\n', '\r':
		default:
			p.pos++
			return p.unexpected(c, "Expected space separating root-level values")
		}
	}
	return nil
}

// str checks a string (or a field name) whose opening quote was read.
func (p *jacksonParser) str(name bool) *jqFromJSONError {
	what := "string value"
	if name {
		what = "name"
	}
	for {
		if p.eof() {
			if name {
				return p.failText("Unexpected end-of-input in field name")
			}
			return p.failText("Unexpected end-of-input: was expecting closing quote for a string value")
		}
		c := p.u[p.pos]
		p.pos++
		switch {
		case c == '"':
			return nil
		case c == '\\':
			if p.eof() {
				return p.failText("Unexpected end-of-input in character escape sequence")
			}
			e := p.u[p.pos]
			p.pos++
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for range 4 {
					if p.eof() {
						return p.failText("Unexpected end-of-input in character escape sequence")
					}
					h := p.u[p.pos]
					p.pos++
					if !(isDigit(h) || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return p.unexpected(h, "expected a hex-digit for character escape sequence")
					}
				}
			default:
				return p.failText("Unrecognized character escape " + charDesc(e))
			}
		case c < 0x20:
			return p.failText("Illegal unquoted character (" + charDesc(c) + "): has to be escaped using backslash to be included in " + what)
		}
	}
}

// container checks an array or object whose opening unit c was read.
func (p *jacksonParser) container(c uint16) *jqFromJSONError {
	ctx := jqContext{kind: "Array", line: p.line, col: p.pos - p.lineStart}
	if c == '{' {
		ctx.kind = "Object"
	}
	startMarker := func() *jqFromJSONError {
		parts := []jqMsgPart{{text: "Unexpected end-of-input: expected close marker for " + ctx.kind + " (start marker at "}}
		parts = append(parts, p.location(ctx.line, ctx.col)...)
		return p.fail(append(parts, jqMsgPart{text: ")"})...)
	}
	between := "Unexpected end-of-input within/between " + ctx.kind + " entries"
	for first := true; ; first = false {
		c, ok, err := p.skipWS()
		if err != nil {
			return err
		}
		if !ok {
			return startMarker()
		}
		if c == ']' || c == '}' {
			if (c == ']') != (ctx.kind == "Array") {
				return p.closeMismatch(c, ctx)
			}
			return nil
		}
		if !first {
			if c != ',' {
				return p.unexpected(c, "was expecting comma to separate "+ctx.kind+" entries")
			}
			if c, ok, err = p.skipWS(); err != nil {
				return err
			} else if !ok {
				return p.failText(between)
			}
		}
		if ctx.kind == "Object" {
			if c != '"' {
				return p.unexpected(c, "was expecting double-quote to start field name")
			}
			if err := p.str(true); err != nil {
				return err
			}
			if c, ok, err = p.skipWS(); err != nil {
				return err
			} else if !ok {
				return p.failText(between)
			}
			if c != ':' {
				return p.unexpected(c, "was expecting a colon to separate field name and value")
			}
			if c, ok, err = p.skipWS(); err != nil {
				return err
			} else if !ok {
				return p.failText(between)
			}
		}
		if err := p.value(c, ctx); err != nil {
			return err
		}
	}
}

// jqFromJSONOption makes _wfrun_fromjson, which jqJacksonDefs' fromjson
// calls, available to a query.
func jqFromJSONOption() gojq.CompilerOption {
	return gojq.WithFunction(jqFromJSONFunc, 0, 0, jacksonFromJSON)
}
