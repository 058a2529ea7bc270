package rlhf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hone-ai/hone/feedback"
	"github.com/hone-ai/hone/model/fixtures"
	"github.com/hone-ai/hone/model/train"
)

// smallJob is a job configuration small enough for tests on two cores.
func smallJob(t *testing.T, home string, st *feedback.Store) JobConfig {
	t.Helper()
	jc := DefaultJobConfig()
	jc.Home, jc.Store = home, st
	jc.BaseModel = fixtures.Path(t, "stories260k", "stories260K.bin")
	jc.Tokenizer = fixtures.Path(t, "stories260k", "tok512.bin")
	jc.LoRA = train.LoRAConfig{Rank: 4, Alpha: 8}
	jc.Optim = Optim{LR: 2e-3, Epochs: 2, BatchSize: 8}
	jc.RewardOptim = Optim{LR: 2e-3, Epochs: 1, BatchSize: 8}
	jc.Reward = RewardConfig{} // frozen backbone: head only
	jc.Sampler = Sampler{Temperature: 1, MaxTokens: 12}
	jc.Gates.Samples = 1
	jc.CheckpointEvery = 2
	jc.MinExamples, jc.MinPairs = 8, 4
	return jc
}

// seedStore adds n prompts with two rated replies each (one mentioning
// "big" rated up, one rated down), which also derives n pairs.
func seedStore(t *testing.T, st *feedback.Store, n int, offset int) {
	t.Helper()
	seedStoreWith(t, st, n, offset, "She saw a big dog in the park.", "She went home and slept.")
}

// seedStoreWith is seedStore with the replies rated up and down.
func seedStoreWith(t *testing.T, st *feedback.Store, n int, offset int, up, down string) {
	t.Helper()
	ctx := context.Background()
	prompts := BuiltinPrompts()
	for i := 0; i < n; i++ {
		c, err := st.CreateConversation(ctx, feedback.NewConversation{Title: "t"})
		if err != nil {
			t.Fatal(err)
		}
		u, err := st.AppendMessage(ctx, feedback.Message{ConversationID: c.ID, Role: feedback.RoleUser, Content: prompts[(i+offset)%len(prompts)]})
		if err != nil {
			t.Fatal(err)
		}
		for k, reply := range []string{up, down} {
			m, err := st.AppendMessage(ctx, feedback.Message{ConversationID: c.ID, ParentID: u, Role: feedback.RoleAssistant, Content: reply})
			if err != nil {
				t.Fatal(err)
			}
			v := 1
			if k == 1 {
				v = -1
			}
			if _, err := st.Rate(ctx, feedback.RatingInput{MessageID: m, Rater: "test", Value: v}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func openStore(t *testing.T, dir string) *feedback.Store {
	t.Helper()
	st, err := feedback.Open(context.Background(), filepath.Join(dir, "hone.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestJobNothingToDo(t *testing.T) {
	home := t.TempDir()
	st := openStore(t, home)
	jc := smallJob(t, home, st)
	ctx := context.Background()
	// Empty store: registers nothing on a dry run, refuses with exit-3 error.
	_, err := RunJob(ctx, jc)
	if !errors.Is(err, ErrNothingToDo) || !strings.Contains(err.Error(), "too little new data") {
		t.Fatalf("empty store: %v", err)
	}
	// Only 👍: KTO needs both labels.
	c, _ := st.CreateConversation(ctx, feedback.NewConversation{Title: "t"})
	for i := 0; i < 10; i++ {
		u, _ := st.AppendMessage(ctx, feedback.Message{ConversationID: c.ID, Role: feedback.RoleUser, Content: fmt.Sprint("hi ", i)})
		m, _ := st.AppendMessage(ctx, feedback.Message{ConversationID: c.ID, ParentID: u, Role: feedback.RoleAssistant, Content: "hello"})
		if _, err := st.Rate(ctx, feedback.RatingInput{MessageID: m, Rater: "r", Value: 1}); err != nil {
			t.Fatal(err)
		}
	}
	jc.Algo = "kto"
	_, err = RunJob(ctx, jc)
	if !errors.Is(err, ErrNothingToDo) || !strings.Contains(err.Error(), "both") {
		t.Fatalf("one label: %v", err)
	}
	runs, _ := st.Runs(ctx, 0)
	if len(runs) != 0 {
		t.Errorf("refused runs left %d training_runs rows", len(runs))
	}
}

func TestJobLocked(t *testing.T) {
	home := t.TempDir()
	st := openStore(t, home)
	jc := smallJob(t, home, st)
	l, err := AcquireLock(LockPath(home))
	if err != nil {
		t.Fatal(err)
	}
	_, err = RunJob(context.Background(), jc)
	var le *LockedError
	if !errors.As(err, &le) || !strings.Contains(le.Holder, fmt.Sprint("pid ", os.Getpid())) {
		t.Fatalf("second job: %v, want a LockedError naming pid %d", err, os.Getpid())
	}
	l.Release()
	// Released: the lock can be taken again.
	l2, err := AcquireLock(LockPath(home))
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release()
}

// TestLockReleasedWhenHolderKilled: a holder killed with SIGKILL leaves
// its file but not its lock.
func TestLockReleasedWhenHolderKilled(t *testing.T) {
	if os.Getenv("HONE_LOCK_HELPER") != "" {
		if _, err := AcquireLock(os.Getenv("HONE_LOCK_HELPER")); err != nil {
			os.Exit(3)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	path := filepath.Join(t.TempDir(), "train.lock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockReleasedWhenHolderKilled$")
	cmd.Env = append(os.Environ(), "HONE_LOCK_HELPER="+path)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf) != "locked" {
		t.Fatalf("helper: %q %v", buf, err)
	}
	if _, err := AcquireLock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("while held: %v", err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	l, err := AcquireLock(path)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Release()
}

func TestJobTrainsPromotesAndGates(t *testing.T) {
	home := t.TempDir()
	st := openStore(t, home)
	jc := smallJob(t, home, st)
	ctx := context.Background()
	seedStore(t, st, 24, 0)
	jc.Algo = "auto"
	dry := jc
	dry.DryRun = true
	res, err := RunJob(ctx, dry)
	if err != nil || res.Outcome != "dry-run" {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	// A gate that cannot pass: the candidate stays a candidate, the job
	// names the gate, the active policy (the base) is untouched.
	strict := jc
	strict.Gates.MaxKL = 1e-12
	res, err = RunJob(ctx, strict)
	if err != nil {
		t.Fatal(err)
	}
	if res.Algo != "dpo" || res.Outcome != "rejected" || !slices.Contains(res.FailedGates, "kl") || !strings.Contains(res.Message, "kl") {
		t.Fatalf("strict gates: %+v", res)
	}
	act, _ := st.ActivePolicy(ctx)
	cand, _ := st.Policy(ctx, res.Candidate)
	if act.Version != res.Reference || cand.Status != feedback.PolicyCandidate {
		t.Fatalf("active %d (want %d), candidate status %s", act.Version, res.Reference, cand.Status)
	}
	if _, err := os.Stat(filepath.Join(res.Dir, "report.json")); err != nil {
		t.Errorf("report: %v", err)
	}
	// Same data, same reference: nothing new to do.
	if _, err := RunJob(ctx, strict); !errors.Is(err, ErrNothingToDo) || !strings.Contains(err.Error(), "failed its gates") {
		t.Fatalf("no new data: %v", err)
	}
	// New data, loose gates: promoted, and the new policy file loads.
	seedStore(t, st, 24, 50)
	loose := jc
	loose.Gates = GateConfig{MinRewardGain: -1e9, MaxKL: 1e9, MaxLMLossIncrease: 1e9, MinLengthRatio: 1e-9, MaxLengthRatio: 1e9, Samples: 1}
	res, err = RunJob(ctx, loose)
	if err != nil {
		t.Fatal(err)
	}
	// The rejected run's data was not consumed: this run trains on it too.
	if res.Outcome != "promoted" || res.WatermarkFrom != 0 || res.Examples != 96 {
		t.Fatalf("loose gates: %+v", res)
	}
	act, _ = st.ActivePolicy(ctx)
	if act.Version != res.Candidate || act.ParentVersion != res.Reference {
		t.Fatalf("active %+v after promotion of %d", act, res.Candidate)
	}
	// Promoted data is consumed.
	if _, err := RunJob(ctx, jc); !errors.Is(err, ErrNothingToDo) {
		t.Fatalf("after promotion: %v", err)
	}
	ld, err := LoadModel(act.Path, "")
	if err != nil {
		t.Fatalf("promoted policy does not load: %v", err)
	}
	// Its adapter reads back through the training core's llama.cpp-style
	// LoRA loader.
	if _, err := train.LoadLoRA(strings.TrimSuffix(act.Path, ".gguf")+".lora.gguf", ld.Engine.Config); err != nil {
		t.Fatalf("adapter: %v", err)
	}
}

// TestJobKilledResumes: a job killed with SIGKILL mid-training leaves the
// active policy untouched and the next run resumes from its checkpoint.
func TestJobKilledResumes(t *testing.T) {
	if home := os.Getenv("HONE_JOB_HELPER"); home != "" {
		st, err := feedback.Open(context.Background(), filepath.Join(home, "hone.db"))
		if err != nil {
			os.Exit(5)
		}
		jc := smallJob(t, home, st)
		jc.Optim.Epochs = 6
		jc.ShrinkTo = 0.01
		jc.Event = func(ev Event) {
			if ev.Phase == "dpo" {
				time.Sleep(200 * time.Millisecond) // leave the parent time to kill mid-run
			}
		}
		_, err = RunJob(context.Background(), jc)
		fmt.Println("helper finished:", err)
		os.Exit(0)
	}
	home := t.TempDir()
	st := openStore(t, home)
	seedStore(t, st, 40, 0) // enough for the shrink's set-aside replies
	jc := smallJob(t, home, st)
	// Register the base first so the active policy exists before the kill.
	dry := jc
	dry.Algo = "kto"
	dry.MinExamples = 1 << 20
	_, _ = RunJob(context.Background(), dry)
	before, err := st.ActivePolicy(context.Background())
	if err != nil {
		t.Fatalf("base not registered: %v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestJobKilledResumes$")
	cmd.Env = append(os.Environ(), "HONE_JOB_HELPER="+home)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	var ck string
	for ck == "" && time.Now().Before(deadline) {
		m, _ := filepath.Glob(filepath.Join(home, "runs", "*", "checkpoint.gob"))
		if len(m) > 0 {
			ck = m[0]
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if ck == "" {
		t.Fatal("no checkpoint appeared")
	}
	ctx := context.Background()
	after, err := st.ActivePolicy(ctx)
	if err != nil || after.Version != before.Version || after.Path != before.Path {
		t.Fatalf("active policy after the kill: %+v, %v (was %d)", after, err, before.Version)
	}
	runs, _ := st.Runs(ctx, 0)
	if len(runs) != 1 || runs[0].Outcome != feedback.OutcomeRunning {
		t.Fatalf("runs after the kill: %+v", runs)
	}
	// The next run takes the lock (the kernel released it) and resumes,
	// with the adapter and settings the run started with (rank 4, six
	// epochs at 2e-3, the default β, the update shrunk to LM loss +1% on
	// the set-aside replies along its line from the fresh adapter), though
	// this configuration now leaves the adapter to the model's default
	// (rank 8) and asks for other settings.
	jc.Gates = GateConfig{MinRewardGain: -1e9, MaxKL: 1e9, MaxLMLossIncrease: 1e9, MinLengthRatio: 1e-9, MaxLengthRatio: 1e9, Samples: 1}
	jc.Optim.Epochs, jc.Optim.LR, jc.DPO.Beta = 3, 1e-3, 0.7
	jc.LoRA = train.LoRAConfig{}
	res, err := RunJob(ctx, jc)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || res.RunID != runs[0].ID || res.Outcome != "promoted" {
		t.Fatalf("after the kill: %+v", res)
	}
	act, err := st.ActivePolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pm struct {
		LoRA struct {
			Rank int `json:"rank"`
		} `json:"lora"`
		Settings runSettings        `json:"settings"`
		Shrink   map[string]float64 `json:"shrink"`
	}
	if err := json.Unmarshal(act.Metrics, &pm); err != nil || pm.LoRA.Rank != 4 {
		t.Errorf("resumed policy's adapter rank %d (%v), want the interrupted run's 4", pm.LoRA.Rank, err)
	}
	kind, err := jobDefaults("dpo", false)
	if err != nil {
		t.Fatal(err)
	}
	if s := pm.Settings; s.Epochs != 6 || s.LR != 2e-3 || s.DPO.Beta != kind.DPO.Beta {
		t.Errorf("resumed run's settings: %d epochs at %g, DPO β %g; want the interrupted run's 6 at 0.002, β %g", s.Epochs, s.LR, s.DPO.Beta, kind.DPO.Beta)
	}
	if a, d := pm.Shrink["alpha"], pm.Shrink["drift"]; pm.Settings.ShrinkTo != 0.01 || a <= 0 || a >= 1 || d > 0.01 {
		t.Errorf("resumed run: shrink to %g, α %g, drift %g; want the interrupted run's 0.01 reached at 0 < α < 1", pm.Settings.ShrinkTo, a, d)
	}
	if _, err := os.Stat(ck); !os.IsNotExist(err) {
		t.Errorf("checkpoint left after the run finished: %v", err)
	}
}

// --max-duration stops the job cleanly: the run is recorded as cancelled
// and the active policy is untouched.
func TestJobMaxDuration(t *testing.T) {
	home := t.TempDir()
	st := openStore(t, home)
	seedStore(t, st, 24, 0)
	jc := smallJob(t, home, st)
	jc.MaxDuration = time.Nanosecond
	ctx := context.Background()
	res, err := RunJob(ctx, jc)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != "cancelled" || res.Candidate != 0 {
		t.Fatalf("result %+v", res)
	}
	runs, _ := st.Runs(ctx, 0)
	act, _ := st.ActivePolicy(ctx)
	if len(runs) != 1 || runs[0].Outcome != feedback.OutcomeCancelled || act.Version != res.Reference || act.Algorithm != "base" {
		t.Fatalf("runs %+v, active %+v", runs, act)
	}
}

// TestJobAnchorAndBudget: with an anchor and a budget the job anchors
// every step on the stored replies, measures the budget on the replies
// to set-aside prompts, and a budget nothing fits sends the update back
// at half the step as often as it may retry, then stops it, rolled back
// to the reference.
func TestJobAnchorAndBudget(t *testing.T) {
	home := t.TempDir()
	st := openStore(t, home)
	jc := smallJob(t, home, st)
	seedStore(t, st, 40, 0)
	jc.Algo = "dpo"
	jc.Anchor, jc.Budget, jc.BudgetRetries = 2, 1e-9, 2
	jc.Gates = GateConfig{MinRewardGain: -1e9, MaxKL: 1e9, MaxLMLossIncrease: 1e9, MinLengthRatio: 1e-9, MaxLengthRatio: 1e9, Samples: 1}
	var msgs []string
	jc.Event = func(ev Event) {
		if ev.Message != "" {
			msgs = append(msgs, ev.Message)
		}
	}
	res, err := RunJob(context.Background(), jc)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(msgs, func(m string) bool { return strings.HasPrefix(m, "budget: LM loss on ") }) {
		t.Errorf("no budget message among %q", msgs)
	}
	if len(res.History) == 0 {
		t.Fatal("no training step")
	}
	last := res.History[len(res.History)-1]
	if _, ok := last["anchor/kl"]; !ok {
		t.Errorf("last step %v: no anchor/kl", last)
	}
	if last["budget/stopped_at"] == 0 {
		t.Errorf("last step %v: the budget did not stop the update", last)
	}
	if n := countRetries(res.History); n != 2 {
		t.Errorf("%d retries at half the step before the stop, want 2", n)
	}
	if res.Eval.KL > 1e-6 {
		t.Errorf("KL to the reference %g after a roll-back to it", res.Eval.KL)
	}
}

func TestJobDefaultsByKind(t *testing.T) {
	for _, algo := range []string{"kto", "dpo", "rloo"} {
		for _, chat := range []bool{false, true} {
			c, err := jobDefaults(algo, chat)
			if err != nil {
				t.Fatal(err)
			}
			want := 48
			if chat {
				want = 128
			}
			if c.Sampler.MaxTokens != want || (c.Anchor > 0) != chat || c.Optim.LR <= 0 {
				t.Errorf("%s, chat %v: max tokens %d (want %d), anchor %g, lr %g", algo, chat, c.Sampler.MaxTokens, want, c.Anchor, c.Optim.LR)
			}
			wantTargets := train.TargetNames[:]
			if chat {
				wantTargets = []string{"o", "down"}
			}
			if got := loraTargets(c.LoRA); !slices.Equal(got, wantTargets) {
				t.Errorf("%s, chat %v: LoRA targets %v, want %v", algo, chat, got, wantTargets)
			}
			// The reward model's thumbs are balanced on base models
			// (rare approvals), plain on chat models.
			if c.Reward.BalanceThumbs == chat {
				t.Errorf("%s, chat %v: reward model's thumbs balanced %v", algo, chat, c.Reward.BalanceThumbs)
			}
		}
	}
	if DefaultJobConfig().Reward.BalanceThumbs {
		t.Error("DefaultJobConfig balances the reward model's thumbs: the reference's kind should decide")
	}
}

func TestJobLoRAFromKind(t *testing.T) {
	def := train.LoRAConfig{Rank: 8, Alpha: 16, Targets: []string{"o", "down"}}
	for _, c := range []struct {
		name string
		set  train.LoRAConfig
		want train.LoRAConfig
	}{
		{"nothing set", train.LoRAConfig{}, def},
		{"rank set", train.LoRAConfig{Rank: 4, Alpha: 8}, train.LoRAConfig{Rank: 4, Alpha: 8, Targets: []string{"o", "down"}}},
		{"targets set", train.LoRAConfig{Rank: 8, Alpha: 16, Targets: []string{"q", "v"}}, train.LoRAConfig{Rank: 8, Alpha: 16, Targets: []string{"q", "v"}}},
	} {
		got := loraFor(c.set, def)
		if got.Rank != c.want.Rank || got.Alpha != c.want.Alpha || !slices.Equal(got.Targets, c.want.Targets) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestSetAside(t *testing.T) {
	var thumbs []Unpaired
	var pairs []Pair
	for i := range 50 {
		p := []int{1, i}
		thumbs = append(thumbs, Unpaired{Seq{p, []int{7}}, true}, Unpaired{Seq{p, []int{8}}, false})
		pairs = append(pairs, Pair{p, []int{7}, []int{8}})
	}
	tt, tp, val := setAside(thumbs, pairs)
	if len(val) == 0 || len(tt) == len(thumbs) || len(tp) == len(pairs) {
		t.Fatalf("nothing set aside: %d thumbs, %d pairs, %d replies", len(tt), len(tp), len(val))
	}
	// Each set-aside prompt's two replies once, though thumbs and pairs
	// both hold them; no training prompt among them.
	if len(val) != 2*(len(pairs)-len(tp)) || len(thumbs)-len(tt) != len(val) {
		t.Errorf("%d set-aside replies for %d pairs and %d thumbs set aside", len(val), len(pairs)-len(tp), len(thumbs)-len(tt))
	}
	kept := map[int]bool{}
	for _, x := range tp {
		kept[x.Prompt[1]] = true
	}
	for _, s := range val {
		if kept[s.Prompt[1]] {
			t.Errorf("prompt %v both trained on and set aside", s.Prompt)
		}
	}
	if !trainable("dpo", tt, tp) || !trainable("kto", tt, tp) || trainable("kto", tt[:1], nil) {
		t.Error("trainable")
	}
}

// TestJobShrink: with a shrink target the job moves the finished update
// back along its line until the LM loss on the set-aside replies is up at
// most that much, says how far, and records it with the candidate; with
// a stretch an update well inside a loose target is carried on along its
// line.
func TestJobShrink(t *testing.T) {
	for _, c := range []struct {
		name              string
		shrinkTo, stretch float64
		back              bool // want α < 1 (else > 1)
	}{
		{"back", 0.01, 0, true},
		{"on", 10, 1.5, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			home := t.TempDir()
			st := openStore(t, home)
			jc := smallJob(t, home, st)
			seedStore(t, st, 40, 0)
			jc.Algo = "dpo"
			jc.Budget, jc.ShrinkTo, jc.StretchTo = -1, c.shrinkTo, c.stretch
			jc.Gates = GateConfig{MinRewardGain: -1e9, MaxKL: 1e9, MaxLMLossIncrease: 1e9, MinLengthRatio: 1e-9, MaxLengthRatio: 1e9, Samples: 1}
			var ev *Event
			jc.Event = func(e Event) {
				if e.Phase == "shrink" {
					ev = &e
				}
			}
			res, err := RunJob(ctx, jc)
			if err != nil {
				t.Fatal(err)
			}
			if ev == nil {
				t.Fatal("no shrink event")
			}
			alpha, drift := ev.Metrics["shrink"], ev.Metrics["budget_drift"]
			t.Logf("%s: α %.3f, drift %+.5f", ev.Message, alpha, drift)
			switch {
			case c.back && (alpha <= 0 || alpha >= 1):
				t.Errorf("α %g: want the update moved back, 0 < α < 1", alpha)
			case !c.back && alpha != c.stretch:
				t.Errorf("α %g: want the update carried on to %g", alpha, c.stretch)
			case drift > c.shrinkTo:
				t.Errorf("drift %g over the target %g", drift, c.shrinkTo)
			}
			pols, err := st.Policies(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pols {
				if p.Version != res.Candidate {
					continue
				}
				var m struct {
					Shrink map[string]float64 `json:"shrink"`
				}
				if err := json.Unmarshal(p.Metrics, &m); err != nil || m.Shrink["alpha"] != alpha {
					t.Errorf("candidate's metrics %s: want shrink.alpha %g (%v)", p.Metrics, alpha, err)
				}
			}
		})
	}
}

// TestJobCuts: with Cuts the job adds the reward model's sentence-cut
// pairs to DPO's, says how many, and records the setting with the run.
// The approved replies say "big" in their second sentence, so their cut
// after the first loses it.
func TestJobCuts(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	st := openStore(t, home)
	jc := smallJob(t, home, st)
	seedStoreWith(t, st, 40, 0, "She went home. She saw a big dog.", "She went home. She slept.")
	jc.Algo, jc.Cuts, jc.Anchor = "dpo", 0.01, 1
	jc.Gates = GateConfig{MinRewardGain: -1e9, MaxKL: 1e9, MaxLMLossIncrease: 1e9, MinLengthRatio: 1e-9, MaxLengthRatio: 1e9, Samples: 1}
	var msg, anchor string
	jc.Event = func(e Event) {
		switch {
		case strings.HasPrefix(e.Message, "cuts: the anchor"):
			anchor = e.Message
		case strings.HasPrefix(e.Message, "cuts: "):
			msg = e.Message
		}
	}
	res, err := RunJob(ctx, jc)
	if err != nil {
		t.Fatal(err)
	}
	var n, freed, held int
	if _, err := fmt.Sscanf(msg, "cuts: %d pairs", &n); err != nil || n == 0 {
		t.Fatalf("cuts message %q: want some pairs (%v)", msg, err)
	}
	// The anchor's replies are the rated ones: the decisions the pairs
	// are about go free.
	if _, err := fmt.Sscanf(anchor, "cuts: the anchor frees %d decisions", &freed); err != nil || freed == 0 {
		t.Errorf("anchor message %q: want some decisions freed (%v)", anchor, err)
	}
	if i := strings.Index(anchor, "holds "); i < 0 {
		t.Errorf("anchor message %q: want the decisions held", anchor)
	} else if _, err := fmt.Sscanf(anchor[i:], "holds %d", &held); err != nil {
		t.Errorf("anchor message %q: %v", anchor, err)
	}
	t.Log(msg, "; ", anchor)
	pols, err := st.Policies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pols {
		var m struct {
			Settings runSettings `json:"settings"`
		}
		if p.Version == res.Candidate {
			if err := json.Unmarshal(p.Metrics, &m); err != nil || m.Settings.Cuts != 0.01 {
				t.Errorf("candidate's settings %s: want cuts 0.01 (%v)", p.Metrics, err)
			}
		}
	}
}
