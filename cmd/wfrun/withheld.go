package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

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

// withhold returns err with every spelling of each of texts in its message
// (as typed, and quoted as %q quotes it) replaced by "***"; errors.Is and
// errors.As see err's chain as before.
func withhold(err error, texts ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	masked := withholdText(msg, texts...)
	if masked == msg {
		return err
	}
	return &withheldError{msg: masked, err: err}
}

// withholdText withholds texts of 4 bytes and more: a shorter value is
// never masked either (masking.WithMinLength), so withholding it would
// only hide a typo.
func withholdText(s string, texts ...string) string {
	for _, t := range texts {
		if len(t) < 4 {
			continue
		}
		s = strings.ReplaceAll(s, strconv.Quote(t), strconv.Quote(withheld))
		s = strings.ReplaceAll(s, t, withheld)
	}
	return s
}

type withheldError struct {
	msg string
	err error
}

func (e *withheldError) Error() string { return e.msg }
func (e *withheldError) Unwrap() error { return e.err }

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
	reason := withholdText(msg[len(m[0]):], append([]string{arg}, strings.Split(arg, "\n")...)...)
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
	return &withheldError{msg: fmt.Sprintf("invalid argument %q for %q flag: %s", withheld, m[2], reason), err: err}
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
