package rlhf

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hone-ai/hone/model/train"
)

// TextTokenizer is what the lab needs from a tokenizer.
type TextTokenizer interface {
	Encode(text string) []int // no BOS
	Decode(ids []int) string
}

// Rater rates replies (an *Annotator, or anything answering the same way).
type Rater interface {
	Annotate(ctx context.Context, reqs []AnnotationRequest) ([]Judgement, error)
}

// LabConfig configures a closed-loop experiment.
type LabConfig struct {
	Algo        string   // "kto", "dpo" or "rloo"
	Ratings     int      // annotations spent on training data (default 500)
	Rounds      int      // collect → train → evaluate rounds (default 1)
	Seed        uint64   // everything random derives from it
	Prompts     []string // nil = BuiltinPrompts()
	HeldOutFrac float64  // share of prompts held out for evaluation (default 0.2)
	// EvalPrompts are more held-out prompts, for the evaluation alone
	// (never sampled for ratings): the held-out set is the share of
	// Prompts held out and these. The chat defaults hold out 200 more
	// than the 240 prompts' 52: on the default model approval and
	// LM-loss drift are then measured to ±1.4–3.6 and ±0.2–0.6 points
	// (standard errors), rather than ±2–6 and ±0.4–0.75.
	EvalPrompts []string
	// ValPrompts are more prompts for the budget's validation text
	// (Budget) alone, beside the fifth of the prompts to rate it sets
	// aside: never rated, trained on or evaluated.
	ValPrompts []string
	// Kinds, when set, is each prompt's kind (the built-in chat
	// prompts': greeting, define, add, instruct, hone, unknown), every
	// held-out prompt's included. Held-out approval and LM-loss drift are
	// then post-stratified: each kind counts as its share of Prompts,
	// however many held-out prompts it has (the evaluation prompts are
	// mostly sums: the generator's greetings and questions about hone
	// run out within the first 240).
	Kinds       map[string]string
	EvalSamples int // replies per held-out prompt when evaluating (default 4)
	// LMSamples is the number of the base's replies per prompt in the
	// texts LM loss is measured on: the held-out text (the evaluation's
	// replies and more) and the budget's validation text (default 8).
	// Most of the estimate's noise is which way each reply went, so more
	// replies per prompt make the drift, and the budget's stop, surer.
	LMSamples int
	BOS       int // token prepended to prompts; −1 = none (default llama2c's BOS, 1)
	// Render turns a prompt into tokens (a chat model's template); nil =
	// BOS + the raw text, as for base models.
	Render      func(prompt string) []int
	Sampler     Sampler
	LoRA        train.LoRAConfig // Rank 0: train every weight
	KTO         KTOConfig
	DPO         DPOConfig
	RLOO        RLOOOptions
	Optim       Optim // policy optimiser (KTO, DPO, RLOO)
	Reward      RewardConfig
	RewardOptim Optim
	// SkipRewardModel leaves the reward model out for KTO and DPO (RLOO
	// always needs it, and DPO with Cuts).
	SkipRewardModel bool
	// Cuts, when positive, adds to DPO's pairs each rated reply against
	// its sentence cuts (the reply stopped after one of its sentences)
	// that the reward model tells apart from it by more than this much
	// probability of approval (cutPairs), and has the anchor free those
	// decisions to stop or go on in the base's replies and hold the ones
	// the reward model judges alike (cutAnchors). Given for RLOO (off by
	// default), it gets the same anchor and scores both branches of its
	// samples' decisions to stop after a sentence (RLOOOptions.Sentences).
	Cuts float64
	// CutsCutOff has Cuts cut the replies cut off at Sampler.MaxTokens
	// too (they have no stop token; a cut ends with the first of
	// Sampler.Stop). On for models without a chat template, whose
	// 48-token stories nearly all run to the limit: with only the replies
	// that stopped, a rater of replies that end with a period had nothing
	// to cut.
	CutsCutOff bool
	// Budget, when positive, bounds each policy update: once the
	// policy's language-model loss on a validation text has risen by more
	// than this fraction, training goes back to the last check within it
	// and goes on at half the step size, up to BudgetRetries times, then
	// stops there (see Optim.Guard, Optim.GuardRetries). The validation
	// text is the base policy's replies to a fifth of the training
	// prompts, set aside (never rated, trained on or evaluated; with
	// Kinds a fifth of each kind, at least two: see setAside), and to
	// ValPrompts. With Kinds it is post-stratified as the held-out text
	// is, so that the budget reads the drift the lab reports. A fifth of
	// the 240 chat prompts by hash alone was 38, 45% of them sums and
	// none about hone, and on those alone the budget's reading and the
	// held-out drift were up to a point apart either way; the chat
	// defaults set aside 41 by kind and add 160 ValPrompts (see
	// ChatLabConfig).
	Budget        float64
	BudgetRetries int
	// ShrinkTo, when positive, moves each update back along the straight
	// line from the policy before it (shrink) until its LM loss on the
	// budget's validation text is up at most this fraction. With Budget
	// 0 the update runs to its end first, unchecked.
	ShrinkTo float64
	// StretchTo, when over 1, lets an update that ended within ShrinkTo go
	// on along its line up to this multiple of itself, while the
	// validation text's drift stays within ShrinkTo (see shrink).
	StretchTo float64
	// KLTo, when positive, bounds the fit (ShrinkTo, StretchTo) by KL as
	// well: at each α it tries, the policy's mean sequence KL to the base
	// on its own replies (EvalSamples each) to the budget's validation
	// prompts must be at most KLTo nats, or that α counts as over.
	KLTo float64
	// Anchor, when positive, is the weight of the anchor term in every
	// policy step (Optim.Anchor): the KL from the policy to the base along
	// the base policy's own replies to the training prompts, rated or not.
	Anchor float64
	// AnchorMinProb limits the anchor to the positions where the base
	// gave its sampled token at least this probability
	// (Optim.AnchorMinProb); 0 = every position.
	AnchorMinProb float64
	// OnRound is called after each round; OnStep after each training step.
	OnRound func(LabRound)
	OnStep  func(phase string, step, total int, m Metrics)
}

// The special tokens of llama2.c vocabularies (stories-type models), the
// lab's defaults; the CLI sets the loaded model's.
const (
	llama2cBOS = 1
	llama2cEOS = 2
)

// DefaultLabConfig returns the lab's defaults for algo; the CLI and the
// tests start from it.
func DefaultLabConfig(algo string) LabConfig {
	c := LabConfig{
		Algo: algo, Ratings: 500, Rounds: 1, Seed: 1, HeldOutFrac: 0.2, EvalSamples: 4, LMSamples: 8, BOS: llama2cBOS,
		Sampler: Sampler{Temperature: 1, MaxTokens: 48, Stop: []int{llama2cBOS, llama2cEOS}, KeepStop: true},
		LoRA:    train.LoRAConfig{Rank: 8, Alpha: 16},
		KTO:     KTOConfig{Beta: 0.1},
		DPO:     DPOConfig{Beta: 0.1},
		RLOO:    RLOOOptions{RLOOConfig: RLOOConfig{K: 4, Beta: 0.1, NormalizeAdvantages: true}, PromptsPerStep: 8},
		Optim:   Optim{LR: 1e-3, Epochs: 3, BatchSize: 16, Warmup: 0.1, Steps: 60},
		// Thumbs balanced (BalanceThumbs): a rater who approves one story
		// in seventeen ("friends", 30 approvals to 470 rejections, seed
		// 3) left the plain loss's reward model at 71% held-out pairwise
		// accuracy and RLOO at +17.4 points; balanced, 100% and +33.1, and
		// all 36 cells of docs/lab.md's four raters pass.
		Reward: RewardConfig{LoRA: train.LoRAConfig{Rank: 8, Alpha: 16}, BalanceThumbs: true},
		// The reward model learns to see a property anywhere in the reply
		// only after enough steps (measured on stories260K: 75–90 steps
		// left it near chance, 148 reached 100% held-out pairwise
		// accuracy), so small data sets get more epochs.
		RewardOptim: Optim{LR: 2e-3, Epochs: 4, MinSteps: 160, BatchSize: 16, Warmup: 0.1},
	}
	// Measured on stories260K with rule annotators (see the lab test):
	// KTO moves the policy further per step than DPO (every rated reply
	// pushes, two thirds of them down), so it gets a smaller step and
	// fewer epochs to stay within the KL and LM-loss budgets.
	// RLOO samples from the policy it trains and keeps climbing the
	// reward model: a short run (30 steps of 8 prompts × 4 samples).
	// DPO has no budget here and moves far per step: with each draw's two
	// replies as its only pairs, 1e-3 for 3 epochs sat on the edge of the
	// budgets (KL 5.9/2.9/6.0 nats, LM-loss drift +8.9/+4.3/+10%, seeds
	// 1–3), 7e-4 gave +34 to +45 points. Pairing every approved reply with
	// every rejected one to its prompt gives about 2.7 times the pairs
	// (288 from 500 ratings, seed 1), and 7e-4 for 3 epochs then ran to
	// KL 16 nats and +23% drift; 4e-4 for 2 epochs gives +41, +38, +44 and
	// +41 points (seeds 1–4) at KL 1.2–2.4 and drift +1.6 to +3.4%. At
	// least 32 steps: 300 ratings of 40-token replies (the CI's lab) give
	// about 64 pairs, 8 steps in 2 epochs (+7 points, seed 1); with 32,
	// +41, +37, +33 and +31 (KL 1.8–2.6, drift +2.6 to +3.4%).
	//
	// Each finished update is also fitted to the LM-loss bound along its
	// line (ShrinkTo, StretchTo; see ChatLabConfig). Without it, on
	// stories260K with a rater that rejects commas, DPO's seed 1 ran to
	// +5.05% held-out drift, and KTO's and RLOO's seed 2 stopped at +26.2
	// and +27.3 points with only 2.3% and 1.8% of drift spent. KTO and DPO
	// fit to 3.5% on the validation text (the small model's held-out
	// drift reads up to a point above it; at 4.2% KTO's seed 3 read
	// +5.23%): the no-comma and "big" raters gain +34.3 to +58.1 points in
	// all 12 cells (seeds 1–3) at held-out drift +2.8% to +4.4%. RLOO
	// fits to 2.5%: its KL to the base, which the fit does not read, grows
	// faster than its drift (no comma, seed 3: 5.61 nats at 3.5%, 4.97 at
	// 3.0%, 3.95 at 2.5%); at 2.5% its six cells gain +32.6 to +47.7
	// points at KL 2.0–4.0 nats.
	c.ShrinkTo, c.StretchTo = 0.035, 2
	// Every update also gets the anchor (Optim.Anchor, weight 1, every
	// position) on the base's own replies: the drift the bound allows
	// then buys more of what the rater wants. With it KTO ended well
	// inside the bound even stretched to twice its line ("happy", seed
	// 1: +32.0 points at +1.79% held-out drift), so it stretches up to
	// four times (+49.4); RLOO with it at its old step fell short
	// ("happy" +56.4 → +50.6, "friends" +29.7 → +21.5, seed 1), at twice
	// the step it reached +66.3 and +39.0 (KL 4.14 and 2.20 nats). On the
	// raters "big", no comma, "happy" and "friends" (base 3.5–42.4%),
	// seeds 1–3, 30 of the 36 cells passed before (the misses: "happy"
	// KTO and DPO seed 1, +29.7 and +29.1; "friends" DPO seeds 1 and 2,
	// +22.1 and +19.2, RLOO seeds 1 and 3), 35 with the anchor, the
	// stretch, RLOO's step and DPO's cuts (below): the smallest gain
	// +30.8 where it was +19.2, KL at most 4.14 nats, held-out drift at
	// most +4.27%. The one miss, "friends" RLOO seed 3 (+17.4, +0.6
	// before), has a reward model at 71% held-out pairwise accuracy.
	// docs/lab.md has the table.
	c.Anchor = 1
	// The sentence cuts (Cuts) cut the stories cut off at MaxTokens too:
	// nearly all of them are.
	c.CutsCutOff = true
	// The fit also reads the KL (KLTo): the drift does not bound it.
	// DPO on the period rater, stretched to 3.5%, ran to 6.6 and 5.9
	// nats (seeds 1 and 2). The KL the fit reads, on the validation
	// prompts, was 0.1–0.6 nats below the held-out KL (bounded at 4.5:
	// 4.47 against 4.94, 4.26 against 4.84), so it bounds at 4. Of the
	// 36 cells above three changed, none to a miss ("happy" KTO seeds 2
	// and 3 +48.8 → +48.3 and +59.9 → +57.0, RLOO seed 1 +66.3 → +65.7).
	// docs/lab.md has the figures.
	c.KLTo = 4
	switch algo {
	case "dpo":
		c.Optim.LR, c.Optim.Epochs, c.Optim.MinSteps = 4e-4, 2, 32
		// DPO gets the cuts, as on chat models: with the anchor, seeds
		// 1–3, they took "friends" from +29.1, +30.2, +37.8 points to
		// +33.1, +30.8, +34.9 and "big" from +38.4, +52.3, +55.2 to +45.9,
		// +52.9, +57.0, "happy" from +42.4, +33.7, +45.3 to +43.0, +43.0,
		// +53.5 and no comma from +39.5, +38.4, +41.9 to +42.4, +41.3,
		// +47.1. On the period rater they are all it learns from (+1.2
		// without them, seed 1), but it ran past the KL bound (+72.1 and
		// +61.6 points at 6.6 and 5.9 nats, seeds 1 and 2) until the fit
		// read the KL (KLTo: +47.1 and +41.9 at 4.52 and 4.41), or finds
		// nothing (+0.6, seed 3: its reward model judged nearly every cut
		// like its story).
		c.Cuts = 0.5
	case "kto":
		c.Optim.LR, c.Optim.Epochs = 3e-4, 2
		c.StretchTo = 4
	case "rloo":
		c.Optim.LR, c.Optim.Steps = 1.2e-3, 30
		c.ShrinkTo = 0.025
	}
	return c
}

// ChatLabConfig returns the lab's defaults for a chat model (one with a
// chat template; the CLI renders each prompt through it): the built-in
// chat prompts, replies up to 128 tokens, and step sizes measured on
// hone's embedded default model.
func ChatLabConfig(algo string) (LabConfig, error) {
	c := DefaultLabConfig(algo)
	ps, kinds, err := builtinChatPrompts(240 + 200 + 160)
	if err != nil {
		return c, fmt.Errorf("lab: built-in chat prompts: %w", err)
	}
	if len(ps) < 600 {
		return c, fmt.Errorf("lab: built-in chat prompts: the generator gave %d distinct prompts, want 600", len(ps))
	}
	c.Prompts, c.EvalPrompts, c.ValPrompts = ps[:240], ps[240:440], ps[440:]
	c.Kinds = make(map[string]string, len(ps))
	for i, p := range ps {
		c.Kinds[p] = kinds[i]
	}
	c.Sampler.MaxTokens = 128
	// The default model's reward model reaches 96–100% held-out pairwise
	// accuracy on the plain thumbs loss (the README's 54 cells were
	// measured so), and RLOO there reads σ(score) as a probability of
	// approval, which balancing the labels would move: plain.
	c.Reward.BalanceThumbs = false
	// The chat defaults' KL stays far inside the bound (at most 1.21 nats
	// in the README's 54 cells), and a KL check at each α of the fit would
	// sample 128-token replies on the default model: no KL bound.
	c.KLTo = 0
	// Chat replies end on their stop token: the cuts are of those alone
	// (the README's cells were measured so).
	c.CutsCutOff = false
	// The bound on LM-loss drift, a target on the validation text below
	// the gate of 5% held out (4.5% here; each algorithm sets its
	// own below: 4.2% for KTO and DPO, 4.3% for RLOO), is met by
	// moving each finished update along its line (W₀ + α·ΔW) until the
	// drift is at the target (ShrinkTo), which keeps more of what it
	// learnt than stopping early: KTO, period rater, seed 1, stopped early
	// 84.7% (held-out drift +4.4%), shrunk 87.6% (+4.7%). KTO and DPO run
	// to their end and shrink (α < 1; DPO stretches when it ends
	// inside). RLOO, which samples from the policy it trains and can run
	// far past the bound, stops early at 6% (Budget,
	// with retries); its retries left all nine of the README's RLOO cells
	// inside 4.5% (held out +2.6% to +4.3%; period rater, seeds 1 and 2,
	// 84.8% and 84.1%), so it goes on along its line to the target
	// (StretchTo 2, α > 1): 87.3% and 86.0% (α 1.22 and 1.24, held out
	// +4.65% and +4.45%). Stopped at 6% and shrunk instead: under 15
	// words, seed 2, +29.7 points against +25.8 stopped at 4.5%; with no
	// retries (first failed check) the period rater's seed 1 gave 83.9%
	// at +5.32% held out.
	//
	// The validation text: the 38 prompts of the 240 a hash set aside left
	// the budget's reading and the held-out drift up to a point apart
	// either way (−1.2 to +0.8 across the README's 27 cells), so
	// ValPrompts adds 160 more from the generator (mostly sums and
	// instructions: the greetings and questions about hone run out within
	// the first 240). On the 198 they read −1.1 to +0.7 apart once the
	// texts counted the stop token, with none of the questions about hone
	// among them; set aside by kind (setAside: 41 of the 240, 3 about
	// hone) they read −0.3 to +0.7 apart, about the held-out drift's own
	// standard error (0.2–0.7).
	c.Budget, c.ShrinkTo = 0.06, 0.045
	// Measured on the default model with rule annotators (approve-short,
	// approve-period, approve-sum; 500 ratings), on the 52 held-out
	// prompts the lab had before EvalPrompts (the README has today's): the stories260K step
	// sizes barely move it (DPO: +6 points at 500 ratings), larger ones
	// move it until the budget stops them.
	//
	// Every update also gets the anchor (Optim.Anchor) on the base's own
	// sampled replies, at the positions where the base was sure of its
	// token (AnchorMinProb 0.5). Without it, 95% of the held-out LM-loss
	// rise was on reply tokens inside sentences — 92% on tokens the base
	// gave p > 0.5, 83% on the replies to sums: a rater who wants short
	// replies rejects worked sums, and the update pushed down their
	// digits along with the choice to work them out. With it a larger
	// step fits the budget: KTO on replies under 15 words went from +26
	// points at 3.4% drift to +32 at 4.0% (seed 1; +31 at 4.4% on seed
	// 2; drifts on the held-out text of 4 replies a prompt it had then,
	// 4.1% and 4.6% on today's 8). What drift remains is spread evenly
	// over the worked sums, about 2 nats a reply, where before a few
	// replies took most of it.
	// Anchoring every position (min prob 0) held the choices too (+24 at
	// 2.6%). Without the anchor and the guard one seed's DPO run
	// collapsed (LM loss +34%).
	c.AnchorMinProb = 0.5
	// KTO and RLOO go back from a failed budget check and on at half the
	// step, up to three times (BudgetRetries), rather than stop at the
	// first: a check comes every twentieth of the run, and the step that
	// crosses the budget is often a large one, so stopping there could
	// leave them 2–3 points of held-out LM loss short of it (KTO, six
	// epochs, replies under 15 words). DPO stops at the first:
	// with retries its held-out drift ran past the 5% gate on replies
	// under 15 words (5.6% and 5.3%, seeds 1 and 2, against 4.5% on the
	// validation text), where the other two stayed under it.
	switch algo {
	case "dpo":
		// Like KTO, DPO adapts the attention output and FFN down
		// projections alone (rank 8); at β 1 with TRL's NLL term on the
		// chosen replies (rpo_alpha 0.5), 1e-3 for 6 epochs. Pairing every
		// approved reply with every rejected one to its prompt took the
		// period rater's 500 ratings from 88 pairs to 210 (seed 2), but at
		// the earlier settings (β 0.3, 15 epochs, no NLL term) the extra
		// pairs only spent the budget sooner (73.1%, seed 2; 86.5% and
		// 82.2% on seeds 1 and 2 with each draw's two replies alone). With
		// the NLL term the same budget buys more: 87.0% and 85.6% on the
		// period rater, +30.7 and +32.7 points under 15 words, 93.8% and
		// 94.2% under 25. Other settings for 6 epochs, period rater, seed
		// 2: β 0.3 without the term 82.7%; β 1 with rpo_alpha 1 85.1%;
		// β 0.5 with 1 86.1%, but +29.8 points under 15 words. With rank 8
		// on every projection, β 0.1 and 10 epochs: 81.7% and 80.3%.
		c.Optim.LR, c.Optim.Epochs = 1e-3, 6
		c.Anchor = 5
		c.DPO.Beta, c.DPO.RPOAlpha = 1, 0.5
		c.LoRA.Targets = []string{"o", "down"}
		// Sentence cuts (cutPairs) the reward model tells apart from
		// their reply by more than 0.5: replies under 15 words, seed 1,
		// +30.2 points at +5.01% held-out drift without them, +32.7 at
		// +4.50% with them (196 more pairs, all cut ≻ reply) — the
		// definitions 7% → 51%, where they had reached 23%, the sums
		// 91% → 77%. With them DPO often ends inside the bound (seed 3:
		// +3.93%, +29.2 points), so it stretches (+31.2 at +4.41%); and
		// stretched to 4.5% on the validation text, the period rater's
		// seed 3 read +5.02% held out, so it goes to 4.2%, as KTO does.
		// The cuts also steer the anchor (cutAnchors): under 15 words,
		// seeds 1–3, +36.4, +30.9 and +33.0 points against +31.8, +26.2
		// and +30.3 with the pairs alone, the other raters as before
		// (+33.9, +30.7 and +33.1 at +4.10%, +4.37% and +4.26% held out
		// with the validation text set aside by kind, where seed 2 had
		// read +5.08%).
		c.Cuts = 0.5
		c.Budget, c.ShrinkTo, c.StretchTo = 0, 0.042, 2
	case "kto":
		// Six epochs rather than three: with three, KTO on the period
		// rater ran to the end well inside the budget (78.8% and 74.5%
		// approval, +1.8% and +1.2%); with six it reaches 83.2% and 81.7%.
		// Without retries six epochs did harm: the budget stopped them
		// early at a large step (replies under 15 words: +24 and +19
		// points); with retries they give +31 and +32.
		// The adapter sits on the attention output and the FFN's down
		// projection alone, the two matrices that write into the
		// residual stream, at rank 32. With rank 8 on every projection
		// the period rater stopped at 83.2% and 81.7% (seeds 1, 2), the
		// budget spent; rank 8 on these two gave 85.1% and 85.1%, rank 32
		// on them 86.1% and 86.1% (+4.3%, +4.8% held-out LM loss), and
		// the length raters kept their gains (+32 points under 15 words
		// on both seeds; 87.5% and 95.2% under 25). Rank 32 on every
		// projection gave 85.1% and 82.2%.
		c.Optim.LR, c.Optim.Epochs = 8e-4, 6
		// Six weighted passes (KTOConfig.WeightedEpochs): a rater who
		// approves one reply in eight (ends with "!", seeds 1–3) gives
		// each approval λ_D ≈ 4, and six passes over those few replies
		// ran four times past the bound and shrank to α 0.20–0.22: +27.7,
		// +25.1, +20.5 points. Two passes end near the bound and stretch
		// to it: +34.0, +34.3 and +27.4. The period rater weighs its
		// rejections 1.4 and keeps five passes (85.5% → 85.7%, seed 2);
		// the length raters weigh theirs 1–1.8 and keep four to six.
		c.KTO.WeightedEpochs = true
		c.StretchTo = 2
		c.Anchor = 1
		c.BudgetRetries = 3 // hone train's, which stops early
		// Shrunk to 4.5% on the validation text, KTO's held-out drift read
		// up to 0.7 points higher once the texts counted the stop token
		// (5.18% and 5.1%: period rater seed 3, replies under 25 words
		// seed 2), so it shrinks to 4.2%.
		c.Budget, c.ShrinkTo = 0, 0.042
		c.LoRA = train.LoRAConfig{Rank: 32, Alpha: 64, Targets: []string{"o", "down"}}
	case "rloo":
		// RLOO's reward is the reward model's probability of approval
		// (RLOOConfig.RewardProb), at β 0.3 and without whitening the
		// advantages (TRL's default), on KTO's adapter (rank 32 on o and
		// down) at 4e-3 for 50 steps. On raw scores (±8 with the period
		// rater) β·KL was noise, and the policy learnt to stop after the
		// first sentence: it dropped the closers the rater approves ("Feel
		// free to ask more.") about as much as those it rejects, and 85%
		// of the held-out LM-loss rise was on the token after a
		// sentence's end. With rank 8 on every projection, 1e-3,
		// whitened raw scores and β 0.1 it reached 84.6% and 81.7% on the
		// period rater (seeds 1, 2); now 86.5% and 85.6% (85.6% on both
		// with a reward model trained on each draw's two replies alone as
		// pairs). At β 0.5 the KL penalty held replies under 15 words to
		// +24.5 points (seed 2); at 0.3 they gain +31.2 and +30.8.
		c.Optim.LR, c.Optim.Steps = 4e-3, 50
		c.Anchor = 1
		c.BudgetRetries = 3
		c.StretchTo = 2
		c.RLOO.Beta, c.RLOO.RewardProb, c.RLOO.NormalizeAdvantages = 0.3, true, false
		// It stretches to 4.3% rather than 4.5%: RLOO reads its held-out
		// drift up to 0.6 points above the validation text's, and at 4.5%
		// the period rater's seed 3 read 88.5% at +5.06% held out; at
		// 4.3%, 85.7%, 85.3% and 89.5% (+4.00%, +4.31%, +4.85%) against
		// 86.3%, 85.8% and 88.5%. At 4.2%, as KTO and DPO, seed 2 fell to
		// 84.4%.
		c.ShrinkTo = 0.043
		c.LoRA = train.LoRAConfig{Rank: 32, Alpha: 64, Targets: []string{"o", "down"}}
		// No cuts by default. With them (--cuts 0.5: each step also
		// scores both branches of each sampled reply's decisions to stop
		// after a sentence, and the anchor frees and holds the base's as
		// DPO's does) replies under 15 words gained, seeds 1–3, +33.6,
		// +30.4 and +33.9 points (+4.79%, +4.39%, +4.63% held-out drift)
		// against +26.4, +28.3 and +29.2, but the period rater read
		// 84.5%, 83.0% and 85.4% (at +5.44%) against 86.3%, 85.8% and
		// 88.5%, and no comma 77.3%, 79.7%, 80.7% against 80.9%, 79.9%,
		// 80.9% (all with the stretch to 4.5%).
	}
	return c, nil
}

// LabRound is one round's figures (one JSON line with --json).
type LabRound struct {
	Round   int    `json:"round"`
	Algo    string `json:"algo"`
	Ratings int    `json:"ratings"`
	Up      int    `json:"up"`
	Down    int    `json:"down"`
	Pairs   int    `json:"pairs"`
	// CutPairs is how many of Pairs are sentence cuts (LabConfig.Cuts).
	CutPairs int `json:"cut_pairs,omitempty"`
	// FreedDecisions and HeldDecisions count the anchor's decisions to
	// stop or go on after a sentence that the cuts free and hold
	// (cutAnchors).
	FreedDecisions int     `json:"freed_decisions,omitempty"`
	HeldDecisions  int     `json:"held_decisions,omitempty"`
	ApprovalBase   float64 `json:"approval_base"`
	ApprovalTuned  float64 `json:"approval_tuned"`
	// ApprovalTunedSE is the tuned approval's standard error over the
	// held-out prompts.
	ApprovalTunedSE float64 `json:"approval_tuned_se"`
	KL              float64 `json:"kl"`
	LMLossDrift     float64 `json:"lm_loss_drift"`
	// LMLossDriftSE is the drift's standard error over the held-out
	// prompts: how far another sample of prompts could put it.
	LMLossDriftSE float64 `json:"lm_loss_drift_se"`
	// LMLossDriftReply is the part of LMLossDrift on the replies' tokens
	// (the rest is on the prompts' and the chat template's): what the
	// anchor, which reads replies alone, can hold.
	LMLossDriftReply float64 `json:"lm_loss_drift_reply"`
	// BudgetDrift is the drift on the budget's validation text at the
	// end (0 without a budget): the figure the budget held.
	BudgetDrift float64 `json:"budget_drift,omitempty"`
	ReplyTokens float64 `json:"reply_tokens"`
	// Steps is the policy update's optimiser steps; BudgetStop the step
	// count the budget stopped it at (0: it ran to the end);
	// BudgetRetries the budget checks that failed and sent it back to go
	// on at half the step size.
	Steps         int `json:"steps"`
	BudgetStop    int `json:"budget_stop,omitempty"`
	BudgetRetries int `json:"budget_retries,omitempty"`
	// Shrink is where along its line the update ended (ShrinkTo,
	// StretchTo): 1 as trained, 0.8 four fifths of the way, 1.2 a fifth
	// past its end.
	Shrink float64 `json:"shrink,omitempty"`
	// FitKL is the KL the fit read (KLTo) where the update ended: on the
	// validation prompts' replies, not the held-out ones.
	FitKL       float64     `json:"fit_kl,omitempty"`
	RewardModel *RewardEval `json:"reward_model,omitempty"`
	Seconds     float64     `json:"seconds"`
}

// LabResult is the final outcome of a lab run.
type LabResult struct {
	Algo             string      `json:"algo"`
	Ratings          int         `json:"ratings"`
	ApprovalBase     float64     `json:"approval_base"`
	ApprovalTuned    float64     `json:"approval_tuned"`
	ApprovalBaseSE   float64     `json:"approval_base_se"`
	ApprovalTunedSE  float64     `json:"approval_tuned_se"`
	KL               float64     `json:"kl"`
	LMLossDrift      float64     `json:"lm_loss_drift"`
	LMLossDriftSE    float64     `json:"lm_loss_drift_se"`
	BudgetDrift      float64     `json:"budget_drift,omitempty"`
	LMLossBase       float64     `json:"lm_loss_base"`
	LMLossTuned      float64     `json:"lm_loss_tuned"`
	ReplyTokensBase  float64     `json:"reply_tokens_base"`
	ReplyTokensTuned float64     `json:"reply_tokens_tuned"`
	RewardModel      *RewardEval `json:"reward_model,omitempty"`
	EvalReplies      int         `json:"eval_replies"`
	// ByKind is the held-out approval within each kind of prompt (with
	// Kinds), the kinds with the largest share first: which of them an
	// update moved.
	ByKind        []KindApproval `json:"by_kind,omitempty"`
	Rounds        []LabRound     `json:"-"`
	History       []Metrics      `json:"-"` // policy training steps, all rounds
	RewardHistory []Metrics      `json:"-"`
	Seconds       float64        `json:"seconds"`
	Policy        *train.Model   `json:"-"`
	SampleBase    []string       `json:"-"` // a few held-out replies, for the report
	SampleTuned   []string       `json:"-"`
}

// KindApproval is the held-out approval within one kind of prompt.
type KindApproval struct {
	Kind string `json:"kind"`
	// Share is the kind's share of the prompts (Prompts), its weight in
	// the overall approval; HeldOut the held-out prompts of that kind.
	Share         float64 `json:"share"`
	HeldOut       int     `json:"held_out"`
	ApprovalBase  float64 `json:"approval_base"`
	ApprovalTuned float64 `json:"approval_tuned"`
	// LMLossDrift is the kind's part of the held-out LM-loss drift (the
	// parts add up to LabResult.LMLossDrift): where the update spent it.
	LMLossDrift float64 `json:"lm_loss_drift"`
}

// approvalByKind is the approval within each kind of the held-out
// prompts (nil without Kinds), from each prompt's approved and rated
// replies; a kind whose replies were all skipped is left out.
func (cfg *LabConfig) approvalByKind(held []labPrompt, up, rated []float64) map[string]float64 {
	if cfg.Kinds == nil {
		return nil
	}
	ku, kr := map[string]float64{}, map[string]float64{}
	for i, p := range held {
		k := cfg.Kinds[p.text]
		ku[k] += up[i]
		kr[k] += rated[i]
	}
	out := map[string]float64{}
	for k, n := range kr {
		if n > 0 {
			out[k] = ku[k] / n
		}
	}
	return out
}

// byKind pairs the base's and the tuned policy's approval within each
// kind of the held-out prompts, largest share first (nil without Kinds);
// a kind whose replies the rater skipped every one of reads 0.
func (cfg *LabConfig) byKind(held []labPrompt, base, tuned *evalSet, text heldLM) []KindApproval {
	if cfg.Kinds == nil {
		return nil
	}
	share := cfg.kindShares()
	n := map[string]int{}
	for _, p := range held {
		n[cfg.Kinds[p.text]]++
	}
	part := text.partsBy(func(p int) string { return cfg.Kinds[held[p].text] })
	var out []KindApproval
	for k, c := range n {
		out = append(out, KindApproval{Kind: k, Share: share[k], HeldOut: c, ApprovalBase: base.byKind[k], ApprovalTuned: tuned.byKind[k], LMLossDrift: part[k]})
	}
	slices.SortFunc(out, func(a, b KindApproval) int {
		if c := cmp.Compare(b.Share, a.Share); c != 0 {
			return c
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	return out
}

// heldLM is the held-out text's per-sequence NLL under the base and the
// tuned policy, each sequence's held-out prompt and the prompts' weights
// (nil: 1 each).
type heldLM struct {
	base, tuned []float64
	prompt      []int
	weights     []float64
}

// partsBy splits the relative drift Σw·tuned/Σw·base − 1 into the parts
// of the groups group(prompt) puts the prompts in; the parts add up to
// the whole.
func (h heldLM) partsBy(group func(prompt int) string) map[string]float64 {
	var den float64
	num := map[string]float64{}
	for i, p := range h.prompt {
		w := 1.0
		if h.weights != nil {
			w = h.weights[p]
		}
		den += w * h.base[i]
		num[group(p)] += w * (h.tuned[i] - h.base[i])
	}
	if den <= 0 {
		return nil
	}
	for k := range num {
		num[k] /= den
	}
	return num
}

// BuiltinPrompts are story openings in the style stories-type models were
// trained on, 16 subjects × 12 openings.
func BuiltinPrompts() []string {
	subjects := []string{"Lily", "Tim", "Ben", "Sue", "Max", "Anna", "Tom", "Mia", "Sam", "Lucy", "Jack", "Emma",
		"a little cat", "a big dog", "a small bird", "a happy frog"}
	openings := []string{
		"Once upon a time, there was %s.",
		"One day, %s went to the park.",
		"Once upon a time, %s found a box.",
		"%s wanted to play outside.",
		"One morning, %s woke up early.",
		"%s saw a big tree.",
		"Once upon a time, %s had a toy.",
		"One day, %s was very hungry.",
		"%s liked to run and jump.",
		"At night, %s looked at the sky.",
		"%s went to the store with mom.",
		"Once there was %s who loved the sun.",
	}
	var out []string
	for _, o := range openings {
		for _, s := range subjects {
			p := fmt.Sprintf(o, s)
			if p[0] >= 'a' && p[0] <= 'z' {
				p = string(p[0]-'a'+'A') + p[1:]
			}
			out = append(out, p)
		}
	}
	return out
}

// heldOut splits prompts deterministically by a hash of their text.
func heldOut(prompt string, frac float64) bool {
	h := fnv.New64a()
	h.Write([]byte(prompt))
	return float64(h.Sum64()%10000)/10000 < frac
}

// labData is what the annotator's judgements of the training replies
// give: thumbs, and a pair of every approved reply with every rejected
// one to the same prompt, whenever each was sampled (the store derives
// pairs the same way from rated regenerations under one parent). The
// held-out reward data (evalSet.rewardData) is built the same way.
type labData struct {
	thumbs   []Unpaired
	pairs    []Pair
	byPrompt map[string][]ratedReply // by prompt text
}

// ratedReply is a judged reply, kept to pair with later ones.
type ratedReply struct {
	comp []int
	up   bool
}

// add records a reply to the prompt keyed key with its rating (1, -1, or
// 0 for a skip, which gives nothing).
func (d *labData) add(key string, s Seq, rating int) {
	if rating == 0 {
		return
	}
	up := rating > 0
	d.thumbs = append(d.thumbs, Unpaired{s, up})
	for _, r := range d.byPrompt[key] {
		switch {
		case r.up == up:
		case up:
			d.pairs = append(d.pairs, Pair{s.Prompt, s.Completion, r.comp})
		default:
			d.pairs = append(d.pairs, Pair{s.Prompt, r.comp, s.Completion})
		}
	}
	d.byPrompt[key] = append(d.byPrompt[key], ratedReply{s.Completion, up})
}

type labPrompt struct {
	text string
	toks []int
}

// kindShares is each kind's share of Prompts.
func (cfg *LabConfig) kindShares() map[string]float64 {
	share := map[string]float64{}
	for _, p := range cfg.Prompts {
		share[cfg.Kinds[p]]++
	}
	for k := range share {
		share[k] /= float64(len(cfg.Prompts))
	}
	return share
}

// kindWeights is each of prompts' weight when Kinds is set (nil
// otherwise): its kind's share of Prompts over the number of prompts of
// that kind among them, so that every kind there counts as its share
// (the held-out prompts; the budget's validation prompts, where a kind
// without any, such as the few questions about hone, is left out).
func (cfg *LabConfig) kindWeights(prompts []labPrompt) ([]float64, error) {
	if cfg.Kinds == nil {
		return nil, nil
	}
	share := cfg.kindShares()
	n := map[string]float64{}
	for _, p := range prompts {
		k, ok := cfg.Kinds[p.text]
		if !ok || share[k] == 0 {
			return nil, fmt.Errorf("prompt %q: its kind %q is not among the prompts' kinds", p.text, k)
		}
		n[k]++
	}
	w := make([]float64, len(prompts))
	for i, p := range prompts {
		k := cfg.Kinds[p.text]
		w[i] = share[k] / n[k]
	}
	return w, nil
}

// splitPrompts renders the prompts and splits them into those to rate
// and those held out: a share of Prompts (heldOut's hash) and then every
// EvalPrompt, which come after the others so that the held-out replies
// to the first are drawn as they would be without them; val is
// ValPrompts rendered, which must be neither.
func (cfg *LabConfig) splitPrompts(tok TextTokenizer) (train, held, val []labPrompt, err error) {
	prompts := cfg.Prompts
	if len(prompts) == 0 {
		prompts = BuiltinPrompts()
	}
	render := func(p string) labPrompt {
		lp := labPrompt{text: p}
		if cfg.Render != nil {
			lp.toks = cfg.Render(p)
		} else {
			if cfg.BOS >= 0 {
				lp.toks = append(lp.toks, cfg.BOS)
			}
			lp.toks = append(lp.toks, tok.Encode(p)...)
		}
		return lp
	}
	rated := map[string]bool{}
	for _, p := range prompts {
		if heldOut(p, cfg.HeldOutFrac) {
			held = append(held, render(p))
		} else {
			rated[p] = true
			train = append(train, render(p))
		}
	}
	for _, p := range cfg.EvalPrompts {
		if rated[p] {
			return nil, nil, nil, fmt.Errorf("lab: evaluation prompt %q is also a prompt to rate: it would not be held out", p)
		}
		held = append(held, render(p))
	}
	if len(train) == 0 || len(held) == 0 {
		return nil, nil, nil, fmt.Errorf("lab: %d prompts split into %d training and %d held-out: need both (give more prompts)", len(prompts), len(train), len(held))
	}
	if len(cfg.ValPrompts) > 0 {
		other := map[string]bool{}
		for _, p := range held {
			other[p.text] = true
		}
		for _, p := range cfg.ValPrompts {
			if rated[p] || other[p] {
				return nil, nil, nil, fmt.Errorf("lab: validation prompt %q is also a prompt to rate or a held-out one: the budget would not read unseen text", p)
			}
			val = append(val, render(p))
		}
	}
	return train, held, val, nil
}

// setAside splits the training prompts into those to rate and those
// whose base replies join the validation text. Without Kinds it is a
// fifth by a hash of each prompt's text. With Kinds it is a fifth of
// each kind, rounded up, and at least two of any kind that has three or
// more (one of a kind of two), the prompts with the smallest hashes: on
// the hash alone the default model's 188 training prompts gave the
// validation text none of their 11 questions about hone and two of the
// questions it cannot know, so the fit was all but blind to the drift an
// update spent on them (DPO under 15 words, seed 2: +5.08% held out
// against +4.18% on the validation text). The split is the same for
// every seed, and within a kind it keeps the prompts' order.
func (cfg *LabConfig) setAside(train []labPrompt) (rest, set []labPrompt) {
	h := func(p labPrompt) uint64 {
		f := fnv.New64a()
		f.Write([]byte("budget\x00" + p.text))
		return f.Sum64()
	}
	if cfg.Kinds == nil {
		for _, p := range train {
			if heldOut("budget\x00"+p.text, 0.2) {
				set = append(set, p)
			} else {
				rest = append(rest, p)
			}
		}
		return rest, set
	}
	byKind := map[string][]int{}
	for i, p := range train {
		k := cfg.Kinds[p.text]
		byKind[k] = append(byKind[k], i)
	}
	aside := make([]bool, len(train))
	for _, idx := range byKind {
		n := len(idx)
		k := max(2, (n+4)/5)
		if k > n-1 {
			k = n / 2
		}
		order := slices.Clone(idx)
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(h(train[a]), h(train[b])) })
		for _, i := range order[:k] {
			aside[i] = true
		}
	}
	for i, p := range train {
		if aside[i] {
			set = append(set, p)
		} else {
			rest = append(rest, p)
		}
	}
	return rest, set
}

// evalSet is a policy's replies on the held-out prompts with their
// judgements.
type evalSet struct {
	seqs     []Seq
	prompts  []int // index into held-out prompts
	texts    []string
	ratings  []int
	approval float64
	// approvalSE is approval's standard error over the held-out
	// prompts (each with its replies): how far another sample of prompts
	// could put it.
	approvalSE float64
	tokens     float64
	// byKind is the approval within each kind of prompt (with Kinds).
	byKind map[string]float64
}

// RunLab runs the closed loop: sample two replies per training prompt from
// the current policy, have rater judge them, train, and evaluate on
// held-out prompts with the same rater.
func RunLab(ctx context.Context, base *train.Model, tok TextTokenizer, rater Rater, cfg LabConfig) (*LabResult, error) {
	start := time.Now()
	switch cfg.Algo {
	case "kto", "dpo", "rloo":
	default:
		return nil, fmt.Errorf("lab: unknown algorithm %q (kto, dpo or rloo)", cfg.Algo)
	}
	if cfg.Ratings < 4 {
		return nil, fmt.Errorf("lab: ratings %d: need at least 4", cfg.Ratings)
	}
	if cfg.Rounds < 1 {
		cfg.Rounds = 1
	}
	if cfg.EvalSamples < 1 {
		cfg.EvalSamples = 4
	}
	if cfg.LMSamples < 1 {
		cfg.LMSamples = 8
	}
	train, held, val, err := cfg.splitPrompts(tok)
	if err != nil {
		return nil, err
	}
	heldW, err := cfg.kindWeights(held)
	if err != nil {
		return nil, fmt.Errorf("lab: held-out prompts: %w", err)
	}
	// The validation text of the budget and of shrink: the base policy's
	// replies to a fifth of the training prompts (of each kind, with
	// Kinds), which are then neither rated nor trained on (nor part of
	// the held-out evaluation), and to ValPrompts — an unbiased estimate
	// of how far an update moves the LM loss on unseen prompts. With
	// Kinds it is post-stratified like the held-out text: each kind among
	// its prompts counts as its share of Prompts.
	var guardText lmText
	if cfg.Budget > 0 || cfg.ShrinkTo > 0 {
		rest, set := cfg.setAside(train)
		if len(set) > 0 && len(rest) > 0 {
			train = rest
			val = append(set, val...)
		}
		if len(val) > 0 {
			seqs, err := cfg.Sampler.replies(ctx, base, val, cfg.LMSamples, cfg.Seed^0xb0d6e7)
			if err != nil {
				return nil, err
			}
			pw, err := cfg.kindWeights(val)
			if err != nil {
				return nil, fmt.Errorf("lab: the budget's validation prompts: %w", err)
			}
			guardText = lmText{seqs: seqs}
			if pw != nil {
				guardText.weights = make([]float64, len(seqs))
				for i, p := range replyPrompts(len(val), cfg.LMSamples) {
					guardText.weights[i] = pw[p]
				}
			}
		}
	}
	res := &LabResult{Algo: cfg.Algo}
	ann := &labAnnotator{rater: rater, tok: tok, smp: cfg.Sampler}

	// The base policy's held-out replies: approval, the reward model's
	// held-out judgements and the held-out text for LM loss.
	baseEval, err := ann.evaluate(ctx, base, held, heldW, cfg, "eval-base")
	if err != nil {
		return nil, err
	}
	res.ApprovalBase, res.ApprovalBaseSE, res.ReplyTokensBase = baseEval.approval, baseEval.approvalSE, baseEval.tokens
	heldText := baseEval.seqs
	heldPrompt := slices.Clone(baseEval.prompts) // each text's held-out prompt
	if extra := cfg.LMSamples - cfg.EvalSamples; extra > 0 {
		more, err := cfg.Sampler.replies(ctx, base, held, extra, cfg.Seed^0x1e7a5)
		if err != nil {
			return nil, err
		}
		heldText = append(heldText, more...)
		heldPrompt = append(heldPrompt, replyPrompts(len(held), extra)...)
	}
	lmBase, err := docNLL(ctx, base, heldText)
	if err != nil {
		return nil, err
	}
	if res.LMLossBase, err = lmBase.mean(); err != nil {
		return nil, err
	}
	var guardBase float64
	if len(guardText.seqs) > 0 {
		if guardBase, err = guardText.loss(ctx, base); err != nil {
			return nil, fmt.Errorf("lab: budget: %w", err)
		}
	}

	rng := rand.New(rand.NewPCG(cfg.Seed, 0x1ab))
	order := rng.Perm(len(train))
	next := 0
	data := labData{byPrompt: map[string][]ratedReply{}}
	var anchorText []Seq // the base policy's sampled replies
	policy := base
	perRound := cfg.Ratings / cfg.Rounds
	used := 0
	for round := 1; round <= cfg.Rounds; round++ {
		rs := time.Now()
		budget := perRound
		if round == cfg.Rounds {
			budget = cfg.Ratings - used
		}
		// Two replies per prompt from the current policy.
		var ps [][]int
		var pt []labPrompt
		for i := 0; i+1 < budget; i += 2 {
			p := train[order[next%len(train)]]
			next++
			ps = append(ps, p.toks, p.toks)
			pt = append(pt, p, p)
		}
		comps, err := cfg.Sampler.sampleFrom(ctx, policy, ps, cfg.Seed^uint64(round)*0x51ed27)
		if err != nil {
			return nil, err
		}
		js, err := ann.judge(ctx, pt, comps, fmt.Sprintf("r%d", round))
		if err != nil {
			return nil, err
		}
		used += len(js)
		if policy == base {
			for i := range ps {
				anchorText = append(anchorText, Seq{ps[i], comps[i]})
			}
		}
		for k, j := range js {
			data.add(pt[k].text, Seq{ps[k], comps[k]}, j)
		}
		thumbs, pairs := data.thumbs, data.pairs
		lr := LabRound{Round: round, Algo: cfg.Algo, Ratings: used, Pairs: len(pairs), ApprovalBase: res.ApprovalBase}
		for _, t := range thumbs {
			if t.Up {
				lr.Up++
			} else {
				lr.Down++
			}
		}
		if lr.Up == 0 || lr.Down == 0 {
			// One label means no pair for DPO, nothing for KTO to tell
			// apart, and a reward model that scores every reply alike:
			// each would spend the LM-loss budget chasing noise (the job
			// refuses the same way).
			return nil, &NothingError{Reason: fmt.Sprintf("lab: round %d: %d approved and %d disapproved replies: %s", round, lr.Up, lr.Down, oneLabelNeed(cfg.Algo))}
		}
		// Reward model on everything rated so far, checked on the base
		// policy's held-out judgements.
		var rm *RewardModel
		if cfg.Algo == "rloo" || !cfg.SkipRewardModel || cfg.Algo == "dpo" && cfg.Cuts > 0 {
			ro := cfg.RewardOptim
			ro.Seed = cfg.Seed + uint64(round)
			ro.OnStep = stepHook(cfg.OnStep, "reward")
			var rh []Metrics
			rm, rh, err = TrainRewardModel(ctx, base, RewardData{Pairs: pairs, Thumbs: thumbs}, cfg.Reward, ro)
			if err != nil {
				return nil, fmt.Errorf("lab: round %d: reward model: %w", round, err)
			}
			res.RewardHistory = append(res.RewardHistory, rh...)
			ev, err := rm.Evaluate(ctx, baseEval.rewardData())
			if err != nil {
				return nil, err
			}
			lr.RewardModel = &ev
			res.RewardModel = &ev
		}
		var judge scorer = rm
		if cfg.Algo == "dpo" && cfg.Cuts > 0 {
			judge = newScoreCache(rm) // the pairs' cuts, then the anchor's
			cp, err := cutPairs(ctx, judge, tok, unpairedSeqs(thumbs), cfg.Sampler.Stop, cfg.CutsCutOff, cfg.Cuts)
			if err != nil {
				return nil, fmt.Errorf("lab: round %d: %w", round, err)
			}
			pairs = append(slices.Clip(pairs), cp...)
			lr.Pairs, lr.CutPairs = len(pairs), len(cp)
		}
		// A fresh adapter on the base each round, trained on all the data.
		policy, err = NewPolicy(base, cfg.LoRA, cfg.Seed+uint64(round))
		if err != nil {
			return nil, err
		}
		var line *updateLine // the update's line, to shrink it on
		if cfg.ShrinkTo > 0 && len(guardText.seqs) > 0 {
			line = startUpdate(policy)
		}
		o := cfg.Optim
		o.Seed = cfg.Seed + uint64(round)*7
		o.OnStep = stepHook(cfg.OnStep, cfg.Algo)
		if cfg.Anchor > 0 {
			o.Anchor, o.AnchorCoef, o.AnchorMinProb = anchorText, cfg.Anchor, cfg.AnchorMinProb
			if (cfg.Algo == "dpo" || cfg.Algo == "rloo") && cfg.Cuts > 0 {
				if o.AnchorAt, err = cutAnchors(ctx, judge, tok, anchorText, cfg.Sampler.Stop, cfg.CutsCutOff, cfg.Cuts); err != nil {
					return nil, fmt.Errorf("lab: round %d: %w", round, err)
				}
				lr.FreedDecisions, lr.HeldDecisions = countAnchorAt(o.AnchorAt)
			}
		}
		if len(guardText.seqs) > 0 && cfg.Budget > 0 {
			o.GuardRetries = cfg.BudgetRetries
			o.Guard = lmBudget(policy, guardText, guardBase, cfg.Budget)
		}
		var hist []Metrics
		switch cfg.Algo {
		case "kto":
			hist, err = TrainKTO(ctx, policy, base, thumbs, cfg.KTO, o)
		case "dpo":
			if len(pairs) == 0 {
				return nil, &NothingError{Reason: fmt.Sprintf("lab: round %d: no pair with one reply approved and one not: DPO needs pairs", round)}
			}
			hist, err = TrainDPO(ctx, policy, base, pairs, cfg.DPO, o)
		case "rloo":
			tp := make([][]int, len(train))
			for i, p := range train {
				tp[i] = p.toks
			}
			ro := cfg.RLOO
			ro.Sampler = cfg.Sampler
			if cfg.Cuts > 0 {
				ro.Sentences, ro.CutOff = tok, cfg.CutsCutOff
			}
			hist, err = TrainRLOO(ctx, policy, base, rm, tp, ro, o)
		}
		if err != nil {
			return nil, fmt.Errorf("lab: round %d: %s: %w", round, cfg.Algo, err)
		}
		res.History = append(res.History, hist...)
		lr.Steps = len(hist)
		if len(hist) > 0 {
			lr.BudgetStop = int(hist[len(hist)-1]["budget/stopped_at"])
		}
		lr.BudgetRetries = countRetries(hist)
		// Where the update ends on the budget's text, moved back into
		// ShrinkTo first when asked.
		switch {
		case line != nil:
			line.finish()
			// The KL at each α the fit reads, kept so that the one where it
			// ends is not sampled again.
			kls := map[float64]float64{}
			klAt := func(ctx context.Context, a float64) (float64, error) {
				if kl, ok := kls[a]; ok {
					return kl, nil
				}
				kl, err := fitKL(ctx, cfg.Sampler, policy, base, val, cfg.EvalSamples, cfg.Seed^0x6b1f)
				if err == nil {
					kls[a] = kl
				}
				return kl, err
			}
			var klOver func(context.Context, float64) (bool, error)
			if cfg.KLTo > 0 {
				klOver = func(ctx context.Context, a float64) (bool, error) {
					kl, err := klAt(ctx, a)
					return kl > cfg.KLTo, err
				}
			}
			lr.Shrink, lr.BudgetDrift, err = shrink(ctx, line, policy, guardText, guardBase, cfg.ShrinkTo, cfg.StretchTo, klOver)
			if err == nil && cfg.KLTo > 0 {
				lr.FitKL, err = klAt(ctx, lr.Shrink)
			}
		case len(guardText.seqs) > 0:
			lr.BudgetDrift, err = lmDrift(ctx, policy, guardText, guardBase)
		}
		if err != nil {
			return nil, fmt.Errorf("lab: round %d: budget text: %w", round, err)
		}
		tuned, err := ann.evaluate(ctx, policy, held, heldW, cfg, fmt.Sprintf("eval-r%d", round))
		if err != nil {
			return nil, err
		}
		kl, err := meanSeqKL(ctx, policy, base, tuned.seqs)
		if err != nil {
			return nil, err
		}
		lmTuned, err := docNLL(ctx, policy, heldText)
		if err != nil {
			return nil, err
		}
		lt, err := lmTuned.mean()
		if err != nil {
			return nil, err
		}
		d, err := relDrift(lmBase.nll, lmTuned.nll, heldPrompt, heldW)
		if err != nil {
			return nil, err
		}
		// The base's document NLL with the replies' part moved as the
		// policy moved it: relDrift of that is the reply tokens' share.
		moved := make([]float64, len(lmTuned.reply))
		for i := range moved {
			moved[i] = lmBase.nll[i] - lmBase.reply[i] + lmTuned.reply[i]
		}
		dr, err := relDrift(lmBase.nll, moved, heldPrompt, heldW)
		if err != nil {
			return nil, err
		}
		lr.LMLossDriftReply = dr.Rel
		lr.ApprovalTuned, lr.ApprovalTunedSE, lr.KL, lr.ReplyTokens = tuned.approval, tuned.approvalSE, kl, tuned.tokens
		res.ApprovalTunedSE = tuned.approvalSE
		lr.LMLossDrift, lr.LMLossDriftSE = d.Rel, d.SE
		lr.Seconds = time.Since(rs).Seconds()
		res.Rounds = append(res.Rounds, lr)
		res.ApprovalTuned, res.KL, res.LMLossDrift, res.LMLossTuned, res.ReplyTokensTuned = lr.ApprovalTuned, kl, lr.LMLossDrift, lt, tuned.tokens
		res.LMLossDriftSE, res.BudgetDrift = d.SE, lr.BudgetDrift
		res.EvalReplies = len(tuned.seqs)
		res.ByKind = cfg.byKind(held, baseEval, tuned, heldLM{base: lmBase.nll, tuned: lmTuned.nll, prompt: heldPrompt, weights: heldW})
		res.SampleBase, res.SampleTuned = firstN(baseEval.texts, 3), firstN(tuned.texts, 3)
		if cfg.OnRound != nil {
			cfg.OnRound(lr)
		}
	}
	res.Ratings = used
	res.Policy = policy
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// replies samples n of m's replies to each prompt, as prompt + reply
// sequences: each prompt's n in turn (replyPrompts).
func (s Sampler) replies(ctx context.Context, m *train.Model, prompts []labPrompt, n int, seed uint64) ([]Seq, error) {
	var ps [][]int
	for _, p := range prompts {
		for range n {
			ps = append(ps, p.toks)
		}
	}
	comps, err := s.sampleFrom(ctx, m, ps, seed)
	if err != nil {
		return nil, err
	}
	out := make([]Seq, len(comps))
	for i, c := range comps {
		out[i] = Seq{ps[i], c}
	}
	return out, nil
}

// fitKL is policy's mean sequence KL to base on its own n replies to
// each of prompts, sampled with seed (the same seed at every α of a fit,
// so that the draws differ only as the policy does).
func fitKL(ctx context.Context, s Sampler, policy, base *train.Model, prompts []labPrompt, n int, seed uint64) (float64, error) {
	seqs, err := s.replies(ctx, policy, prompts, n, seed)
	if err != nil {
		return 0, fmt.Errorf("KL on the validation prompts: %w", err)
	}
	kl, err := meanSeqKL(ctx, policy, base, seqs)
	if err != nil {
		return 0, fmt.Errorf("KL on the validation prompts: %w", err)
	}
	return kl, nil
}

// lmBudget returns a Guard that passes while policy's language-model loss
// (lmText.loss) on text stays within budget (relative) of ref, the reference's
// loss on text.
func lmBudget(policy *train.Model, text lmText, ref, budget float64) func(context.Context, int) (bool, error) {
	return func(ctx context.Context, _ int) (bool, error) {
		d, err := lmDrift(ctx, policy, text, ref)
		return d <= budget, err
	}
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func stepHook(f func(string, int, int, Metrics), phase string) func(int, int, Metrics) error {
	if f == nil {
		return nil
	}
	return func(step, total int, m Metrics) error {
		f(phase, step, total, m)
		return nil
	}
}

// labAnnotator wraps a Rater with the lab's request numbering.
type labAnnotator struct {
	rater Rater
	tok   TextTokenizer
	smp   Sampler // the replies' sampler: Reply takes off the stop token
}

// judge asks for a rating of each completion; it returns −1, 0 or 1 each.
func (a *labAnnotator) judge(ctx context.Context, prompts []labPrompt, comps [][]int, tag string) ([]int, error) {
	reqs := make([]AnnotationRequest, len(comps))
	for i, c := range comps {
		reqs[i] = AnnotationRequest{ID: fmt.Sprintf("%s-%d", tag, i), Messages: []Turn{{Role: "user", Content: prompts[i].text}}, Reply: a.tok.Decode(a.smp.Reply(c))}
	}
	js, err := a.rater.Annotate(ctx, reqs)
	if err != nil {
		return nil, err
	}
	if len(js) != len(reqs) {
		return nil, fmt.Errorf("lab: %d judgements for %d requests", len(js), len(reqs))
	}
	out := make([]int, len(js))
	for i, j := range js {
		out[i] = j.Rating
	}
	return out, nil
}

// evaluate samples EvalSamples replies per held-out prompt from m with a
// seed fixed per lab (so base and tuned see the same randomness) and has
// them judged; approval weighs each prompt's replies by weights (nil:
// 1).
func (a *labAnnotator) evaluate(ctx context.Context, m *train.Model, held []labPrompt, weights []float64, cfg LabConfig, tag string) (*evalSet, error) {
	var ps [][]int
	var pt []labPrompt
	e := &evalSet{}
	for i, p := range held {
		for k := 0; k < cfg.EvalSamples; k++ {
			ps = append(ps, p.toks)
			pt = append(pt, p)
			e.prompts = append(e.prompts, i)
		}
	}
	comps, err := cfg.Sampler.sampleFrom(ctx, m, ps, cfg.Seed^0xe7a1)
	if err != nil {
		return nil, err
	}
	if e.ratings, err = a.judge(ctx, pt, comps, tag); err != nil {
		return nil, err
	}
	up, rated := make([]float64, len(held)), make([]float64, len(held))
	for i, c := range comps {
		e.seqs = append(e.seqs, Seq{ps[i], c})
		r := cfg.Sampler.Reply(c)
		e.texts = append(e.texts, a.tok.Decode(r))
		e.tokens += float64(len(r))
		if r := e.ratings[i]; r != 0 {
			rated[e.prompts[i]]++
			if r > 0 {
				up[e.prompts[i]]++
			}
		}
	}
	e.tokens /= float64(len(comps))
	e.byKind = cfg.approvalByKind(held, up, rated)
	for i, w := range weights {
		up[i] *= w
		rated[i] *= w
	}
	if e.approval, e.approvalSE, err = ratioOfSums(up, rated); err != nil {
		return nil, errors.New("lab: the annotator skipped every held-out reply: no approval rate")
	}
	return e, nil
}

// rewardData turns an evaluation's judgements into held-out reward data:
// thumbs, and every (approved, disapproved) pair under the same prompt.
func (e *evalSet) rewardData() RewardData {
	d := labData{byPrompt: map[string][]ratedReply{}}
	for i, r := range e.ratings {
		d.add(strconv.Itoa(e.prompts[i]), e.seqs[i], r)
	}
	return RewardData{Thumbs: d.thumbs, Pairs: d.pairs}
}

// replyPrompts is the prompt (0 … prompts−1) of each sequence that
// replies returns for that many prompts, n each.
func replyPrompts(prompts, n int) []int {
	out := make([]int, 0, prompts*n)
	for p := range prompts {
		for range n {
			out = append(out, p)
		}
	}
	return out
}

// oneLabelNeed says what algo needs that ratings of one label lack.
func oneLabelNeed(algo string) string {
	switch algo {
	case "dpo":
		return "DPO needs pairs of one approved and one disapproved reply"
	case "rloo":
		return "RLOO's reward model needs both labels"
	default:
		return "KTO needs both 👍 and 👎"
	}
}
