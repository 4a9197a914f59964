//go:build unix

package procgroup

import (
	"errors"
	"os/exec"
	"syscall"
)

// Set puts the command in a new process group whose id is its
// pid, so that Kill reaches its children too.
func Set(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// Kill sends SIGKILL to the command's whole process group. A
// group that no longer exists is not an error.
func Kill(cmd *exec.Cmd) error {
	if cmd.Process == nil || cmd.Process.Pid <= 0 {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
