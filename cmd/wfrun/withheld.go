package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/store"
)

// Text the user typed that wfrun cannot take is not printed back.
//
// A secret name no secret holds, a flag value that does not parse, an
// argument of the wrong shape: now and then it is a secret's value pasted
// where a name goes, and the command cannot tell without comparing it with
// every value in the store. So errors and output show "***" in its place
// and say which argument it was (SECURITY.md, "A value typed where wfrun
// expects a name"); the audit trail records such a name by fingerprint.

// withheld is what output shows for withheld text.
const withheld = "***"

// withhold returns err with every form of each of texts in its message
// withheld (withholder); errors.Is and errors.As see err's chain as before.
func withhold(err error, texts ...string) error {
	if err == nil {
		return nil
	}
	return withholder(texts...).MaskError(err)
}

// withholdText is s with every form of each of texts withheld.
func withholdText(s string, texts ...string) string {
	return withholder(texts...).MaskString(s)
}

// withholder is a masker of texts: every form the masker knows of each (as
// typed, escaped as JSON, URL or HTML, each line, …) and as Go's %q writes
// it, replaced by "***". Texts under 4 bytes are not withheld: a value
// that short is never masked either, so withholding it would only hide a
// typo.
func withholder(texts ...string) *masking.Masker {
	m := masking.New(masking.WithLogger(nil))
	for _, t := range texts {
		m.Register(t)
		if q := strconv.Quote(t); q[1:len(q)-1] != t {
			m.Register(q[1 : len(q)-1])
		}
	}
	return m
}

// badFlagValue is pflag's error for a flag value that does not parse:
// `invalid argument "X" for "-e, --every" flag: time: invalid duration
// "X"` (the reason may quote it again, in its own escapes).
var badFlagValue = regexp.MustCompile(`^invalid argument ("(?:[^"\\]|\\.)*") for "([^"]*)" flag: `)

// withholdArgument rewrites pflag's error for a bad flag value: the value
// is withheld, and the parser's reason kept only when nothing of the value
// is left in it once withheld (else the flag's type is named instead).
func withholdArgument(cmd *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	m := badFlagValue.FindStringSubmatch(msg)
	if m == nil {
		return err
	}
	arg, uerr := strconv.Unquote(m[1])
	if uerr != nil {
		arg = m[1]
	}
	reason := withholdText(msg[len(m[0]):], arg) // each line too
	// The parser may quote the value in escapes of its own (time's \x0a,
	// \xe2\x82\xac): any 4 bytes of it left over drop the reason.
	for i := 0; i+4 <= len(arg); i++ {
		if strings.Contains(reason, arg[i:i+4]) {
			reason = ""
			break
		}
	}
	if reason == "" {
		kind := "value"
		names := strings.Split(m[2], ", ")
		if f := cmd.Flags().Lookup(strings.TrimLeft(names[len(names)-1], "-")); f != nil {
			kind = f.Value.Type()
		}
		reason = "not a valid " + kind
	}
	return fmt.Errorf("invalid argument %q for %q flag: %s", withholdText(arg, arg), m[2], reason)
}

// ordinal is "1st", "2nd", … for errors that name an argument by place.
func ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return strconv.Itoa(n) + suffix
}

// withholdMissing withholds name from err when err says no secret holds
// it.
func withholdMissing(err error, name string) error {
	if errors.Is(err, store.ErrNotFound) {
		return withhold(err, name)
	}
	return err
}
