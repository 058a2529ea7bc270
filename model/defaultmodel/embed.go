package defaultmodel

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hone-ai/hone/model"
)

// The shipped model, rebuilt by `hone pretrain` from settings.json.
//
//go:embed hone-default.gguf
var weights []byte

// Name is the registered name of the embedded model.
const Name = "default"

// Bytes returns the embedded GGUF file. Callers must not modify it.
func Bytes() []byte { return weights }

// Install writes the embedded model to path atomically (temp file, fsync,
// rename), creating its folder (0700).
func Install(path string) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("defaultmodel: install: %w", err)
	}
	f, err := os.CreateTemp(dir, ".hone-default-*.gguf")
	if err != nil {
		return fmt.Errorf("defaultmodel: install: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(weights); err != nil {
		return fmt.Errorf("defaultmodel: install %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("defaultmodel: install %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("defaultmodel: install %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("defaultmodel: install %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Load loads the embedded model directly (through a private temporary
// file that is unlinked at once; the mapping keeps it alive).
func Load() (*model.Model, error) {
	dir, err := os.MkdirTemp("", "hone-default-")
	if err != nil {
		return nil, fmt.Errorf("defaultmodel: %w", err)
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "hone-default.gguf")
	if err := Install(p); err != nil {
		return nil, err
	}
	m, err := model.Load(p, model.LoadOptions{})
	if err != nil {
		return nil, fmt.Errorf("defaultmodel: embedded model: %w", err)
	}
	return m, nil
}
