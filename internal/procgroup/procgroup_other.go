//go:build !unix

package procgroup

import "os/exec"

// On systems without process groups the command alone is killed; its
// children may outlive a timeout.
func Set(cmd *exec.Cmd) {}

func Kill(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return cmd.Process.Kill()
}
