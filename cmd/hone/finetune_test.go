package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hone-ai/hone/model/fixtures"
)

func perplexityOf(t *testing.T, args ...string) float64 {
	t.Helper()
	out, errs, code := honeRun(t, append([]string{"perplexity", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("perplexity %v: exit %d: %s", args, code, errs)
	}
	var r struct {
		Perplexity float64 `json:"perplexity"`
		Tokens     int     `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Tokens == 0 {
		t.Fatalf("perplexity output %q: %v", out, err)
	}
	return r.Perplexity
}

// Acceptance: fine-tuning stories260K on unseen text lowers `hone
// perplexity` on held-out lines of that text; the LoRA run's adapter,
// applied to the base, scores what its merged model scores.
func TestFinetuneTextLowersPerplexity(t *testing.T) {
	bin := fixtures.Path(t, "stories260k", "stories260K.bin")
	tok := fixtures.Path(t, "stories260k", "tok512.bin")
	raw, err := os.ReadFile(fixtures.Path(t, "corpus", "tinyshakespeare.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	dir := t.TempDir()
	trainF, heldF := filepath.Join(dir, "train.txt"), filepath.Join(dir, "held.txt")
	os.WriteFile(trainF, []byte(strings.Join(lines[1000:1300], "\n")), 0o600)
	os.WriteFile(heldF, []byte(strings.Join(lines[1300:1400], "\n")), 0o600)
	before := perplexityOf(t, "-m", bin, "--tokenizer", tok, "--file", heldF)

	out, adapter := filepath.Join(dir, "tuned.gguf"), filepath.Join(dir, "adapter.gguf")
	_, errs, code := honeRun(t, "finetune", "-m", bin, "--tokenizer", tok, "--text", trainF, "--lora", "8",
		"--steps", "30", "--batch", "8", "--seq", "64", "--seed", "3", "-o", out, "--adapter-out", adapter)
	if code != 0 {
		t.Fatalf("finetune: exit %d: %s", code, errs)
	}
	for _, want := range []string{"step 30/30", "held-out loss", "wrote " + out} {
		if !strings.Contains(errs, want) {
			t.Errorf("finetune progress lacks %q:\n%s", want, errs)
		}
	}
	after := perplexityOf(t, "-m", out, "--file", heldF)
	t.Logf("held-out perplexity %.2f → %.2f", before, after)
	if !(after < 0.8*before) {
		t.Errorf("held-out perplexity %.2f → %.2f, want a clear drop", before, after)
	}
	viaAdapter := perplexityOf(t, "-m", bin, "--tokenizer", tok, "--lora", adapter, "--file", heldF)
	if d := viaAdapter/after - 1; d > 1e-4 || d < -1e-4 {
		t.Errorf("adapter on the base: perplexity %.5f, merged model %.5f", viaAdapter, after)
	}
}

func TestFinetuneChatData(t *testing.T) {
	bin := fixtures.Path(t, "stories260k", "stories260K.bin")
	tok := fixtures.Path(t, "stories260k", "tok512.bin")
	dir := t.TempDir()
	var rows []string
	for _, c := range []struct{ q, a string }{
		{"Who is Tim?", "Tim is a boy who likes to play."},
		{"What does the cat do?", "The cat sleeps in the sun."},
		{"Where is the ball?", "The ball is in the park."},
		{"Is Lily happy?", "Yes, Lily is very happy."},
		{"What is red?", "The big apple is red."},
	} {
		b, _ := json.Marshal(map[string]any{"messages": []map[string]string{{"role": "user", "content": c.q}, {"role": "assistant", "content": c.a}}})
		rows = append(rows, string(b))
	}
	data := filepath.Join(dir, "chat.jsonl")
	os.WriteFile(data, []byte(strings.Join(append(rows, rows...), "\n")), 0o600)
	out := filepath.Join(dir, "sft.gguf")
	stdout, errs, code := honeRun(t, "finetune", "-m", bin, "--tokenizer", tok, "--data", data, "--steps", "20",
		"--batch", "4", "--json", "--type", "q8_0", "-o", out)
	if code != 0 {
		t.Fatalf("finetune --data: exit %d: %s", code, errs)
	}
	var first, last map[string]any
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("progress line %q: %v", l, err)
		}
		if _, ok := v["held_out_loss"]; ok {
			if first == nil {
				first = v
			}
			last = v
		}
	}
	if first == nil || last["held_out_loss"].(float64) >= first["held_out_loss"].(float64) {
		t.Errorf("held-out loss did not fall: %v → %v", first, last)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
	if _, _, code := honeRun(t, "finetune", "-m", bin, "--text", data, "--data", data, "-o", out); code != 2 {
		t.Errorf("both --text and --data: exit %d, want 2", code)
	}
}

// cancelAfter is stdout that cancels the run once it has seen a line
// containing marker.
type cancelAfter struct {
	buf    strings.Builder
	marker string
	cancel func()
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	c.buf.Write(p)
	if strings.Contains(string(p), c.marker) {
		c.cancel()
	}
	return len(p), nil
}

func stepLosses(t *testing.T, out string) map[int]float64 {
	t.Helper()
	losses := map[int]float64{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var v struct {
			Step int      `json:"step"`
			Loss *float64 `json:"loss"`
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("progress line %q: %v", l, err)
		}
		if v.Loss != nil {
			losses[v.Step] = *v.Loss
		}
	}
	return losses
}

// A run killed mid-way and started again with the same checkpoint
// continues the loss curve of an uninterrupted run.
func TestFinetuneResumeAfterInterrupt(t *testing.T) {
	bin := fixtures.Path(t, "stories260k", "stories260K.bin")
	tok := fixtures.Path(t, "stories260k", "tok512.bin")
	raw, err := os.ReadFile(fixtures.Path(t, "corpus", "tinyshakespeare.txt"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	text := filepath.Join(dir, "train.txt")
	os.WriteFile(text, raw[:20000], 0o600)
	args := func(ckpt string) []string {
		a := []string{"finetune", "-m", bin, "--tokenizer", tok, "--text", text, "--lora", "4", "--lora-dropout", "0.1",
			"--steps", "8", "--batch", "4", "--seq", "32", "--json", "--held-out", "0", "-o", filepath.Join(dir, "out.gguf")}
		if ckpt != "" {
			a = append(a, "--checkpoint", ckpt)
		}
		return a
	}
	straightOut, errs, code := honeRun(t, args("")...)
	if code != 0 {
		t.Fatalf("straight run: exit %d: %s", code, errs)
	}
	want := stepLosses(t, straightOut)

	ckpt := filepath.Join(dir, "run.ckpt")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelAfter{marker: `"step":4,`, cancel: cancel}
	var errb strings.Builder
	if code := run(ctx, args(ckpt), strings.NewReader(""), w, &errb, func(string) string { return "" }); code == 0 {
		t.Fatalf("interrupted run exited 0: %s", errb.String())
	}
	first := stepLosses(t, w.buf.String())
	secondOut, errs, code := honeRun(t, args(ckpt)...)
	if code != 0 {
		t.Fatalf("resumed run: exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "resumed from") {
		t.Errorf("resumed run did not say so: %s", errs)
	}
	second := stepLosses(t, secondOut)
	for s := 1; s <= 8; s++ {
		got, ok := first[s]
		if !ok {
			got, ok = second[s]
		}
		if !ok || got != want[s] {
			t.Errorf("step %d: loss %v (present %v), uninterrupted %v", s, got, ok, want[s])
		}
	}
}
