//go:build !unix

package tasks

import "os/exec"

// On systems without process groups the command alone is killed; its
// children may outlive a timeout.
func setProcessGroup(cmd *exec.Cmd) {}

func killProcessGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return cmd.Process.Kill()
}
