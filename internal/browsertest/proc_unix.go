//go:build unix

package browsertest

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the browser in a process group of its own, so
// that killProcessGroup reaches its helper processes too.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
