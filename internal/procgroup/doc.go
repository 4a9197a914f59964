// Package procgroup starts a child process in a process group of its own and
// kills the whole group, so a command's children cannot outlive a timeout.
// It is shared by the EXEC task and the CLI's worker commands; on systems
// without process groups the command alone is killed.
package procgroup
