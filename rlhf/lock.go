package rlhf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrLocked is returned (wrapped in a *LockedError) when another train job
// holds the lock.
var ErrLocked = errors.New("another training job holds the lock")

// LockedError says who holds the lock.
type LockedError struct {
	Path   string
	Holder string // the holder's note: pid and start time
}

func (e *LockedError) Error() string {
	if e.Holder == "" {
		return fmt.Sprintf("%v (%s)", ErrLocked, e.Path)
	}
	return fmt.Sprintf("%v (%s: %s)", ErrLocked, e.Path, e.Holder)
}

func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Lock is an exclusive advisory lock (flock) on a file in hone's home.
// The kernel releases it when the holder dies, so a killed job never
// leaves a stale lock behind: the file may remain, the lock does not.
type Lock struct {
	f    *os.File
	path string
}

// AcquireLock takes the lock at path without waiting, recording the pid
// and start time in the file. It fails with a *LockedError when another
// process holds it.
func AcquireLock(path string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	held, err := tryFlock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if held {
		b, _ := os.ReadFile(path)
		f.Close()
		return nil, &LockedError{Path: path, Holder: strings.TrimSpace(string(b))}
	}
	note := fmt.Sprintf("pid %d since %s", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(note+"\n"), 0)
		_ = f.Sync()
	}
	return &Lock{f: f, path: path}, nil
}

// Release clears the note and drops the lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	unflock(l.f)
	err := l.f.Close()
	l.f = nil
	return err
}
