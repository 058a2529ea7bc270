package train

import (
	"context"
	"errors"
)

// Windows cuts a token stream into consecutive windows of at most T+1
// tokens that overlap by one, so that every token after the first is
// predicted exactly once, each window from position 0.
func Windows(tokens []int, T int) [][]int {
	var out [][]int
	for i := 0; i+1 < len(tokens); i += T {
		out = append(out, tokens[i:min(i+T+1, len(tokens))])
	}
	return out
}

// EvalLM returns the mean negative log-likelihood (nats per token) of a
// token stream and the number of tokens scored, evaluating Windows(tokens,
// T) in batches of B. exp(nll) is the perplexity. It does not train.
func (m *Model) EvalLM(ctx context.Context, tokens []int, T, B int) (nll float64, n int, err error) {
	if T <= 0 || B <= 0 {
		return 0, 0, errors.New("train: eval: window and batch sizes must be positive")
	}
	ws := Windows(tokens, T)
	if len(ws) == 0 {
		return 0, 0, errors.New("train: eval: need at least two tokens")
	}
	training := m.training
	m.training = false
	defer func() { m.training = training }()
	var sum float64
	for i := 0; i < len(ws); i += B {
		chunk := ws[i:min(i+B, len(ws))]
		b, err := LMBatch(chunk, T)
		if err != nil {
			return 0, 0, err
		}
		loss, err := m.Forward(ctx, b)
		if err != nil {
			return 0, 0, err
		}
		k := 0
		for _, t := range b.Targets {
			if t >= 0 {
				k++
			}
		}
		sum += float64(loss) * float64(k)
		n += k
	}
	m.fwdOK = false
	return sum / float64(n), n, nil
}
