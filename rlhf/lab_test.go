package rlhf

import (
	"context"
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
				// that needs it.
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
		t.Skip("runs the lab on the default model (about a minute)")
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
// evaluation prompt, after them; an evaluation prompt that is also rated
// is an error.
func TestLabSplitPrompts(t *testing.T) {
	chat, err := ChatLabConfig("kto")
	if err != nil {
		t.Fatal(err)
	}
	if len(chat.Prompts) != 240 || len(chat.EvalPrompts) != 200 {
		t.Fatalf("chat defaults: %d prompts, %d evaluation prompts; want 240 and 200", len(chat.Prompts), len(chat.EvalPrompts))
	}
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
		wantHeld  []string
		wantTrain int
		wantErr   string
	}{
		{"no evaluation prompts", chat.Prompts, nil, hashHeld, 240 - len(hashHeld), ""},
		{"the chat defaults", chat.Prompts, chat.EvalPrompts, append(slices.Clone(hashHeld), chat.EvalPrompts...), 240 - len(hashHeld), ""},
		{"an evaluation prompt also rated", chat.Prompts, []string{chat.EvalPrompts[0], chat.Prompts[slices.IndexFunc(chat.Prompts, func(p string) bool { return !heldOut(p, 0.2) })]}, nil, 0, "also a prompt to rate"},
		{"nothing left to rate", hashHeld, nil, nil, 0, "need both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultLabConfig("kto")
			cfg.Prompts, cfg.EvalPrompts, cfg.BOS = tt.prompts, tt.eval, -1
			train, held, err := cfg.splitPrompts(byteTok{})
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
