// Package train trains hone's Llama-family models in pure Go: a float32
// forward pass that keeps its activations and a backward pass for every
// op, AdamW, LoRA, exact-resume checkpoints, and GGUF saving (whole models
// and llama.cpp-style LoRA adapters). Its shape follows llm.c's
// train_gpt2.c: each op's forward and backward side by side (ops.go), all
// parameters in one flat buffer and all gradients in another, with a view
// per tensor. Matrix products go through kernels.Sgemm in both directions
// (dX = dY·W, dW += dYᵀ·X); attention and element-wise ops split across
// the cores.
//
// # API summary
//
// Models
//   - New(cfg, tied), NewRandom(cfg, tied, seed), FromWeights(cfg, *model.Weights)
//     (dequantizes F16/Q8_0/… to float32) build a *Model. m.P / m.G are the
//     per-tensor views of the parameters / gradients; m.Data(), m.Segments().
//   - m.ToWeights() views the parameters as *model.Weights; m.MergedWeights()
//     with an active adapter merged; m.Inference(base) is an engine
//     *model.Model (sampling, sessions) with base's tokenizer and template.
//   - m.Clone() deep-copies; m.Share() is a second reader of the same
//     parameters (no copy, no adapter, no gradients) with its own
//     activations: the frozen reference of RLHF. Shares may run in other
//     goroutines; one Model itself is not safe for concurrent use.
//
// Batches: Batch{B, T, Tokens, Targets, Lens} is B sequences × T tokens;
// Targets[i] is the token to predict at position i, or -1 (not counted:
// padding, prompts). Builders: LMBatch (next token), CompletionBatch
// (Sequence{Prompt, Completion}: only the completion counts), MaskedBatch
// (token masks, e.g. assistant turns from package sft), Windows.
//
// Forward and backward
//   - m.Forward(ctx, batch) returns the mean NLL over the targets and keeps
//     the activations. Logits are computed only at target positions. Then:
//     m.TokenLogProbs() (B×T), m.SeqLogProbs() (B), m.LastHidden() (B×Dim,
//     after the output norm, at each sequence's last real token),
//     m.TokenKL(ref) / m.SeqKL(ref) (exact KL(m‖ref) of the next-token
//     distributions; ref ran Forward on the same batch).
//   - m.Backward(ctx, Cotangent{Loss, TokenLogp, SeqLogp, SeqKL/TokenKL+Ref, Hidden})
//     adds ∂objective/∂params to the trainable gradients (the adapter when a
//     LoRA is attached and enabled, else the base); the terms add up. Call
//     m.ZeroGrad() first; Backward consumes the logits, so read log-probs
//     and KL before it.
//   - m.SequenceLogProbs(ctx, seqs) = Forward(CompletionBatch) + SeqLogProbs;
//     m.BackwardSeq(ctx, dLogp) = Backward(Cotangent{SeqLogp: dLogp}).
//   - m.EvalLM(ctx, tokens, T, B): mean NLL of a token stream (perplexity =
//     exp); m.Logits(ctx, tokens) like the engine's model.Model.Logits.
//   - m.StepFLOPs(B, T, M) counts a step's matrix FLOPs (benchmarks).
//
// A DPO step (β, pairs chosen/rejected as 2k sequences):
//
//	ref := policy.Share()                           // the base, adapter off
//	refLp, _ := ref.SequenceLogProbs(ctx, seqs)     // no backward needed
//	lp, _ := policy.SequenceLogProbs(ctx, seqs)     // keeps activations
//	// loss = −log σ(β·((lp_c−ref_c) − (lp_r−ref_r))); dL/dlp per sequence:
//	// d_c = −β·σ(−z), d_r = +β·σ(−z), z the margin, averaged over pairs.
//	policy.ZeroGrad()
//	policy.BackwardSeq(ctx, dL)
//	ClipGradNorm(policy.Trainable().Grads, 1)
//	opt.Step(policy.Trainable(), lr)               // opt := NewAdamW(0)
//
// KTO is the same with unpaired sequences; RLOO uses SequenceLogProbs on
// sampled completions (sample with m.Inference(base)) and BackwardSeq with
// −advantage/k; a reward head reads LastHidden and returns its gradient in
// Cotangent.Hidden.
//
// LoRA: m.AttachLoRA(LoRAConfig{Rank, Alpha, Dropout, Targets, Seed})
// (targets among q, k, v, o, gate, up, down; A uniform ±1/√in, B zero)
// freezes the base, which stays shared, not copied; m.EnableLoRA(false)
// computes the base; lr.Merge/Unmerge(m) change the training parameters,
// lr.MergeWeights/UnmergeWeights(*model.Weights) replace adapted matrices
// by merged F32 copies. SaveLoRA / LoadLoRA use llama.cpp's GGUF adapter
// convention (general.type=adapter, adapter.type=lora, adapter.lora.alpha,
// blk.N.attn_q.weight.lora_a with ggml dims {in, rank}, .lora_b {rank, out}).
// m.SetTraining(true) turns dropout on (the Trainer does).
//
// Optimisation: m.Trainable() → ParamSet{Params, Grads, Segs}; AdamW
// (decoupled decay only on matrices: Segment.Decay) .Step(ps, lr);
// ClipGradNorm; Schedule{Warmup, Total, MinFrac}.LR(step, base). Trainer
// (NewTrainer(m, TrainerConfig{LR, MinLRFrac, Warmup, Steps, WeightDecay,
// ClipNorm, Accum, Seed})) runs TrainStep(ctx, BatchFunc) with gradient
// accumulation, clipping, schedule and seeded sampling (t.Rand());
// SaveCheckpoint / LoadCheckpoint write and restore the trainable
// parameters, AdamW moments, step and random state atomically, so a
// resumed run continues the same loss curve bit for bit.
//
// Saving: SaveGGUF(path, m, base, model.SaveOptions{Type: F32|F16|BF16|Q8_0})
// writes what m computes (adapter merged) with base's vocabulary, through
// the engine's writer (temp file, fsync, rename).
//
// Not covered: rope_freqs.weight long-context scaling (Llama 3.1) is not
// applied in training; models that have it train without it.
package train
