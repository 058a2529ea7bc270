//go:build unix

package rlhf

import (
	"os/exec"
	"syscall"
)

// ownGroup starts the annotator in its own process group so that killing
// it also ends whatever sh -c started (which would keep the pipes open).
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
