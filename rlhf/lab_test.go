package rlhf

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hone-ai/hone/model/defaultmodel"
	"github.com/hone-ai/hone/model/fixtures"
	"github.com/hone-ai/hone/model/train"
)

func storiesModel(t *testing.T) (*train.Model, TextTokenizer) {
	t.Helper()
	ld, err := LoadModel(fixtures.Path(t, "stories260k", "stories260K.bin"), fixtures.Path(t, "stories260k", "tok512.bin"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ld.Engine.Close() })
	return ld.Train, ld.Tok()
}

// TestLabRaisesApproval is issue 6's acceptance 1 and 2 on stories260K
// with a rule annotator that approves replies mentioning "big" (about a
// third of the base model's replies do). By default it runs a reduced
// configuration that fits CI (fewer ratings, shorter replies, fewer
// held-out samples) with proportionally reduced thresholds;
// HONE_LAB_FULL=1 runs the full one (500 ratings, 48-token replies, 4
// samples per held-out prompt) against the thresholds.
func TestLabRaisesApproval(t *testing.T) {
	full := os.Getenv("HONE_LAB_FULL") != ""
	algos := []string{"dpo", "kto", "rloo"}
	if testing.Short() && !full {
		algos = []string{"dpo"}
	}
	for _, algo := range algos {
		t.Run(algo, func(t *testing.T) {
			base, tok := storiesModel(t)
			ann, err := StartAnnotator(script("approve-word.sh", "big"), 0)
			if err != nil {
				t.Fatal(err)
			}
			defer ann.Close()
			cfg := DefaultLabConfig(algo)
			minGain := 0.30
			if !full {
				cfg.Ratings = 300
				cfg.Sampler.MaxTokens = 40
				if algo == "rloo" {
					// RLOO is only as good as its reward model, which
					// needs the full 500 ratings of 48-token replies
					// (measured: 300 ratings of 40 tokens gave 72%
					// held-out pairwise accuracy, 500 of 48 gave 100%).
					cfg.Ratings = 500
					cfg.Sampler.MaxTokens = 48
					cfg.EvalSamples = 2
				}
				// The reward model is checked once, in the RLOO run
				// that needs it (DPO trains one to judge its cuts).
				cfg.SkipRewardModel = algo != "rloo"
				minGain = 0.20
			}
			res, err := RunLab(context.Background(), base, tok, ann, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d ratings, approval %.3f → %.3f, KL %.2f nats, LM loss drift %+.3f, reward model %+v, %.0fs",
				algo, res.Ratings, res.ApprovalBase, res.ApprovalTuned, res.KL, res.LMLossDrift, res.RewardModel, res.Seconds)
			if res.Ratings > 500 {
				t.Errorf("used %d ratings, budget 500", res.Ratings)
			}
			if gain := res.ApprovalTuned - res.ApprovalBase; gain < minGain && res.ApprovalTuned < 0.85 {
				t.Errorf("approval %.3f → %.3f: gain %.3f < %.2f and below 85%%", res.ApprovalBase, res.ApprovalTuned, gain, minGain)
			}
			if res.KL > 5 {
				t.Errorf("KL to base %.2f nats > 5", res.KL)
			}
			if res.LMLossDrift > 0.05 {
				t.Errorf("held-out LM loss drift %.3f > 5%%", res.LMLossDrift)
			}
			if rm := res.RewardModel; !cfg.SkipRewardModel && (rm == nil || rm.Pairs == 0 || rm.PairAccuracy < 0.8) {
				t.Errorf("reward model %v: held-out pairwise accuracy below 80%%", rm)
			}
		})
	}
}

// TestLabMovesDefaultModel is issue 7's "room for RLHF" on the embedded
// default model (no fixtures needed), and issue 6's acceptance 1 for one
// property: with the chat defaults, KTO on 500 ratings from a rule
// annotator that approves replies under 25 words (76% of the base
// model's, post-stratified over the 252 held-out prompts) raises held-out approval to at least 85% within the KL and
// LM-loss budgets. (Runs for the other algorithms and properties are in
// the README.)
func TestLabMovesDefaultModel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the lab on the default model (a few minutes)")
	}
	path := filepath.Join(t.TempDir(), "default.gguf")
	if err := defaultmodel.Install(path); err != nil {
		t.Fatal(err)
	}
	ld, err := LoadModel(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer ld.Engine.Close()
	ann, err := StartAnnotator(script("approve-short.sh", "25"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ann.Close()
	cfg, err := ChatLabConfig("kto")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Render = func(p string) []int { return ld.PromptTokens([]Turn{{Role: "user", Content: p}}) }
	cfg.BOS = ld.BOS()
	cfg.Sampler.Stop = ld.Stops()
	cfg.SkipRewardModel = true
	res, err := RunLab(context.Background(), ld.Train, ld.Tok(), ann, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("approval %.3f → %.3f, KL %.3f, LM-loss drift %+.4f, %d held-out replies, %.0fs",
		res.ApprovalBase, res.ApprovalTuned, res.KL, res.LMLossDrift, res.EvalReplies, res.Seconds)
	if res.ApprovalTuned < 0.85 && res.ApprovalTuned < res.ApprovalBase+0.30 {
		t.Errorf("approval %.3f → %.3f: want 85%% or a rise of 30 points", res.ApprovalBase, res.ApprovalTuned)
	}
	if res.KL > 5 || res.LMLossDrift > 0.05 {
		t.Errorf("KL %.3f nats, LM-loss drift %+.4f: over the budgets (5 nats, 5%%)", res.KL, res.LMLossDrift)
	}
}

// TestLabDataPairsEveryApprovedWithEveryRejected checks how the lab turns
// judgements into training data: every rated reply is a thumb, and every
// approved reply pairs with every rejected reply to the same prompt,
// whichever draw sampled them, chosen first; skips give nothing.
func TestLabDataPairsEveryApprovedWithEveryRejected(t *testing.T) {
	type reply struct {
		prompt string
		comp   int // a one-token completion, to name it
		rating int
	}
	tests := []struct {
		name    string
		replies []reply
		thumbs  int
		pairs   [][2]int // chosen, rejected
	}{
		{"one draw, split", []reply{{"a", 1, 1}, {"a", 2, -1}}, 2, [][2]int{{1, 2}}},
		{"one draw, rejected first", []reply{{"a", 1, -1}, {"a", 2, 1}}, 2, [][2]int{{2, 1}}},
		{"one draw, both approved", []reply{{"a", 1, 1}, {"a", 2, 1}}, 2, nil},
		{"two draws of one prompt", []reply{{"a", 1, 1}, {"a", 2, -1}, {"a", 3, -1}, {"a", 4, 1}},
			4, [][2]int{{1, 2}, {1, 3}, {4, 2}, {4, 3}}},
		{"prompts apart", []reply{{"a", 1, 1}, {"b", 2, -1}, {"a", 3, 0}, {"b", 4, 1}}, 3, [][2]int{{4, 2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := labData{byPrompt: map[string][]ratedReply{}}
			for _, r := range tc.replies {
				d.add(r.prompt, Seq{Prompt: []int{int(r.prompt[0])}, Completion: []int{r.comp}}, r.rating)
			}
			if len(d.thumbs) != tc.thumbs {
				t.Errorf("%d thumbs, want %d", len(d.thumbs), tc.thumbs)
			}
			var got [][2]int
			for _, p := range d.pairs {
				got = append(got, [2]int{p.Chosen[0], p.Rejected[0]})
				for _, r := range tc.replies {
					if r.comp == p.Chosen[0] && p.Prompt[0] != int(r.prompt[0]) {
						t.Errorf("pair %v has prompt %v, want %q's", got[len(got)-1], p.Prompt, r.prompt)
					}
				}
			}
			if !slices.Equal(got, tc.pairs) {
				t.Errorf("pairs %v, want %v", got, tc.pairs)
			}
		})
	}
}

// byteTok encodes text as its bytes.
type byteTok struct{}

func (byteTok) Encode(text string) []int {
	out := make([]int, len(text))
	for i := range len(text) {
		out[i] = int(text[i])
	}
	return out
}

func (byteTok) Decode(ids []int) string {
	b := make([]byte, len(ids))
	for i, id := range ids {
		b[i] = byte(id)
	}
	return string(b)
}

// The lab holds out a share of its prompts by hash and then every
// evaluation prompt, after them; the validation prompts are the budget's
// alone. An evaluation prompt that is also rated, or a validation prompt
// that is rated or held out, is an error.
func TestLabSplitPrompts(t *testing.T) {
	chat, err := ChatLabConfig("kto")
	if err != nil {
		t.Fatal(err)
	}
	if len(chat.Prompts) != 240 || len(chat.EvalPrompts) != 200 || len(chat.ValPrompts) != 160 {
		t.Fatalf("chat defaults: %d prompts, %d evaluation and %d validation prompts; want 240, 200 and 160", len(chat.Prompts), len(chat.EvalPrompts), len(chat.ValPrompts))
	}
	rated := chat.Prompts[slices.IndexFunc(chat.Prompts, func(p string) bool { return !heldOut(p, chat.HeldOutFrac) })]
	var hashHeld []string
	for _, p := range chat.Prompts {
		if heldOut(p, chat.HeldOutFrac) {
			hashHeld = append(hashHeld, p)
		}
	}
	tests := []struct {
		name      string
		prompts   []string
		eval      []string
		val       []string
		wantHeld  []string
		wantTrain int
		wantErr   string
	}{
		{"no evaluation prompts", chat.Prompts, nil, nil, hashHeld, 240 - len(hashHeld), ""},
		{"the chat defaults", chat.Prompts, chat.EvalPrompts, chat.ValPrompts, append(slices.Clone(hashHeld), chat.EvalPrompts...), 240 - len(hashHeld), ""},
		{"an evaluation prompt also rated", chat.Prompts, []string{chat.EvalPrompts[0], rated}, nil, nil, 0, "also a prompt to rate"},
		{"a validation prompt also rated", chat.Prompts, nil, []string{chat.ValPrompts[0], rated}, nil, 0, "validation prompt"},
		{"a validation prompt also held out", chat.Prompts, chat.EvalPrompts, []string{chat.EvalPrompts[3]}, nil, 0, "validation prompt"},
		{"nothing left to rate", hashHeld, nil, nil, nil, 0, "need both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultLabConfig("kto")
			cfg.Prompts, cfg.EvalPrompts, cfg.ValPrompts, cfg.BOS = tt.prompts, tt.eval, tt.val, -1
			train, held, val, err := cfg.splitPrompts(byteTok{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(train) != tt.wantTrain || !slices.Equal(texts(held), tt.wantHeld) {
				t.Fatalf("%d to rate, %d held out; want %d and %d in order", len(train), len(held), tt.wantTrain, len(tt.wantHeld))
			}
			if got := (byteTok{}).Decode(held[len(held)-1].toks); got != tt.wantHeld[len(tt.wantHeld)-1] {
				t.Errorf("last held-out prompt renders as %q", got)
			}
			if !slices.Equal(texts(val), tt.val) {
				t.Errorf("%d validation prompts, want the %d given in order", len(val), len(tt.val))
			}
		})
	}
}

func texts(ps []labPrompt) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.text
	}
	return out
}

// kindWeights makes every kind count as its share of the prompts,
// however many held-out prompts it has.
func TestKindWeights(t *testing.T) {
	kinds := map[string]string{"a": "x", "b": "x", "c": "y", "d": "y", "e": "y", "f": "y", "g": "y", "h": "z"}
	held := func(ps ...string) []labPrompt {
		out := make([]labPrompt, len(ps))
		for i, p := range ps {
			out[i] = labPrompt{text: p}
		}
		return out
	}
	tests := []struct {
		name    string
		kinds   map[string]string
		held    []labPrompt
		want    []float64
		wantErr bool
	}{
		{"no kinds: plain means", nil, held("a", "e"), nil, false},
		// x and y are half the prompts each; y has three held-out
		// prompts to x's one.
		{"each kind its share", kinds, held("a", "e", "f", "g"), []float64{0.5, 1.0 / 6, 1.0 / 6, 1.0 / 6}, false},
		// The budget's validation prompts may miss a kind (x here): the
		// kinds there count as their shares.
		{"a kind with no prompt here", kinds, held("e", "f"), []float64{0.25, 0.25}, false},
		{"a held-out prompt without a kind", kinds, held("a", "q"), nil, true},
		{"a kind not among the prompts'", kinds, held("a", "h"), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := LabConfig{Prompts: []string{"a", "b", "c", "d"}, Kinds: tt.kinds}
			w, err := cfg.kindWeights(tt.held)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if len(w) != len(tt.want) {
				t.Fatalf("weights %v, want %v", w, tt.want)
			}
			for i := range w {
				if math.Abs(w[i]-tt.want[i]) > 1e-12 {
					t.Errorf("weights %v, want %v", w, tt.want)
				}
			}
		})
	}
}

func TestApprovalByKind(t *testing.T) {
	kinds := map[string]string{"a": "x", "b": "x", "c": "y", "d": "z"}
	held := []labPrompt{{text: "a"}, {text: "b"}, {text: "c"}, {text: "d"}}
	cfg := LabConfig{Prompts: []string{"a", "b", "c", "c", "d"}, Kinds: kinds}
	tests := []struct {
		name      string
		up, rated []float64
		want      map[string]float64
	}{
		// x pools its prompts' replies: 3 of 8, not the mean of 1/4 and 2/4.
		{"pooled within a kind", []float64{1, 2, 0, 4}, []float64{4, 4, 4, 4}, map[string]float64{"x": 3.0 / 8, "y": 0, "z": 1}},
		{"a kind whose replies were all skipped is left out", []float64{1, 0, 2, 0}, []float64{2, 2, 4, 0}, map[string]float64{"x": 0.25, "y": 0.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cfg.approvalByKind(held, tt.up, tt.rated)
			if len(got) != len(tt.want) {
				t.Fatalf("approval by kind %v, want %v", got, tt.want)
			}
			for k, w := range tt.want {
				if g, ok := got[k]; !ok || math.Abs(g-w) > 1e-12 {
					t.Errorf("kind %s: %v, want %v", k, g, w)
				}
			}
		})
	}
	if got := (&LabConfig{}).approvalByKind(held, []float64{1, 1, 1, 1}, []float64{2, 2, 2, 2}); got != nil {
		t.Errorf("without kinds: %v, want nil", got)
	}
	// byKind pairs base and tuned, the largest share first (y is 2/5 of
	// the prompts), ties by name, with each kind's part of the drift:
	// (57/50 − 1) = 0.14 in all, c's weighted rise of 6 is 0.12 of it.
	base := &evalSet{byKind: map[string]float64{"x": 0.1, "y": 0.2, "z": 0.3}}
	tuned := &evalSet{byKind: map[string]float64{"x": 0.4, "y": 0.5, "z": 0.6}}
	text := heldLM{base: []float64{10, 10, 10, 10}, tuned: []float64{11, 10, 13, 10}, prompt: []int{0, 1, 2, 3}, weights: []float64{1, 1, 2, 1}}
	got := cfg.byKind(held, base, tuned, text)
	want := []KindApproval{
		{Kind: "x", Share: 0.4, HeldOut: 2, ApprovalBase: 0.1, ApprovalTuned: 0.4, LMLossDrift: 0.02},
		{Kind: "y", Share: 0.4, HeldOut: 1, ApprovalBase: 0.2, ApprovalTuned: 0.5, LMLossDrift: 0.12},
		{Kind: "z", Share: 0.2, HeldOut: 1, ApprovalBase: 0.3, ApprovalTuned: 0.6, LMLossDrift: 0},
	}
	if len(got) != len(want) {
		t.Fatalf("by kind %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Kind != w.Kind || math.Abs(g.Share-w.Share) > 1e-12 || g.HeldOut != w.HeldOut || g.ApprovalBase != w.ApprovalBase || g.ApprovalTuned != w.ApprovalTuned || math.Abs(g.LMLossDrift-w.LMLossDrift) > 1e-12 {
			t.Errorf("by kind [%d] %+v, want %+v", i, g, w)
		}
	}
}

// setAside gives the validation text a fifth of each kind of training
// prompt, rounded up and at least two where a kind has three or more, and
// a fifth by hash without kinds; what it sets aside is never rated.
func TestLabSetAside(t *testing.T) {
	chat, err := ChatLabConfig("kto")
	if err != nil {
		t.Fatal(err)
	}
	var chatTrain []labPrompt
	for _, p := range chat.Prompts {
		if !heldOut(p, chat.HeldOutFrac) {
			chatTrain = append(chatTrain, labPrompt{text: p})
		}
	}
	many := func(kind string, n int) (ps []labPrompt, kinds map[string]string) {
		kinds = map[string]string{}
		for i := range n {
			p := fmt.Sprintf("%s %d", kind, i)
			ps = append(ps, labPrompt{text: p})
			kinds[p] = kind
		}
		return ps, kinds
	}
	one, oneK := many("a", 1)
	two, twoK := many("b", 2)
	three, threeK := many("c", 3)
	eleven, elevenK := many("d", 11)
	forty, fortyK := many("e", 40)
	tests := []struct {
		name    string
		prompts []labPrompt
		kinds   map[string]string
		want    map[string]int // set aside per kind
	}{
		{"one of a kind stays to rate", one, oneK, map[string]int{"a": 0}},
		{"one of two", two, twoK, map[string]int{"b": 1}},
		{"two of three", three, threeK, map[string]int{"c": 2}},
		{"a fifth rounded up", eleven, elevenK, map[string]int{"d": 3}},
		{"a fifth", forty, fortyK, map[string]int{"e": 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := LabConfig{Kinds: tt.kinds}
			rest, set := cfg.setAside(tt.prompts)
			got := map[string]int{}
			for k := range tt.want {
				got[k] = 0
			}
			for _, p := range set {
				got[tt.kinds[p.text]]++
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("set aside %v, want %v", got, tt.want)
			}
			if len(rest)+len(set) != len(tt.prompts) {
				t.Errorf("%d to rate and %d set aside of %d", len(rest), len(set), len(tt.prompts))
			}
		})
	}
	t.Run("the chat defaults", func(t *testing.T) {
		rest, set := chat.setAside(chatTrain)
		n, aside := map[string]int{}, map[string]int{}
		for _, p := range chatTrain {
			n[chat.Kinds[p.text]]++
		}
		for _, p := range set {
			aside[chat.Kinds[p.text]]++
		}
		for k, c := range n {
			if want := min(max(2, (c+4)/5), c-1); c >= 3 && aside[k] != want {
				t.Errorf("kind %q: %d of %d set aside, want %d", k, aside[k], c, want)
			}
		}
		rated := map[string]bool{}
		for _, p := range rest {
			rated[p.text] = true
		}
		for _, p := range set {
			if rated[p.text] {
				t.Errorf("%q is both set aside and rated", p.text)
			}
		}
		again, _ := chat.setAside(chatTrain)
		if !slices.Equal(texts(again), texts(rest)) {
			t.Error("a second split differs from the first")
		}
		t.Logf("set aside by kind %v of %v", aside, n)
	})
	t.Run("without kinds, by hash", func(t *testing.T) {
		_, set := (&LabConfig{}).setAside(chatTrain)
		for _, p := range set {
			if !heldOut("budget\x00"+p.text, 0.2) {
				t.Errorf("%q set aside against its hash", p.text)
			}
		}
		if len(set) == 0 || len(set) > len(chatTrain)/3 {
			t.Errorf("%d of %d set aside by hash", len(set), len(chatTrain))
		}
	})
}

// TestLabRefusesOneLabel: when the annotator approves every reply there
// is no pair for DPO and nothing for RLOO's reward model to tell apart,
// so the lab says so instead of training on nothing, as the job does.
func TestLabRefusesOneLabel(t *testing.T) {
	for _, tc := range []struct{ algo, want string }{
		{"kto", "KTO needs both 👍 and 👎"},
		{"dpo", "DPO needs pairs"},
		{"rloo", "RLOO's reward model needs both labels"},
	} {
		t.Run(tc.algo, func(t *testing.T) {
			base, tok := storiesModel(t)
			ann, err := StartAnnotator(script("approve-short.sh", "1000"), 0)
			if err != nil {
				t.Fatal(err)
			}
			defer ann.Close()
			cfg := DefaultLabConfig(tc.algo)
			cfg.Ratings = 8
			cfg.Sampler.MaxTokens = 8
			cfg.EvalSamples = 1
			_, err = RunLab(context.Background(), base, tok, ann, cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("RunLab with every reply approved: error %v, want one saying %q", err, tc.want)
			}
			if !errors.Is(err, ErrNothingToDo) {
				t.Errorf("RunLab with every reply approved: error %v is not ErrNothingToDo (hone lab would not exit 3)", err)
			}
		})
	}
}

func TestRewardEvalStringWithoutPairs(t *testing.T) {
	for _, tc := range []struct {
		ev   RewardEval
		want string
	}{
		{RewardEval{Thumbs: 10, ECE: 0.1}, "no held-out pairs, ECE 0.100 on 10 rated replies"},
		{RewardEval{Pairs: 4, PairAccuracy: 0.75, Margin: 1}, "held-out pairwise accuracy 75.0% (4 pairs), margin 1.000"},
	} {
		if got := tc.ev.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.ev, got, tc.want)
		}
	}
}
