package main

import (
	"io"
	"os"

	"golang.org/x/term"
)

// terminalFd returns the file descriptor of w when w is a terminal.
func terminalFd(w any) (int, bool) {
	f, ok := w.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// isTerminal reports whether w is a terminal (not a pipe, file or buffer).
func isTerminal(w any) bool {
	_, ok := terminalFd(w)
	return ok
}

// colorEnabled: colours only at a terminal, never with NO_COLOR set
// (https://no-color.org) or TERM=dumb.
func colorEnabled(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	if os.Getenv("TERM") == "dumb" {
		return false
	}
	return isTerminal(w)
}

// terminalWidth is w's width in columns, 80 when unknown.
func terminalWidth(w io.Writer) int {
	if fd, ok := terminalFd(w); ok {
		if cols, _, err := term.GetSize(fd); err == nil && cols > 0 {
			return cols
		}
	}
	return 80
}
