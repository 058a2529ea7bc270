package rlhf

import (
	"context"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/hone-ai/hone/model/train"
)

// The budget guard stops a run at its first failing check and leaves the
// parameters where the last passing check saw them, for every algorithm
// that takes a Guard.
func TestGuardStopsAndRollsBack(t *testing.T) {
	ctx := context.Background()
	base := tinyBase(t, 20)
	seqs := tinySeqs(24, 21)
	pairs, thumbs := tinyPrefs(seqs)
	lc := train.LoRAConfig{Rank: 2, Alpha: 4}
	algos := map[string]func(p *train.Model, o Optim) ([]Metrics, error){
		"dpo": func(p *train.Model, o Optim) ([]Metrics, error) {
			return TrainDPO(ctx, p, base, pairs, DPOConfig{Beta: 0.1}, o)
		},
		"kto": func(p *train.Model, o Optim) ([]Metrics, error) {
			return TrainKTO(ctx, p, base, thumbs, KTOConfig{Beta: 0.1}, o)
		},
	}
	for name, run := range algos {
		t.Run(name, func(t *testing.T) {
			p, err := NewPolicy(base, lc, 1)
			if err != nil {
				t.Fatal(err)
			}
			var atPass []float32
			o := Optim{LR: 5e-3, Epochs: 4, BatchSize: 4, Seed: 5, GuardEvery: 2}
			o.Guard = func(_ context.Context, step int) (bool, error) {
				if step <= 4 {
					atPass = slices.Clone(p.Trainable().Params)
					return true, nil
				}
				return false, nil // the check after step 6 fails
			}
			hist, err := run(p, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(hist) != 6 {
				t.Fatalf("ran %d steps, want a stop after 6", len(hist))
			}
			if got := hist[len(hist)-1]["budget/stopped_at"]; got != 6 {
				t.Errorf("budget/stopped_at = %v, want 6", got)
			}
			if !slices.Equal(p.Trainable().Params, atPass) {
				t.Error("parameters are not those of the last passing check (step 4)")
			}
		})
	}
}

// The LM loss of held-out text counts every token after the first, the
// prompt's too: moving tokens from completion to prompt does not change it.
func TestLMLossCountsWholeText(t *testing.T) {
	ctx := context.Background()
	m := tinyBase(t, 30)
	seqs := tinySeqs(10, 31)
	var moved []Seq
	for _, s := range seqs {
		all := append(append([]int{}, s.Prompt...), s.Completion...)
		k := 1 + (len(all)-1)/2
		moved = append(moved, Seq{all[:k], all[k:]})
	}
	a, err := lmLoss(ctx, m, seqs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := lmLoss(ctx, m, moved)
	if err != nil {
		t.Fatal(err)
	}
	if d := a - b; d > 1e-5 || d < -1e-5 {
		t.Errorf("lm loss %v vs %v after moving the prompt/completion boundary", a, b)
	}
}

func TestBuiltinChatPrompts(t *testing.T) {
	ps, err := BuiltinChatPrompts(240)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 240 {
		t.Fatalf("%d prompts, want 240", len(ps))
	}
	again, _ := BuiltinChatPrompts(240)
	if !slices.Equal(ps, again) {
		t.Error("two calls gave different prompts")
	}
	seen := map[string]bool{}
	var ko, en int
	for _, p := range ps {
		if seen[p] {
			t.Errorf("duplicate prompt %q", p)
		}
		seen[p] = true
		if strings.IndexFunc(p, func(r rune) bool { return unicode.Is(unicode.Hangul, r) }) >= 0 {
			ko++
		} else {
			en++
		}
	}
	if ko < 60 || en < 60 {
		t.Errorf("%d Korean and %d English prompts: want both languages", ko, en)
	}
}
