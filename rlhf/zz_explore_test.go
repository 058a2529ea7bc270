package rlhf

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hone-ai/hone/rlhf/lm"
)

func TestZZExplore(t *testing.T) {
	algo := os.Getenv("EXPLORE")
	if algo == "" {
		t.Skip()
	}
	m, _ := lm.LoadLlama2C("/work/shared/fixtures/stories260k/stories260K.bin")
	tok, _ := lm.LoadTokenizer("/work/shared/fixtures/stories260k/tok512.bin", 512)
	ann, err := StartAnnotator(os.Getenv("ANN"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ann.Close()
	cfg := DefaultLabConfig(algo)
	if v := os.Getenv("LR"); v != "" {
		cfg.Optim.LR, _ = strconv.ParseFloat(v, 64)
	}
	if v := os.Getenv("BETA"); v != "" {
		b, _ := strconv.ParseFloat(v, 64)
		cfg.KTO.Beta, cfg.DPO.Beta, cfg.RLOO.Beta = b, b, b
	}
	if v := os.Getenv("EPOCHS"); v != "" {
		cfg.Optim.Epochs, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("STEPS"); v != "" {
		cfg.Optim.Steps, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("RATINGS"); v != "" {
		cfg.Ratings, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("RMEPOCHS"); v != "" {
		cfg.RewardOptim.Epochs, _ = strconv.Atoi(v)
	}
	cfg.SkipRewardModel = os.Getenv("NORM") != ""
	last := time.Now()
	cfg.OnStep = func(ph string, s, tot int, mm Metrics) {
		if s%10 == 0 || s == tot-1 {
			b, _ := json.Marshal(mm)
			fmt.Printf("%s %d/%d %.1fs %s\n", ph, s, tot, time.Since(last).Seconds(), b)
		}
	}
	r, err := RunLab(context.Background(), m, tok, ann, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
	fmt.Println(r.SampleBase, r.SampleTuned)
}
