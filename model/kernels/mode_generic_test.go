//go:build !amd64 || purego

package kernels

import "testing"

func forEachPath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	t.Run("go", f)
}
