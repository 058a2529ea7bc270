package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/hone-ai/hone/feedback"
	"github.com/hone-ai/hone/model/defaultmodel"
)

// activeOrDefaultPolicy returns the active policy. On first run — a
// registry with no policies at all — it installs the embedded default
// model under HOME/policies as policy version 1 and promotes it, so chat
// works out of the box and RLHF starts from it.
func activeOrDefaultPolicy(ctx context.Context, e *env, st *feedback.Store) (feedback.Policy, error) {
	p, err := st.ActivePolicy(ctx)
	if err == nil || !errors.Is(err, feedback.ErrNotFound) {
		return p, err
	}
	all, err := st.Policies(ctx)
	if err != nil {
		return feedback.Policy{}, err
	}
	if len(all) > 0 {
		return feedback.Policy{}, fmt.Errorf("no active policy (%d registered): promote one with `hone models promote V`: %w", len(all), feedback.ErrNotFound)
	}
	path := filepath.Join(e.home, "policies", "default-v1.gguf")
	if err := defaultmodel.Install(path); err != nil {
		return feedback.Policy{}, err
	}
	p, err = st.CreatePolicy(ctx, feedback.Policy{
		Name: defaultmodel.Name, Base: defaultmodel.Name, Path: path, Algorithm: "pretrain",
	})
	if err != nil {
		return feedback.Policy{}, err
	}
	if err := st.Promote(ctx, p.Version); err != nil {
		return feedback.Policy{}, err
	}
	return st.Policy(ctx, p.Version)
}
