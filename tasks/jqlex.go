package tasks

import (
	"strconv"
	"strings"
	"unicode/utf16"
)

// The tokens and the token manager of jackson-jq 0.0.13's json-query.jj
// (see jqparse.go).

// jjKind is a token kind, numbered as JavaCC numbers json-query.jj's
// regular expressions (in the order they are declared).
type jjKind int

const (
	jjEOF jjKind = iota
	_            // SPACES
	_            // COMMENT
	jjAnd
	jjOr
	jjDefault
	jjEq
	jjNe
	jjGt
	jjGe
	jjLt
	jjLe
	jjPlus
	jjMinus
	jjTimes
	jjDivide
	jjModulo
	jjAssign
	jjUpdate
	jjPlusEq
	jjMinusEq
	jjTimesEq
	jjDivideEq
	jjModuloEq
	jjDefaultEq
	jjOpenPar
	jjClosePar
	jjSemicolon
	jjDot
	jjIdentAfterDot
	_ // OTHERWISE_AFTER_DOT
	jjRecursion
	jjOpenBracket
	jjCloseBracket
	jjQuestion
	jjDollar
	jjPipe
	jjAt
	jjOpenBrace
	jjCloseBrace
	jjColon
	jjComma
	jjTrue
	jjFalse
	jjNull
	jjInteger
	jjFloat
	_ // EXPONENT
	jjQuote
	jjEndQuote
	jjVisibleChar
	_ // "\\"
	jjEscapeChar
	jjOpenInterp
	jjCodepointChar
	jjIf
	jjThen
	jjElif
	jjElse
	jjEnd
	jjAs
	jjDef
	jjReduce
	jjForeach
	jjTry
	jjCatch
	jjLabel
	jjImport
	jjInclude
	jjModule
	jjIdentifier
	jjKinds = jjIdentifier + 3 // LETTER and DIGIT follow
)

// jjImages are JavaCC's tokenImage: a literal token's image in quotes,
// another's name in angle brackets.
var jjImages = func() [jjKinds]string {
	var im [jjKinds]string
	named := map[jjKind]string{jjEOF: "<EOF>", 1: "<SPACES>", 2: "<COMMENT>", jjIdentAfterDot: "<IDENTIFIER_AFTER_DOT>",
		jjIdentAfterDot + 1: "<OTHERWISE_AFTER_DOT>", jjInteger: "<INTEGER_LITERAL>", jjFloat: "<FLOAT_LITERAL>",
		jjFloat + 1: "<EXPONENT>", jjEndQuote: "<ENDQUOTE>", jjVisibleChar: "<VISIBLE_CHAR>", jjEscapeChar: "<ESCAPE_CHAR>",
		jjOpenInterp: "<OPEN_INTERP>", jjCodepointChar: "<CODEPOINT_CHAR>", jjIdentifier: "<IDENTIFIER>",
		jjIdentifier + 1: "<LETTER>", jjIdentifier + 2: "<DIGIT>", jjQuote: `"\""`, jjVisibleChar + 1: `"\\"`}
	for k, s := range named {
		im[k] = s
	}
	for s, k := range jjLiterals {
		im[k] = `"` + s + `"`
	}
	return im
}()

// jjLiterals are the tokens written as one string in json-query.jj.
var jjLiterals = map[string]jjKind{
	"and": jjAnd, "or": jjOr, "//": jjDefault, "==": jjEq, "!=": jjNe, ">": jjGt, ">=": jjGe, "<": jjLt,
	"<=": jjLe, "+": jjPlus, "-": jjMinus, "*": jjTimes, "/": jjDivide, "%": jjModulo, "=": jjAssign,
	"|=": jjUpdate, "+=": jjPlusEq, "-=": jjMinusEq, "*=": jjTimesEq, "/=": jjDivideEq, "%=": jjModuloEq,
	"//=": jjDefaultEq, "(": jjOpenPar, ")": jjClosePar, ";": jjSemicolon, ".": jjDot, "..": jjRecursion,
	"[": jjOpenBracket, "]": jjCloseBracket, "?": jjQuestion, "$": jjDollar, "|": jjPipe, "@": jjAt,
	"{": jjOpenBrace, "}": jjCloseBrace, ":": jjColon, ",": jjComma, "true": jjTrue, "false": jjFalse,
	"null": jjNull, "if": jjIf, "then": jjThen, "elif": jjElif, "else": jjElse, "end": jjEnd, "as": jjAs,
	"def": jjDef, "reduce": jjReduce, "foreach": jjForeach, "try": jjTry, "catch": jjCatch, "label": jjLabel,
	"import": jjImport, "include": jjInclude, "module": jjModule,
}

// jjToken is a token with the line and column of its first character.
type jjToken struct {
	kind      jjKind
	image     []uint16
	line, col int
	// start and end are the token's offsets in the query's UTF-16
	// text, set as the parser reads it.
	start, end int
}

// jjError is a query jackson-jq does not compile, with the message
// Conductor reports.
type jjError struct{ msg string }

func (e *jjError) Error() string { return e.msg }

// Lexical states of json-query.jj.
const (
	jjStateDefault = iota
	jjStateDot
	jjStateString
)

// jjLexer is json-query.jj's token manager over the query as UTF-16 (a
// Java String).
type jjLexer struct {
	src        []uint16
	line, col  []int // of each unit, as SimpleCharStream counts them
	pos        int
	state      int
	depth      int
	depthStack []int
}

func newJJLexer(query string) *jjLexer {
	src := utf16.Encode([]rune(query))
	lx := &jjLexer{src: src, line: make([]int, len(src)), col: make([]int, len(src))}
	line, col := 1, 0
	prevCR, prevLF := false, false
	for i, c := range src {
		col++
		if prevLF {
			prevLF = false
			line, col = line+1, 1
		} else if prevCR {
			prevCR = false
			if c == '\n' {
				prevLF = true
			} else {
				line, col = line+1, 1
			}
		}
		switch c {
		case '\r':
			prevCR = true
		case '\n':
			prevLF = true
		case '\t':
			col--
			col += 8 - col%8
		}
		lx.line[i], lx.col[i] = line, col
	}
	return lx
}

func isJJLetter(c uint16) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isJJDigit(c uint16) bool { return c >= '0' && c <= '9' }

func (lx *jjLexer) at(i int) uint16 {
	if i < len(lx.src) {
		return lx.src[i]
	}
	return 0xffff
}

// eofToken is JavaCC's EOF: at the last character (line 0, column 0 in an
// empty query, where SimpleCharStream has no character to point at).
func (lx *jjLexer) eofToken() jjToken {
	if len(lx.src) == 0 {
		return jjToken{kind: jjEOF}
	}
	return jjToken{kind: jjEOF, line: lx.line[len(lx.src)-1], col: lx.col[len(lx.src)-1]}
}

// lexError is TokenMgrError's message when no token matches: the token
// began at begin (a MORE prefix included), the current lexical state's
// attempt at stateStart, and it failed on the character at f (len(src):
// the input ended). The token manager names the failing character and,
// when its attempt read more than that character, the text before it;
// when the failing character is the last one, it finds the end of the
// input instead and names that, one column further.
func (lx *jjLexer) lexError(begin, stateStart, f int) error {
	n := len(lx.src)
	read := f - stateStart // characters the attempt read before failing
	if f < n {
		read++
	}
	after := func(end int) string {
		if read <= 1 {
			return ""
		}
		return jjEscape(lx.src[begin:end])
	}
	pos := func(i int) (int, int) { return lx.line[i], lx.col[i] }
	var line, col int
	var msg string
	if f >= n-1 {
		last := min(f, n-1)
		line, col = pos(last)
		if c := lx.src[last]; f == last && (c == '\n' || c == '\r') {
			line, col = line+1, 0
		} else {
			col++
		}
		msg = "<EOF> after : \"" + after(min(f+1, n)) + "\""
	} else {
		line, col = pos(f)
		msg = "\"" + jjEscape(lx.src[f:f+1]) + "\" (" + strconv.Itoa(int(lx.src[f])) + "), after : \"" + after(f) + "\""
	}
	return &jjError{"Lexical error at line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col) + ".  Encountered: " + msg}
}

// next returns the next token, or the error the token manager throws.
func (lx *jjLexer) next() (jjToken, error) {
	for {
		if lx.pos >= len(lx.src) {
			return lx.eofToken(), nil
		}
		start := lx.pos
		c := lx.src[start]
		tok := func(k jjKind, end int) (jjToken, error) {
			lx.pos = end
			return jjToken{kind: k, image: lx.src[start:end], line: lx.line[start], col: lx.col[start]}, nil
		}
		switch lx.state {
		case jjStateDot:
			lx.state = jjStateDefault
			if isJJLetter(c) {
				end := start + 1
				for end < len(lx.src) && (isJJLetter(lx.src[end]) || isJJDigit(lx.src[end])) {
					end++
				}
				return tok(jjIdentAfterDot, end)
			}
			continue // OTHERWISE_AFTER_DOT: an empty MORE, back to DEFAULT
		case jjStateString:
			switch {
			case c == '"':
				lx.state = jjStateDefault
				return tok(jjEndQuote, start+1)
			case c == '\\':
				e := lx.at(start + 1)
				switch {
				case strings.ContainsRune(`"\/bfnrt`, rune(e)):
					return tok(jjEscapeChar, start+2)
				case e == '(':
					lx.depthStack = append(lx.depthStack, lx.depth)
					lx.depth = 0
					lx.state = jjStateDefault
					return tok(jjOpenInterp, start+2)
				case e == 'u':
					end := start + 2
					for end < start+6 && end < len(lx.src) && strings.ContainsRune("0123456789abcdefABCDEF", rune(lx.src[end])) {
						end++
					}
					if end == start+6 {
						return tok(jjCodepointChar, end)
					}
					return jjToken{}, lx.lexError(start, start+1, end)
				}
				return jjToken{}, lx.lexError(start, start+1, start+1)
			case c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
				return jjToken{}, lx.lexError(start, start, start)
			}
			return tok(jjVisibleChar, start+1)
		}
		// DEFAULT
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			lx.pos++
			continue
		case c == '#':
			end := start + 1
			for end < len(lx.src) && lx.src[end] != '\n' && lx.src[end] != '\r' {
				end++
			}
			if end < len(lx.src) {
				if lx.src[end] == '\r' && lx.at(end+1) == '\n' {
					end++
				}
				end++
			}
			lx.pos = end
			continue
		case isJJLetter(c):
			end := start + 1
			for end < len(lx.src) && (isJJLetter(lx.src[end]) || isJJDigit(lx.src[end])) {
				end++
			}
			if k, ok := jjLiterals[string(utf16.Decode(lx.src[start:end]))]; ok {
				return tok(k, end)
			}
			return tok(jjIdentifier, end)
		case isJJDigit(c) || c == '.' && isJJDigit(lx.at(start+1)):
			return lx.number(start)
		case c == '"':
			lx.state = jjStateString
			return tok(jjQuote, start+1)
		case c == '(':
			lx.depth++
			return tok(jjOpenPar, start+1)
		case c == ')':
			if lx.depth == 0 {
				if len(lx.depthStack) == 0 {
					return jjToken{}, &jjError{"Unexpected ')' at line " + strconv.Itoa(lx.line[start]) + ", column " + strconv.Itoa(lx.col[start]) + "."}
				}
				lx.depth = lx.depthStack[len(lx.depthStack)-1]
				lx.depthStack = lx.depthStack[:len(lx.depthStack)-1]
				lx.state = jjStateString
			} else {
				lx.depth--
			}
			return tok(jjClosePar, start+1)
		}
		if c == '!' && lx.at(start+1) != '=' {
			// "!" starts only "!=".
			return jjToken{}, lx.lexError(start, start, start+1)
		}
		// Operators and punctuation: the longest literal.
		for n := 3; n >= 1; n-- {
			if start+n > len(lx.src) {
				continue
			}
			if k, ok := jjLiterals[string(utf16.Decode(lx.src[start:start+n]))]; ok && !isJJLetter(lx.src[start]) {
				if k == jjDot {
					lx.state = jjStateDot
				}
				return tok(k, start+n)
			}
		}
		return jjToken{}, lx.lexError(start, start, start)
	}
}

// number lexes INTEGER_LITERAL or FLOAT_LITERAL, the longer (INTEGER on a
// tie, declared first).
func (lx *jjLexer) number(start int) (jjToken, error) {
	digits := func(i int) int {
		for isJJDigit(lx.at(i)) {
			i++
		}
		return i
	}
	i := start
	intEnd := -1
	if lx.src[i] != '.' {
		if lx.src[i] == '0' {
			i++
		} else {
			i = digits(i)
		}
		intEnd = i
		if lx.at(i) == '.' && isJJDigit(lx.at(i+1)) {
			i = digits(i + 1)
		}
	} else {
		i = digits(i + 1)
	}
	if e := lx.at(i); e == 'e' || e == 'E' {
		j := i + 1
		if s := lx.at(j); s == '+' || s == '-' {
			j++
		}
		if isJJDigit(lx.at(j)) {
			i = digits(j)
		}
	}
	kind := jjFloat
	if i == intEnd {
		kind = jjInteger
	}
	lx.pos = i
	return jjToken{kind: kind, image: lx.src[start:i], line: lx.line[start], col: lx.col[start]}, nil
}

// jjEscape is JavaCC's add_escapes.
func jjEscape(s []uint16) string {
	var b strings.Builder
	for _, c := range s {
		switch c {
		case 0:
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		case '"':
			b.WriteString(`\"`)
		case '\'':
			b.WriteString(`\'`)
		case '\\':
			b.WriteString(`\\`)
		default:
			if c < 0x20 || c > 0x7e {
				h := strconv.FormatInt(int64(c), 16)
				b.WriteString(`\u` + strings.Repeat("0", 4-len(h)) + h)
			} else {
				b.WriteByte(byte(c))
			}
		}
	}
	return b.String()
}
