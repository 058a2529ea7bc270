// Package rlhf turns ratings into a better policy: datasets from the
// feedback store, the reward model, KTO/DPO/RLOO policy updates on LoRA
// adapters, evaluation gates, the train job (lock, watermark, checkpoints,
// promotion) and the lab that closes the loop with a simulated annotator.
//
// # API summary
//
// Losses (pure functions of sequence log-probabilities, gradients
// included, metrics named as TRL names them):
//
//	DPOLoss(DPOConfig{Beta, LabelSmoothing}, DPOBatch{PolicyChosen, PolicyRejected, RefChosen, RefRejected})
//	KTOLoss(KTOConfig{Beta, DesirableWeight, UndesirableWeight}, KTOBatch{Policy, Ref, Desirable, KLPolicy, KLRef})
//	KTOWeights(nD, nU)      // λ_D, λ_U with λ_D·n_D/(λ_U·n_U) in [1, 4/3], mean weight 1
//	RLOOLoss(RLOOConfig{K, Beta, NormalizeAdvantages, RewardProb}, RLOOBatch{Policy, Ref, Scores})
//	BradleyTerryLoss(chosen, rejected), LogisticLoss(scores, up), ECE(p, y, bins)
//
// Training on the training core (package model/train): the policy is a
// *train.Model with a LoRA adapter over a Share of the reference's frozen
// weights (NewPolicy; LoRA rank 0: a full copy), the reference the base
// itself. Sequences run as B×T batches (prompt + completion, only the
// completion counted) — a DPO step's chosen and rejected completions in one
// batch, an RLOO step's K samples of every prompt in one — cut into chunks
// that bound activation memory, with losses that couple sequences computed
// between one forward and the backward. Sampling (lab replies, RLOO
// rollouts, the gates' held-out replies) goes through the engine
// (train's Inference: package model's KV-cache sessions and seeded
// sampler), replies to one prompt sharing its prefill, prompts spread
// over the cores:
//
//	TrainKTO(ctx, policy, ref, []Unpaired, KTOConfig, Optim)
//	TrainDPO(ctx, policy, ref, []Pair, DPOConfig, Optim)
//	TrainRLOO(ctx, policy, ref, *RewardModel, prompts, RLOOOptions, Optim)
//	TrainRewardModel(ctx, base, RewardData{Pairs, Thumbs}, RewardConfig, Optim) → *RewardModel
//	rm.Scores(ctx, seqs); rm.Evaluate(ctx, heldOut) → RewardEval{PairAccuracy, Margin, AUC, ECE}
//	EvaluateGates(ctx, cand, ref, GateInput, GateConfig) → *Evaluation{Gates, Failed()}
//	Sampler{Temperature, TopK, MaxTokens, Stop, KeepStop}.SampleMany(ctx, engine, prompts, seed)
//
// The reward model is a Share of the policy's backbone with its own LoRA
// adapter and a scalar head on LastHidden (the final hidden state of the
// last token), trained through Cotangent.Hidden; SaveRewardModel writes
// the adapter plus rm.head.weight/rm.head.bias (train.SaveLoRAWith).
//
// Optim carries the schedule, seeds, per-step hooks and checkpoints
// (Resume/Checkpoint/CheckpointEvery with TrainState), the budget guard
// (Guard/GuardEvery/GuardRetries: a failed check rolls back to the last
// passing one, then training goes on at half the step size or, with no
// retries left, stops) and the anchor
// (Anchor/AnchorCoef/AnchorMinProb: the per-position KL(policy ‖ ref) on
// the reference's own replies, added to every step through
// train.Cotangent.TokenKL). The lab's ShrinkTo moves a finished update
// back along the straight line from the policy before it (W₀ + α·ΔW)
// until its LM loss on the budget's text is within the target, and
// StretchTo carries one that ended within it on along that line (α > 1,
// ExPO's extrapolation) to the target: on chat models KTO and DPO run to
// their end and shrink (DPO stretches when it ends inside); RLOO stops
// early at its budget and stretches. LabConfig.Cuts (and JobConfig.Cuts)
// add to DPO's pairs each rated reply against its sentence cuts that the
// reward model tells apart from it (cutPairs): step-level pairs on where
// a reply should stop.
//
// Annotators (design.md protocol): StartAnnotator(cmd, timeout) →
// *Annotator with Annotate(ctx, []AnnotationRequest) ([]Judgement, error)
// and Close. Rule annotators for tests live in testdata/ (approve-word.sh,
// approve-short.sh, approve-period.sh: POSIX sh + awk).
//
// The job: RunJob(ctx, JobConfig) → *JobResult; errors *LockedError
// (errors.Is ErrLocked: exit 4) and *NothingError (errors.Is
// ErrNothingToDo: exit 3). AcquireLock/LockPath is the flock it takes.
// What a JobConfig leaves zero (optimiser, adapter, the algorithms'
// settings, anchor, budget and its retries, shrink and stretch, reply
// length) follows the reference's kind: a chat model trains with the
// lab's chat settings, the anchor on its own stored replies, and the
// budget, shrink and stretch measured on the replies to set-aside
// training prompts, scaled to the LM-loss gate; a base model with smaller
// steps and none of these. A resumed run keeps the adapter and the settings its
// checkpoint records; the policy's metrics record them too ("settings").
// WriteReport/WriteCharts/SparkSummary write and print run reports.
//
// The lab: RunLab(ctx, base, tokenizer, rater, LabConfig) → *LabResult
// (DefaultLabConfig(algo), BuiltinPrompts(); ChatLabConfig(algo),
// BuiltinChatPrompts(n) for chat models: 240 prompts, a fifth of them
// held out, 200 more held out for the evaluation alone, EvalPrompts, and
// 160 more for the budget's validation text alone, ValPrompts).
// Its figures carry their standard errors over the held-out prompts, and
// with the built-in chat prompts the approval within each kind (ByKind).
//
// Models: LoadModel(path, tokenizer) → *Loaded{Engine, Train} reads any
// model the engine loads into a frozen float32 training model;
// (*Loaded).SaveGGUF writes a policy, SaveAdapter its adapter.
package rlhf
