package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hone-ai/hone/feedback"
	"github.com/hone-ai/hone/model/fixtures"
	"github.com/hone-ai/hone/rlhf"
)

func honeAt(t *testing.T, home string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"--home", home}, args...), strings.NewReader(""), &out, &errb, func(string) string { return "" })
	return out.String(), errb.String(), code
}

func stories(t *testing.T) (string, string) {
	return fixtures.Path(t, "stories260k", "stories260K.bin"), fixtures.Path(t, "stories260k", "tok512.bin")
}

func TestTrainExitCodes(t *testing.T) {
	m, tok := stories(t)
	home := t.TempDir()
	// Nothing rated: exit 3 with a reason.
	_, errs, code := honeAt(t, home, "train", "-m", m, "--tokenizer", tok)
	if code != exitNothing || !strings.Contains(errs, "too little new data") {
		t.Fatalf("empty store: exit %d, stderr %q", code, errs)
	}
	// Another job holds the lock: exit 4.
	l, err := rlhf.AcquireLock(rlhf.LockPath(home))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	_, errs, code = honeAt(t, home, "train", "-m", m, "--tokenizer", tok)
	if code != exitLocked || !strings.Contains(errs, "lock") {
		t.Fatalf("locked: exit %d, stderr %q", code, errs)
	}
	// Bad flags: exit 2, naming the flag.
	for _, bad := range [][]string{
		{"--algo", "ppo"},
		{"--lr", "0"},
		{"--epochs", "-1"},
		{"--lora", "-1"},
		{"--max-duration", "-1s"},
		{"--stretch-to", "0.5"},
		{"--cuts", "1.5"},
	} {
		args := append([]string{"train"}, bad...)
		if _, stderr, code := honeAt(t, home, args...); code != exitUsage || !strings.Contains(stderr, bad[0]) {
			t.Errorf("train %v: exit %d, %q; want a usage error naming the flag", bad, code, stderr)
		}
	}
}

func TestModelsRegistry(t *testing.T) {
	m, tok := stories(t)
	home := t.TempDir()
	ctx := context.Background()
	st, err := feedback.Open(ctx, filepath.Join(home, "hone.db"))
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := json.Marshal(map[string]any{"tokenizer": tok, "kl": 1.5, "examples": 10})
	for i := 0; i < 2; i++ {
		p, err := st.CreatePolicy(ctx, feedback.Policy{Name: "p", Base: m, Path: m, Algorithm: "kto", ParentVersion: int64(i), Metrics: meta})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := st.Promote(ctx, p.Version); err != nil {
				t.Fatal(err)
			}
		}
	}
	st.Close()
	out, errs, code := honeAt(t, home, "models")
	if code != 0 || !strings.Contains(out, "1 *") || !strings.Contains(out, "candidate") || !strings.Contains(out, "KL 1.50") {
		t.Fatalf("list: %d %q %q", code, out, errs)
	}
	if out, _, code = honeAt(t, home, "models", "promote", "2"); code != 0 || !strings.Contains(out, "policy 2 is active") {
		t.Fatalf("promote: %d %q", code, out)
	}
	if out, _, code = honeAt(t, home, "models", "show", "2", "--json"); code != 0 || !strings.Contains(out, `"status":"active"`) || !strings.Contains(out, `"lineage"`) {
		t.Fatalf("show: %d %q", code, out)
	}
	if out, _, code = honeAt(t, home, "models", "rollback"); code != 0 || !strings.Contains(out, "policy 1 is active") {
		t.Fatalf("rollback: %d %q", code, out)
	}
	dst := filepath.Join(t.TempDir(), "p1.gguf")
	if out, errs, code = honeAt(t, home, "models", "export", "1", "-o", dst); code != 0 {
		t.Fatalf("export: %d %q %q", code, out, errs)
	}
	if _, err := rlhf.LoadModel(dst, ""); err != nil {
		t.Fatalf("exported GGUF does not load: %v", err)
	}
	for _, bad := range [][]string{{"models", "promote"}, {"models", "show", "x"}, {"models", "export", "1"}, {"models", "frobnicate"}} {
		if _, _, code := honeAt(t, home, bad...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
	if _, errs, code := honeAt(t, home, "models", "promote", "99"); code != exitError || !strings.Contains(errs, "not found") {
		t.Errorf("promote 99: exit %d %q", code, errs)
	}
}

func TestLabCommandJSON(t *testing.T) {
	m, tok := stories(t)
	home := t.TempDir()
	prompts := filepath.Join(home, "prompts.txt")
	var ps []string
	for i, p := range rlhf.BuiltinPrompts() {
		if i%8 == 0 {
			ps = append(ps, p)
		}
	}
	if err := os.WriteFile(prompts, []byte(strings.Join(ps, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	ann, _ := filepath.Abs("../../rlhf/testdata/approve-word.sh")
	out, errs, code := honeAt(t, home, "lab", "-m", m, "--tokenizer", tok, "--annotator", ann+" she", "--prompts", prompts,
		"--algo", "dpo", "--ratings", "40", "--rounds", "2", "--eval-samples", "1", "--max-tokens", "12", "--reward-model=false", "--json", "--out", filepath.Join(home, "charts"),
		"--shrink-to", "0.005", "--anchor", "0") // without the anchor, 40 ratings run past 0.5%
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 2 round lines and a final one, got %q", out)
	}
	// A base model has no budget: each round's update runs to its end and
	// is moved back into --shrink-to on the budget's validation text.
	for _, l := range lines[:2] {
		var r struct {
			Shrink      float64  `json:"shrink"`
			BudgetDrift float64  `json:"budget_drift"`
			Drift       float64  `json:"lm_loss_drift"`
			DriftReply  *float64 `json:"lm_loss_drift_reply"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if r.Shrink <= 0 || r.Shrink >= 1 || r.BudgetDrift > 0.005 {
			t.Errorf("round %s: want 0 < shrink < 1 and budget drift ≤ 0.005", l)
		}
		// The replies' part of the drift is most of it (measured: three
		// quarters); the story openings' tokens move less.
		if r.DriftReply == nil || r.Drift <= 0 || *r.DriftReply < r.Drift/2 || *r.DriftReply > r.Drift {
			t.Errorf("round %s: want the replies' part to be most of the drift", l)
		}
	}
	var final struct {
		Final        bool
		Algo         string
		Ratings      int
		ApprovalBase *float64 `json:"approval_base"`
		KL           *float64 `json:"kl"`
		Drift        *float64 `json:"lm_loss_drift"`
		DriftSE      *float64 `json:"lm_loss_drift_se"`
		ApprovalSE   *float64 `json:"approval_tuned_se"`
	}
	if err := json.Unmarshal([]byte(lines[2]), &final); err != nil {
		t.Fatal(err)
	}
	if !final.Final || final.Algo != "dpo" || final.Ratings != 40 || final.ApprovalBase == nil || final.KL == nil || final.Drift == nil || final.DriftSE == nil || *final.DriftSE < 0 || final.ApprovalSE == nil || *final.ApprovalSE < 0 {
		t.Fatalf("final line %s", lines[2])
	}
	if _, err := os.Stat(filepath.Join(home, "charts", "loss.png")); err != nil {
		t.Errorf("charts: %v", err)
	}
	// Usage errors.
	if _, stderr, code := honeAt(t, home, "lab", "-m", m, "--tokenizer", tok, "--annotator", ann+" she", "--eval-prompts", filepath.Join(home, "missing.txt")); code == 0 || !strings.Contains(stderr, "--eval-prompts") {
		t.Errorf("--eval-prompts of a missing file: exit %d, %q; want an error naming the flag", code, stderr)
	}
	// With the shrink off there is no target to stretch to.
	if _, stderr, code := honeAt(t, home, "lab", "-m", m, "--tokenizer", tok, "--annotator", ann+" she", "--shrink-to", "0", "--stretch-to", "2"); code != exitUsage || !strings.Contains(stderr, "--stretch-to 2 needs --shrink-to") {
		t.Errorf("--stretch-to without --shrink-to: exit %d, %q; want a usage error naming both", code, stderr)
	}
	if _, stderr, code := honeAt(t, home, "lab", "-m", m, "--tokenizer", tok, "--annotator", ann+" she", "--shrink-to", "0", "--kl-to", "4"); code != exitUsage || !strings.Contains(stderr, "--kl-to 4 needs --shrink-to") {
		t.Errorf("--kl-to without --shrink-to: exit %d, %q; want a usage error naming both", code, stderr)
	}
	if _, _, code := honeAt(t, home, "lab", "-m", m); code != exitUsage {
		t.Errorf("no annotator: exit %d", code)
	}
	// An annotator that approves everything gives one label: nothing to
	// learn, exit 3 as `hone train` does.
	all, _ := filepath.Abs("../../rlhf/testdata/approve-short.sh")
	if _, stderr, code := honeAt(t, home, "lab", "-m", m, "--tokenizer", tok, "--annotator", all+" 1000", "--prompts", prompts,
		"--ratings", "8", "--eval-samples", "1", "--max-tokens", "8"); code != exitNothing || !strings.Contains(stderr, "KTO needs both") {
		t.Errorf("lab with every reply approved: exit %d, %q; want %d and KTO's need", code, stderr, exitNothing)
	}
	for _, bad := range [][]string{
		{"--algo", "ppo"},
		{"--temperature", "0"},
		{"--epochs", "-1"},
		{"--max-tokens", "-3"},
		{"--lm-samples", "0"},
		{"--lora-rank", "-1"},
		{"--lora-targets", "q,zz"},
		{"--anchor", "-2"},
		{"--anchor-min-prob", "1.5"},
		{"--budget", "-0.1"},
		{"--budget-retries", "-1"},
		{"--shrink-to", "-0.1"},
		{"--stretch-to", "0.5"},
		{"--kl-to", "-1"},
		{"--rpo-alpha", "-1"},
		{"--cuts", "1"},
		{"--desirable-weight", "-1"},
		{"--undesirable-weight", "-0.5"},
		{"--rloo-k", "1"},
		{"--rloo-prompts", "-1"},
		{"--rloo-reward", "logit"},
	} {
		args := append([]string{"lab", "-m", m, "--annotator", "x"}, bad...)
		if _, stderr, code := honeAt(t, home, args...); code != exitUsage || !strings.Contains(stderr, strings.TrimPrefix(bad[0], "-")) {
			t.Errorf("lab %v: exit %d, %q; want a usage error naming the flag", bad, code, stderr)
		}
	}
}
