package rlhf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSparkline(t *testing.T) {
	if s := Sparkline([]float64{0, 1, 2, 3, 4, 5, 6, 7}, 8); s != "▁▂▃▄▅▆▇█" {
		t.Errorf("ramp: %q", s)
	}
	if s := Sparkline([]float64{3, 3, 3}, 10); s != "▁▁▁" {
		t.Errorf("flat: %q", s)
	}
	long := make([]float64, 1000)
	for i := range long {
		long[i] = float64(i % 7)
	}
	if n := utf8.RuneCountInString(Sparkline(long, 40)); n != 40 {
		t.Errorf("width %d, want 40", n)
	}
	if Sparkline(nil, 10) != "" {
		t.Error("empty input")
	}
}

func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	var hist []Metrics
	for i := 0; i < 20; i++ {
		hist = append(hist, Metrics{"loss": 1 / float64(i+1), "rewards/margins": float64(i) / 10, "kl": float64(i) / 100})
	}
	res := &JobResult{RunID: 3, Outcome: "promoted", Message: "policy 2 promoted"}
	if err := WriteReport(dir, res, hist, hist[:5]); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"loss.png", "reward.png", "kl.png", "report.json", "metrics.jsonl", "summary.txt", "reward_model/loss.png"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "summary.txt"))
	if !strings.Contains(string(b), "rewards/margins") || !strings.Contains(string(b), "policy 2 promoted") {
		t.Errorf("summary: %s", b)
	}
}
