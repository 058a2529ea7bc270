//go:build !unix

package feedback

import "context"

// lockFile is a no-op where flock is unavailable; concurrent first opens
// then rely on the migration retry alone.
func lockFile(ctx context.Context, path string) (func(), error) { return func() {}, nil }
