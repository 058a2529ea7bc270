//go:build !unix

package rlhf

import (
	"errors"
	"os"
)

// Without flock the lock is an exclusively created file; a killed job's
// file must be removed by hand (the error says where).
func tryFlock(f *os.File) (bool, error) {
	return false, errors.New("training lock needs flock (unix)")
}

func unflock(*os.File) {}
