//go:build amd64 && !purego

package kernels

import "testing"

// forEachPath runs f once on the assembly path (when the CPU has it) and
// once on the portable Go path.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved := hasAVX2
	defer func() { hasAVX2 = saved }()
	if saved {
		t.Run("avx2", f)
	}
	hasAVX2 = false
	t.Run("go", f)
}
