// Package train trains hone's Llama-family models in pure Go: float32
// forward with saved activations and backward for every op, AdamW, LoRA,
// checkpoints, and GGUF saving. It follows llm.c's train_gpt2.c in shape:
// each op's forward and backward side by side (ops.go), one flat parameter
// buffer and one flat gradient buffer with a view per tensor.
//
// # API summary
//
// Models:
//   - New(cfg, tied), NewRandom(cfg, tied, seed), FromWeights(cfg, *model.Weights)
//     build a *Model; m.ToWeights() views it as *model.Weights for the engine;
//     m.Clone() deep-copies; m.Share() is a second reader of the same
//     parameters (a frozen reference) with its own activations.
//   - Batch{B, T, Tokens, Targets, Lens}: B sequences × T tokens; Targets[i]
//     is the token predicted at i or -1 (not counted). Builders: LMBatch
//     (next-token), CompletionBatch (prompt/completion pairs: only the
//     completion counts).
//   - m.Forward(ctx, batch) → mean NLL over targets; keeps activations.
//     Then m.TokenLogProbs(), m.SeqLogProbs(), m.LastHidden(), m.TokenKL(ref).
//   - m.Backward(ctx, Cotangent{Loss, TokenLogp, SeqLogp, SeqKL+Ref, Hidden})
//     adds ∂objective/∂params to the trainable gradients (the adapter when a
//     LoRA is attached, else the base). m.ZeroGrad() clears them.
//
// For RLHF (see rlhf): m.SequenceLogProbs(ctx, []Sequence{{Prompt,
// Completion}}) runs Forward on a completion batch and returns each
// sequence's Σ log p(completion | prompt); m.BackwardSeq(ctx, dLogp) then
// backpropagates ∂L/∂logp per sequence. A DPO step:
//
//	ref := policy.Share(); ref.EnableLoRA(false)   // or policy.EnableLoRA(false) around the ref pass
//	refLp, _ := ref.SequenceLogProbs(ctx, pairs)    // chosen and rejected, no backward
//	lp, _ := policy.SequenceLogProbs(ctx, pairs)
//	dL := dpoGrad(lp, refLp)                        // ∂loss/∂lp per sequence
//	policy.ZeroGrad(); policy.BackwardSeq(ctx, dL); opt.Step(policy.Trainable(), lr)
//
// Note that Share shares the LoRA-less base only; a share of a model whose
// adapter is attached computes the base.
//
// LoRA: m.AttachLoRA(LoRAConfig{Rank, Alpha, Dropout, Targets, Seed}) freezes
// the base; EnableLoRA(false) computes the base; lr.Merge/Unmerge (training
// params), lr.MergeWeights/UnmergeWeights (*model.Weights); SaveLoRA /
// LoadLoRA in llama.cpp's GGUF adapter convention.
//
// Optimisation: m.Trainable() → ParamSet; AdamW{LR, Beta1, Beta2, Eps,
// WeightDecay}.Step; ClipGradNorm; Schedule{Warmup, Total, MinLR}.LR(step);
// Trainer (accumulation, clipping, schedule, seeds) with SaveCheckpoint /
// LoadCheckpoint for exact resume. SaveGGUF(m, path, ggml.F32|F16|Q8_0).
package train
