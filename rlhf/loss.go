package rlhf

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/stat"
)

// The losses below are pure functions of sequence log-probabilities (sums
// over the completion tokens). Each returns the mean loss over the batch,
// the gradient of that mean loss with respect to every policy
// log-probability it was given, and metrics named as TRL names them, so a
// run here compares with a TRL run on the same data.

// Metrics are named scalars of one step or one evaluation.
type Metrics map[string]float64

// logSigmoid is log σ(x) computed without overflow.
func logSigmoid(x float64) float64 {
	if x >= 0 {
		return -math.Log1p(math.Exp(-x))
	}
	return x - math.Log1p(math.Exp(x))
}

// sigmoid is σ(x) computed without overflow.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// DPOConfig holds DPO's hyper-parameters.
type DPOConfig struct {
	Beta           float64 `json:"beta"`            // β: strength of the implicit KL constraint (TRL default 0.1)
	LabelSmoothing float64 `json:"label_smoothing"` // ε in [0, 0.5): conservative DPO / robust to label noise
	// RPOAlpha weighs a negative log-likelihood term on the chosen
	// completions (TRL's rpo_alpha; 0 = off): mean NLL per chosen token.
	// Plain DPO lowers the likelihood of chosen replies along with the
	// rejected ones; this keeps the approved replies likely, so the policy
	// moves toward them rather than just away from the rest.
	RPOAlpha float64 `json:"rpo_alpha"`
}

// DPOBatch is a batch of preference pairs: policy and reference sequence
// log-probabilities of the chosen and rejected completions.
type DPOBatch struct {
	PolicyChosen, PolicyRejected []float64
	RefChosen, RefRejected       []float64
	// ChosenTokens are the chosen completions' lengths (needed only
	// with RPOAlpha).
	ChosenTokens []int
}

// DPOResult is DPO's loss with its gradients with respect to the policy
// log-probabilities of each chosen and rejected completion.
type DPOResult struct {
	Loss                     float64
	GradChosen, GradRejected []float64
	Metrics                  Metrics
}

// DPOLoss is TRL's "sigmoid" DPO loss with label smoothing:
//
//	m = (π_c − ref_c) − (π_r − ref_r)
//	L = −(1−ε)·log σ(β·m) − ε·log σ(−β·m)
//
// averaged over the batch.
func DPOLoss(cfg DPOConfig, b DPOBatch) (DPOResult, error) {
	n := len(b.PolicyChosen)
	if n == 0 || len(b.PolicyRejected) != n || len(b.RefChosen) != n || len(b.RefRejected) != n {
		return DPOResult{}, fmt.Errorf("dpo: batch lengths %d/%d/%d/%d must be equal and non-zero",
			len(b.PolicyChosen), len(b.PolicyRejected), len(b.RefChosen), len(b.RefRejected))
	}
	if cfg.Beta <= 0 {
		return DPOResult{}, fmt.Errorf("dpo: beta %g must be positive", cfg.Beta)
	}
	if cfg.LabelSmoothing < 0 || cfg.LabelSmoothing >= 0.5 {
		return DPOResult{}, fmt.Errorf("dpo: label smoothing %g must be in [0, 0.5)", cfg.LabelSmoothing)
	}
	beta, eps := cfg.Beta, cfg.LabelSmoothing
	r := DPOResult{GradChosen: make([]float64, n), GradRejected: make([]float64, n)}
	chosenR := make([]float64, n)
	rejectedR := make([]float64, n)
	margins := make([]float64, n)
	acc := 0.0
	for i := 0; i < n; i++ {
		cr := b.PolicyChosen[i] - b.RefChosen[i]
		rr := b.PolicyRejected[i] - b.RefRejected[i]
		m := cr - rr
		r.Loss += -(1-eps)*logSigmoid(beta*m) - eps*logSigmoid(-beta*m)
		// dL/dm = −(1−ε)·β·σ(−βm) + ε·β·σ(βm)
		g := (-(1-eps)*beta*sigmoid(-beta*m) + eps*beta*sigmoid(beta*m)) / float64(n)
		r.GradChosen[i] = g
		r.GradRejected[i] = -g
		chosenR[i], rejectedR[i] = beta*cr, beta*rr
		margins[i] = chosenR[i] - rejectedR[i]
		if chosenR[i] > rejectedR[i] {
			acc++
		}
	}
	r.Loss /= float64(n)
	var nll float64
	if a := cfg.RPOAlpha; a != 0 {
		if len(b.ChosenTokens) != n {
			return DPOResult{}, fmt.Errorf("dpo: rpo_alpha needs the %d chosen lengths, got %d", n, len(b.ChosenTokens))
		}
		tokens := 0
		for _, t := range b.ChosenTokens {
			tokens += t
		}
		if tokens == 0 {
			return DPOResult{}, fmt.Errorf("dpo: rpo_alpha: the chosen completions are empty")
		}
		for i := 0; i < n; i++ {
			nll -= b.PolicyChosen[i]
			r.GradChosen[i] -= a / float64(tokens)
		}
		nll /= float64(tokens)
		r.Loss += a * nll
	}
	r.Metrics = Metrics{
		"loss":               r.Loss,
		"rewards/chosen":     stat.Mean(chosenR, nil),
		"rewards/rejected":   stat.Mean(rejectedR, nil),
		"rewards/margins":    stat.Mean(margins, nil),
		"rewards/accuracies": acc / float64(n),
		"logps/chosen":       stat.Mean(b.PolicyChosen, nil),
		"logps/rejected":     stat.Mean(b.PolicyRejected, nil),
	}
	if cfg.RPOAlpha != 0 {
		r.Metrics["nll_loss"] = nll
	}
	return r, nil
}

// KTOConfig holds KTO's hyper-parameters.
type KTOConfig struct {
	Beta              float64 `json:"beta"`               // β (TRL default 0.1)
	DesirableWeight   float64 `json:"desirable_weight"`   // λ_D; 0 = balance from the counts (KTOWeights)
	UndesirableWeight float64 `json:"undesirable_weight"` // λ_U; 0 = balance from the counts (KTOWeights)
	// WeightedEpochs counts Optim.Epochs in weighted passes: TrainKTO
	// runs Epochs / max(λ_D, λ_U) passes (rounded up, at least one), so
	// that no example's weight times its passes is more than Epochs
	// (KTOEpochs). Off, every example is seen Epochs times whatever its
	// weight.
	WeightedEpochs bool `json:"weighted_epochs,omitempty"`
}

// KTOEpochs returns the passes over the data that give no example more
// than epochs weighted passes when the larger of its weights is
// max(lambdaD, lambdaU): epochs / max, rounded up, at least one. With
// balanced weights the rarer label's examples weigh most — a rater who
// approves one reply in eight gives each approval λ_D ≈ 4 — and at the
// full count of passes the update learns those few replies by heart.
func KTOEpochs(epochs int, lambdaD, lambdaU float64) int {
	w := math.Max(lambdaD, lambdaU)
	if epochs <= 0 || w <= 1 {
		return epochs
	}
	return max(1, int(math.Ceil(float64(epochs)/w-1e-9)))
}

// KTOWeights returns λ_D and λ_U for nD desirable and nU undesirable
// examples so that λ_D·n_D / (λ_U·n_U) lies in [1, 4/3], the range the KTO
// paper (Ethayarajh et al. 2024, §4.2) recommends, moving the ratio as
// little as possible and scaling both so that the mean weight per example
// is 1 (the loss keeps its scale whatever the balance).
func KTOWeights(nD, nU int) (lambdaD, lambdaU float64) {
	if nD <= 0 || nU <= 0 {
		return 1, 1
	}
	r := float64(nD) / float64(nU)
	lambdaD, lambdaU = 1, 1
	switch {
	case r < 1:
		lambdaD = 1 / r // ratio exactly 1
	case r > 4.0/3:
		lambdaU = r * 3 / 4 // ratio exactly 4/3
	}
	mean := (lambdaD*float64(nD) + lambdaU*float64(nU)) / float64(nD+nU)
	return lambdaD / mean, lambdaU / mean
}

// KTOBatch is a batch of unpaired examples. Desirable[i] says whether
// example i was rated up. KLPolicy/KLRef are the log-probabilities of
// mismatched (prompt, completion) pairs — completion j under prompt i≠j —
// from which the reference point z0 is estimated.
type KTOBatch struct {
	Policy, Ref     []float64
	Desirable       []bool
	KLPolicy, KLRef []float64
}

// KTOResult is KTO's loss with its gradient with respect to each policy
// log-probability (KL terms are detached, as in TRL, so they get none).
type KTOResult struct {
	Loss    float64
	Grad    []float64
	KL      float64 // z0
	Metrics Metrics
}

// KTOLoss is TRL's KTO loss ("kto" loss type):
//
//	z0 = max(0, mean(KLPolicy − KLRef))     (detached)
//	desirable:   λ_D·(1 − σ(β·(logratio − z0)))
//	undesirable: λ_U·(1 − σ(β·(z0 − logratio)))
//
// averaged over the batch, with logratio = policy − ref.
func KTOLoss(cfg KTOConfig, b KTOBatch) (KTOResult, error) {
	n := len(b.Policy)
	if n == 0 || len(b.Ref) != n || len(b.Desirable) != n {
		return KTOResult{}, fmt.Errorf("kto: batch lengths %d/%d/%d must be equal and non-zero", n, len(b.Ref), len(b.Desirable))
	}
	if len(b.KLPolicy) != len(b.KLRef) {
		return KTOResult{}, fmt.Errorf("kto: KL batch lengths %d/%d differ", len(b.KLPolicy), len(b.KLRef))
	}
	if cfg.Beta <= 0 {
		return KTOResult{}, fmt.Errorf("kto: beta %g must be positive", cfg.Beta)
	}
	nD := 0
	for _, d := range b.Desirable {
		if d {
			nD++
		}
	}
	lD, lU := cfg.DesirableWeight, cfg.UndesirableWeight
	if lD == 0 || lU == 0 {
		bd, bu := KTOWeights(nD, n-nD)
		if lD == 0 {
			lD = bd
		}
		if lU == 0 {
			lU = bu
		}
	}
	z0 := 0.0
	if len(b.KLPolicy) > 0 {
		d := make([]float64, len(b.KLPolicy))
		floats.SubTo(d, b.KLPolicy, b.KLRef)
		z0 = math.Max(0, stat.Mean(d, nil))
	}
	beta := cfg.Beta
	r := KTOResult{Grad: make([]float64, n), KL: z0}
	var chosenR, rejectedR, chosenLP, rejectedLP []float64
	for i := 0; i < n; i++ {
		lr := b.Policy[i] - b.Ref[i]
		if b.Desirable[i] {
			s := sigmoid(beta * (lr - z0))
			r.Loss += lD * (1 - s)
			r.Grad[i] = -lD * beta * s * (1 - s) / float64(n)
			chosenR = append(chosenR, beta*lr)
			chosenLP = append(chosenLP, b.Policy[i])
		} else {
			s := sigmoid(beta * (z0 - lr))
			r.Loss += lU * (1 - s)
			r.Grad[i] = lU * beta * s * (1 - s) / float64(n)
			rejectedR = append(rejectedR, beta*lr)
			rejectedLP = append(rejectedLP, b.Policy[i])
		}
	}
	r.Loss /= float64(n)
	r.Metrics = Metrics{"loss": r.Loss, "kl": z0, "desirable_weight": lD, "undesirable_weight": lU}
	if len(chosenR) > 0 {
		r.Metrics["rewards/chosen"] = stat.Mean(chosenR, nil)
		r.Metrics["logps/chosen"] = stat.Mean(chosenLP, nil)
	}
	if len(rejectedR) > 0 {
		r.Metrics["rewards/rejected"] = stat.Mean(rejectedR, nil)
		r.Metrics["logps/rejected"] = stat.Mean(rejectedLP, nil)
	}
	if len(chosenR) > 0 && len(rejectedR) > 0 {
		r.Metrics["rewards/margins"] = r.Metrics["rewards/chosen"] - r.Metrics["rewards/rejected"]
	}
	return r, nil
}

// RLOOConfig holds RLOO's hyper-parameters.
type RLOOConfig struct {
	K                   int     `json:"rloo_k"`               // samples per prompt (≥ 2)
	Beta                float64 `json:"beta"`                 // KL penalty coefficient (TRL default 0.05)
	NormalizeAdvantages bool    `json:"normalize_advantages"` // whiten advantages over the batch
	// RewardProb scores each sample by σ(score), the reward model's
	// probability that the rater approves it, rather than by the raw
	// score as TRL does. A reward model trained on thumbs is a logistic
	// model of approval; on a rater's clear-cut judgements its raw scores
	// reach ±8 (the default model, period rater), next to which β·KL — a
	// fraction of a nat a reply — does nothing. On the probability scale
	// the KL penalty counts.
	RewardProb bool `json:"reward_prob"`
}

// RLOOBatch holds, for P prompts with K samples each (sample j of prompt i
// at index i*K+j), the policy and reference sequence log-probabilities of
// the samples and their reward-model scores.
type RLOOBatch struct {
	Policy, Ref, Scores []float64
}

// RLOOResult is the REINFORCE-leave-one-out loss with its gradient with
// respect to each sample's policy log-probability.
type RLOOResult struct {
	Loss       float64
	Grad       []float64
	Advantages []float64
	Metrics    Metrics
}

// RLOOLoss is TRL's RLOO objective on sequence log-probabilities:
//
//	kl_i     = π_i − ref_i                       (sampled estimate of the sequence KL)
//	reward_i = score_i − β·kl_i                  (detached; σ(score_i) with RewardProb)
//	baseline_i = mean of the other K−1 rewards of the same prompt
//	L = −mean((reward_i − baseline_i) · π_i)
func RLOOLoss(cfg RLOOConfig, b RLOOBatch) (RLOOResult, error) {
	n := len(b.Policy)
	if cfg.K < 2 {
		return RLOOResult{}, fmt.Errorf("rloo: k %d must be at least 2", cfg.K)
	}
	if n == 0 || n%cfg.K != 0 || len(b.Ref) != n || len(b.Scores) != n {
		return RLOOResult{}, fmt.Errorf("rloo: batch lengths %d/%d/%d must be equal, non-zero and a multiple of k=%d", n, len(b.Ref), len(b.Scores), cfg.K)
	}
	if cfg.Beta < 0 {
		return RLOOResult{}, fmt.Errorf("rloo: beta %g must not be negative", cfg.Beta)
	}
	k := cfg.K
	kl := make([]float64, n)
	floats.SubTo(kl, b.Policy, b.Ref)
	reward := make([]float64, n)
	for i := range reward {
		sc := b.Scores[i]
		if cfg.RewardProb {
			sc = sigmoid(sc)
		}
		reward[i] = sc - cfg.Beta*kl[i]
	}
	adv := make([]float64, n)
	for p := 0; p < n; p += k {
		sum := floats.Sum(reward[p : p+k])
		for j := p; j < p+k; j++ {
			adv[j] = reward[j] - (sum-reward[j])/float64(k-1)
		}
	}
	if cfg.NormalizeAdvantages && n > 1 {
		mean, std := stat.MeanStdDev(adv, nil)
		for i := range adv {
			adv[i] = (adv[i] - mean) / (std + 1e-8)
		}
	}
	r := RLOOResult{Grad: make([]float64, n), Advantages: adv}
	for i := range adv {
		r.Loss += -adv[i] * b.Policy[i]
		r.Grad[i] = -adv[i] / float64(n)
	}
	r.Loss /= float64(n)
	r.Metrics = Metrics{
		"loss":                       r.Loss,
		"objective/kl":               stat.Mean(kl, nil),
		"objective/entropy":          -stat.Mean(b.Policy, nil),
		"objective/non_score_reward": -cfg.Beta * stat.Mean(kl, nil),
		"objective/rlhf_reward":      stat.Mean(reward, nil),
		"objective/scores":           stat.Mean(b.Scores, nil),
	}
	return r, nil
}

// BradleyTerryLoss is the reward model's pairwise loss −log σ(r_c − r_r),
// averaged, with gradients with respect to each score. Metrics: accuracy
// (r_c > r_r) and the mean margin.
func BradleyTerryLoss(chosen, rejected []float64) (loss float64, gChosen, gRejected []float64, m Metrics, err error) {
	n := len(chosen)
	if n == 0 || len(rejected) != n {
		return 0, nil, nil, nil, fmt.Errorf("bradley-terry: batch lengths %d/%d must be equal and non-zero", n, len(rejected))
	}
	gChosen, gRejected = make([]float64, n), make([]float64, n)
	acc, margin := 0.0, 0.0
	for i := 0; i < n; i++ {
		d := chosen[i] - rejected[i]
		loss -= logSigmoid(d)
		g := -sigmoid(-d) / float64(n)
		gChosen[i], gRejected[i] = g, -g
		if d > 0 {
			acc++
		}
		margin += d
	}
	loss /= float64(n)
	return loss, gChosen, gRejected, Metrics{"loss": loss, "accuracy": acc / float64(n), "margin": margin / float64(n)}, nil
}

// LogisticLoss is the reward model's loss on thumbs: binary cross-entropy
// of σ(score) against the label (up = 1), averaged, with its gradient.
func LogisticLoss(scores []float64, up []bool) (loss float64, grad []float64, m Metrics, err error) {
	return weightedLogisticLoss(scores, up, 1, 1)
}

// ThumbWeights returns the weights that give nUp approvals and nDown
// rejections equal shares of the logistic loss, n/(2·n_label) each, so
// that the mean weight per example is 1; 1 and 1 when a label is missing.
func ThumbWeights(nUp, nDown int) (wUp, wDown float64) {
	if nUp <= 0 || nDown <= 0 {
		return 1, 1
	}
	n := float64(nUp + nDown)
	return n / (2 * float64(nUp)), n / (2 * float64(nDown))
}

// weightedLogisticLoss is LogisticLoss with each approval's term weighted
// wUp and each rejection's wDown (the mean is still over the batch).
func weightedLogisticLoss(scores []float64, up []bool, wUp, wDown float64) (loss float64, grad []float64, m Metrics, err error) {
	n := len(scores)
	if n == 0 || len(up) != n {
		return 0, nil, nil, fmt.Errorf("logistic: batch lengths %d/%d must be equal and non-zero", n, len(up))
	}
	grad = make([]float64, n)
	acc := 0.0
	for i, s := range scores {
		y, w := 0.0, wDown
		if up[i] {
			y, w = 1, wUp
		}
		loss -= w * (y*logSigmoid(s) + (1-y)*logSigmoid(-s))
		grad[i] = w * (sigmoid(s) - y) / float64(n)
		if (s > 0) == up[i] {
			acc++
		}
	}
	loss /= float64(n)
	return loss, grad, Metrics{"loss": loss, "accuracy": acc / float64(n)}, nil
}

// ECE is the expected calibration error of probabilities p against binary
// outcomes y over nBins equal-width bins: Σ_b (n_b/n)·|acc_b − conf_b|.
func ECE(p []float64, y []bool, nBins int) float64 {
	if len(p) == 0 || nBins <= 0 {
		return 0
	}
	cnt := make([]float64, nBins)
	conf := make([]float64, nBins)
	acc := make([]float64, nBins)
	for i, pi := range p {
		b := int(pi * float64(nBins))
		if b >= nBins {
			b = nBins - 1
		}
		if b < 0 {
			b = 0
		}
		cnt[b]++
		conf[b] += pi
		if y[i] {
			acc[b]++
		}
	}
	e := 0.0
	for b := range cnt {
		if cnt[b] > 0 {
			e += cnt[b] / float64(len(p)) * math.Abs(acc[b]/cnt[b]-conf[b]/cnt[b])
		}
	}
	return e
}
