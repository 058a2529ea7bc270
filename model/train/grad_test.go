package train

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hone-ai/hone/model"
)

func randVec(r *rand.Rand, n int, std float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * std)
	}
	return x
}

// closeGrad compares an analytic float32 gradient with a float64 numeric
// one: relative error of the whole vector, and each element within
// atol·max|num| + rtol·|num|.
func closeGrad(t *testing.T, name string, got []float32, want []float64) {
	t.Helper()
	var diff, norm, mx float64
	for i := range want {
		d := float64(got[i]) - want[i]
		diff += d * d
		norm += want[i] * want[i]
		mx = math.Max(mx, math.Abs(want[i]))
	}
	if norm == 0 {
		for i, g := range got {
			if g != 0 {
				t.Errorf("%s: gradient %d = %g, want 0", name, i, g)
				return
			}
		}
		return
	}
	if rel := math.Sqrt(diff / norm); rel > 2e-3 {
		t.Errorf("%s: relative error %.3g of the gradient (norm %.3g)", name, rel, math.Sqrt(norm))
	}
	bad := 0
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 2e-3*mx+1e-2*math.Abs(want[i]) {
			if bad < 3 {
				t.Errorf("%s[%d]: analytic %.6g, numeric %.6g", name, i, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d elements off", name, bad, len(want))
	}
}

// numGrad is the central difference of f at x (modified in place and
// restored), in float64.
func numGrad(x []float64, f func() float64) []float64 {
	const h = 1e-6
	g := make([]float64, len(x))
	for i := range x {
		v := x[i]
		x[i] = v + h
		fp := f()
		x[i] = v - h
		fm := f()
		x[i] = v
		g[i] = (fp - fm) / (2 * h)
	}
	return g
}

type opCase struct {
	name string
	in   [][]float32
	f64  func(in [][]float64) []float64
	f32  func(in [][]float32) []float32
	b32  func(in [][]float32, dy []float32) [][]float32 // gradients wrt each input
}

func TestOpGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n, d, V = 6, 8, 7
	tok := []int{3, 0, 6, 3, 2, 3}
	targets := []int{2, -1, 6, 0, 0, 5}
	B, T, nh, nkv, hd := 2, 3, 4, 2, 4
	qd, kvd := nh*hd, nkv*hd
	refLogits := randVec(r, n*V, 1.5)
	cases := []opCase{
		{
			name: "embedding",
			in:   [][]float32{randVec(r, V*d, 1)},
			f64: func(in [][]float64) []float64 {
				y := make([]float64, n*d)
				for i, t := range tok {
					copy(y[i*d:(i+1)*d], in[0][t*d:(t+1)*d])
				}
				return y
			},
			f32: func(in [][]float32) []float32 { y := make([]float32, n*d); embedForward(y, in[0], tok, d); return y },
			b32: func(in [][]float32, dy []float32) [][]float32 {
				g := make([]float32, V*d)
				embedBackward(g, dy, tok, d)
				return [][]float32{g}
			},
		},
		{
			name: "rmsnorm",
			in:   [][]float32{randVec(r, n*d, 1), randVec(r, d, 1)},
			f64:  func(in [][]float64) []float64 { return rmsnorm64(in[0], in[1], n, d, 1e-5) },
			f32: func(in [][]float32) []float32 {
				y := make([]float32, n*d)
				rmsnormForward(y, make([]float32, n), in[0], in[1], n, d, 1e-5)
				return y
			},
			b32: func(in [][]float32, dy []float32) [][]float32 {
				inv := make([]float32, n)
				rmsnormForward(make([]float32, n*d), inv, in[0], in[1], n, d, 1e-5)
				dx, dw := make([]float32, n*d), make([]float32, d)
				rmsnormBackward(dx, dw, dy, in[0], in[1], inv, n, d)
				return [][]float32{dx, dw}
			},
		},
		{
			name: "rope",
			in:   [][]float32{randVec(r, B*T*qd, 1)},
			f64:  func(in [][]float64) []float64 { return rope64(in[0], B*T, qd, hd, hd, T, 10000) },
			f32: func(in [][]float32) []float32 {
				y := append([]float32(nil), in[0]...)
				ropeForward(y, newRopeTable(T, hd, 10000), B*T, qd, hd)
				return y
			},
			b32: func(in [][]float32, dy []float32) [][]float32 {
				g := append([]float32(nil), dy...)
				ropeBackward(g, newRopeTable(T, hd, 10000), B*T, qd, hd)
				return [][]float32{g}
			},
		},
		{
			name: "attention-gqa",
			in:   [][]float32{randVec(r, B*T*qd, 1), randVec(r, B*T*kvd, 1), randVec(r, B*T*kvd, 1)},
			f64:  func(in [][]float64) []float64 { return attention64(in[0], in[1], in[2], B, T, nh, nkv, hd) },
			f32: func(in [][]float32) []float32 {
				y := make([]float32, B*T*qd)
				attentionForward(y, make([]float32, B*nh*T*T), in[0], in[1], in[2], attnShape{B, T, nh, nkv, hd})
				return y
			},
			b32: func(in [][]float32, dy []float32) [][]float32 {
				s := attnShape{B, T, nh, nkv, hd}
				att := make([]float32, B*nh*T*T)
				attentionForward(make([]float32, B*T*qd), att, in[0], in[1], in[2], s)
				dq, dk, dv := make([]float32, B*T*qd), make([]float32, B*T*kvd), make([]float32, B*T*kvd)
				attentionBackward(dq, dk, dv, dy, att, in[0], in[1], in[2], s)
				return [][]float32{dq, dk, dv}
			},
		},
		{
			name: "swiglu",
			in:   [][]float32{randVec(r, n*d, 2), randVec(r, n*d, 1)},
			f64:  func(in [][]float64) []float64 { return swiglu64(in[0], in[1]) },
			f32:  func(in [][]float32) []float32 { y := make([]float32, n*d); swigluForward(y, in[0], in[1]); return y },
			b32: func(in [][]float32, dy []float32) [][]float32 {
				dg, du := make([]float32, n*d), make([]float32, n*d)
				swigluBackward(dg, du, dy, in[0], in[1])
				return [][]float32{dg, du}
			},
		},
		linearCase(r, "linear-tall", 9, 5, 3),
		linearCase(r, "linear-wide", 2, 5, 11),
		{
			name: "cross-entropy",
			in:   [][]float32{randVec(r, n*V, 2)},
			f64: func(in [][]float64) []float64 {
				lp := logSoftmax64(in[0], n, V)
				y := make([]float64, n)
				for i, t := range targets {
					if t >= 0 {
						y[i] = lp[i*V+t]
					}
				}
				return y
			},
			f32: func(in [][]float32) []float32 {
				y := make([]float32, n)
				softmaxRows(make([]float32, n), y, append([]float32(nil), in[0]...), targets, n, V)
				return y
			},
			b32: func(in [][]float32, dy []float32) [][]float32 {
				g := append([]float32(nil), in[0]...)
				softmaxRows(make([]float32, n), make([]float32, n), g, targets, n, V)
				w := append([]float32(nil), dy...)
				for i, t := range targets {
					if t < 0 {
						w[i] = 0
					}
				}
				softmaxBackward(g, w, targets, nil, nil, n, V)
				return [][]float32{g}
			},
		},
		{
			name: "kl",
			in:   [][]float32{randVec(r, n*V, 2)},
			f64: func(in [][]float64) []float64 {
				lp, rp := logSoftmax64(in[0], n, V), logSoftmax64(to64(refLogits), n, V)
				y := make([]float64, n)
				for i := 0; i < n; i++ {
					for j := 0; j < V; j++ {
						y[i] += math.Exp(lp[i*V+j]) * (lp[i*V+j] - rp[i*V+j])
					}
				}
				return y
			},
			f32: func(in [][]float32) []float32 {
				p, q := append([]float32(nil), in[0]...), append([]float32(nil), refLogits...)
				softmaxRows(make([]float32, n), make([]float32, n), p, targets, n, V)
				softmaxRows(make([]float32, n), make([]float32, n), q, targets, n, V)
				y := make([]float32, n)
				for i := 0; i < n; i++ {
					var kl float64
					for j := 0; j < V; j++ {
						kl += float64(p[i*V+j]) * float64(safeLog(p[i*V+j])-safeLog(q[i*V+j]))
					}
					y[i] = float32(kl)
				}
				return y
			},
			b32: func(in [][]float32, dy []float32) [][]float32 {
				p, q := append([]float32(nil), in[0]...), append([]float32(nil), refLogits...)
				softmaxRows(make([]float32, n), make([]float32, n), p, targets, n, V)
				softmaxRows(make([]float32, n), make([]float32, n), q, targets, n, V)
				none := []int{-1, -1, -1, -1, -1, -1}
				softmaxBackward(p, make([]float32, n), none, dy, q, n, V)
				return [][]float32{p}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in64 := make([][]float64, len(c.in))
			for i, x := range c.in {
				in64[i] = to64(x)
			}
			y32, y64 := c.f32(c.in), c.f64(in64)
			closeGrad(t, "forward", y32, y64)
			dy := randVec(r, len(y64), 1)
			dy64 := to64(dy)
			got := c.b32(c.in, dy)
			for k := range in64 {
				num := numGrad(in64[k], func() float64 {
					var s float64
					for i, v := range c.f64(in64) {
						s += v * dy64[i]
					}
					return s
				})
				closeGrad(t, c.name+"/input"+itoa(k), got[k], num)
			}
		})
	}
}

func linearCase(r *rand.Rand, name string, n, in, o int) opCase {
	return opCase{
		name: name,
		in:   [][]float32{randVec(r, n*in, 1), randVec(r, o*in, 1)},
		f64:  func(x [][]float64) []float64 { return linear64(x[0], x[1], n, in, o) },
		f32: func(x [][]float32) []float32 {
			y := make([]float32, n*o)
			linearForward(y, x[0], x[1], n, in, o, false)
			return y
		},
		b32: func(x [][]float32, dy []float32) [][]float32 {
			dx, dw := make([]float32, n*in), make([]float32, o*in)
			linearBackwardInput(dx, dy, x[1], n, in, o, false)
			linearBackwardWeight(dw, dy, x[0], n, in, o)
			return [][]float32{dx, dw}
		},
	}
}

// smallConfig is the random whole-model shape of the gradient checks.
func smallConfig() model.Config {
	return model.Config{Arch: "llama", Dim: 16, HiddenDim: 24, NLayers: 2, NHeads: 4, NKVHeads: 2, HeadDim: 4,
		VocabSize: 11, ContextLen: 16, RopeBase: 10000, NormEps: 1e-5}
}

// randomize fills m's parameters with values large enough that every
// gradient matters: matrices N(0, 0.3²), norms 1 + N(0, 0.1²).
func randomize(m *Model, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 7))
	for _, s := range m.segs {
		x := m.data[s.Off : s.Off+s.Len]
		for i := range x {
			if s.Decay || s.Name == "token_embd.weight" {
				x[i] = float32(r.NormFloat64() * 0.4)
			} else {
				x[i] = float32(1 + r.NormFloat64()*0.1)
			}
		}
	}
}

// objective64 is the float64 value of the objective that cot describes.
func objective64(bt *Batch, logp, hidden, refLogp []float64, V, d int, cot Cotangent) float64 {
	var nll float64
	M := 0
	var J float64
	for i, t := range bt.Targets {
		if t < 0 {
			continue
		}
		lp := logp[i*V+t]
		nll -= lp
		M++
		if cot.TokenLogp != nil {
			J += float64(cot.TokenLogp[i]) * lp
		}
		if cot.SeqLogp != nil {
			J += float64(cot.SeqLogp[i/bt.T]) * lp
		}
		if cot.SeqKL != nil || cot.TokenKL != nil {
			var kl float64
			for v := 0; v < V; v++ {
				kl += math.Exp(logp[i*V+v]) * (logp[i*V+v] - refLogp[i*V+v])
			}
			if cot.SeqKL != nil {
				J += float64(cot.SeqKL[i/bt.T]) * kl
			}
			if cot.TokenKL != nil {
				J += float64(cot.TokenKL[i]) * kl
			}
		}
	}
	if M > 0 {
		J += float64(cot.Loss) * nll / float64(M)
	}
	if cot.Hidden != nil {
		for s := 0; s < bt.B; s++ {
			i := bt.last(s)
			for j := 0; j < d; j++ {
				J += float64(cot.Hidden[s*d+j]) * hidden[i*d+j]
			}
		}
	}
	return J
}

func testBatch() *Batch {
	// Two sequences of 5; the second has 4 real tokens and a masked prompt.
	return &Batch{B: 2, T: 5,
		Tokens:  []int{1, 4, 7, 2, 9, 1, 3, 3, 10, 0},
		Targets: []int{4, 7, 2, 9, 5, -1, -1, 10, 6, -1},
		Lens:    []int{5, 4}}
}

func testCotangent(r *rand.Rand, bt *Batch, d int, ref *Model) Cotangent {
	return Cotangent{Loss: 0.7,
		TokenLogp: randVec(r, bt.B*bt.T, 0.5),
		SeqLogp:   randVec(r, bt.B, 0.5),
		SeqKL:     randVec(r, bt.B, 0.5), TokenKL: randVec(r, bt.B*bt.T, 0.5), Ref: ref,
		Hidden: randVec(r, bt.B*d, 0.5)}
}

func TestModelGradientFull(t *testing.T) {
	for _, c := range []struct {
		name    string
		tied    bool
		ropeDim int
	}{{"tied", true, 0}, {"untied", false, 0}, {"partial-rope", false, 2}} {
		tied := c.tied
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := smallConfig()
			cfg.RopeDim = c.ropeDim
			m, err := New(cfg, tied)
			if err != nil {
				t.Fatal(err)
			}
			randomize(m, 3)
			refM := m.Clone()
			randomize(refM, 4)
			bt := testBatch()
			r := rand.New(rand.NewPCG(5, 6))
			cot := testCotangent(r, bt, cfg.Dim, refM)

			if _, err := refM.Forward(ctx, bt); err != nil {
				t.Fatal(err)
			}
			loss, err := m.Forward(ctx, bt)
			if err != nil {
				t.Fatal(err)
			}
			ref := &ref64{cfg: m.Config, tied: tied, p: to64(m.data)}
			refLp, _ := (&ref64{cfg: m.Config, tied: tied, p: to64(refM.data)}).forward(bt, nil)
			lp, hid := ref.forward(bt, nil)
			want := objective64(bt, lp, hid, refLp, cfg.VocabSize, cfg.Dim, Cotangent{Loss: 1})
			if math.Abs(float64(loss)-want) > 1e-5*math.Abs(want) {
				t.Errorf("forward loss %.7g, float64 reference %.7g", loss, want)
			}
			kl, err := m.SeqKL(refM)
			if err != nil {
				t.Fatal(err)
			}
			wantKL := objective64(bt, lp, hid, refLp, cfg.VocabSize, cfg.Dim, Cotangent{SeqKL: []float32{1, 0}})
			if math.Abs(float64(kl[0])-wantKL) > 1e-4*math.Abs(wantKL)+1e-6 {
				t.Errorf("SeqKL %.7g, float64 reference %.7g", kl[0], wantKL)
			}
			m.ZeroGrad()
			if err := m.Backward(ctx, cot); err != nil {
				t.Fatal(err)
			}
			num := numGrad(ref.p, func() float64 {
				lp, hid := ref.forward(bt, nil)
				return objective64(bt, lp, hid, refLp, cfg.VocabSize, cfg.Dim, cot)
			})
			for _, s := range m.segs {
				closeGrad(t, s.Name, m.grad[s.Off:s.Off+s.Len], num[s.Off:s.Off+s.Len])
			}
		})
	}
}

func TestModelGradientLoRA(t *testing.T) {
	ctx := context.Background()
	cfg := smallConfig()
	m, err := New(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	randomize(m, 8)
	refM := m.Share() // base without adapter: the usual RLHF reference
	for _, c := range []struct {
		targets []string
		dropout float32
	}{{nil, 0}, {[]string{"q", "v"}, 0}, {[]string{"o", "down", "gate"}, 0}, {nil, 0.3}} {
		lr, err := m.AttachLoRA(LoRAConfig{Rank: 3, Alpha: 5, Targets: c.targets, Dropout: c.dropout, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(10, 11))
		for i := range lr.data {
			lr.data[i] = float32(r.NormFloat64() * 0.3) // B nonzero so A's gradient is too
		}
		bt := testBatch()
		cot := testCotangent(r, bt, cfg.Dim, refM)
		if _, err := refM.Forward(ctx, bt); err != nil {
			t.Fatal(err)
		}
		m.SetTraining(c.dropout > 0)
		m.SetDropoutSeed(77)
		if _, err := m.Forward(ctx, bt); err != nil {
			t.Fatal(err)
		}
		m.ZeroGrad()
		if err := m.Backward(ctx, cot); err != nil {
			t.Fatal(err)
		}
		if m.grad != nil {
			t.Fatal("base gradients allocated with a LoRA attached")
		}
		base := &ref64{cfg: m.Config, p: to64(m.data)}
		refLp, _ := base.forward(bt, nil)
		lo := &loraRef64{scale: float64(lr.Scale), rank: 3, dropout: c.dropout, seed: 77, a: map[[2]int][]float64{}, b: map[[2]int][]float64{}}
		p := to64(lr.data)
		for l := range lr.Layers {
			for t, lt := range lr.Layers[l] {
				if lt != nil {
					oa := offsetOf(lr.data, lt.A)
					ob := offsetOf(lr.data, lt.B)
					lo.a[[2]int{l, t}] = p[oa : oa+len(lt.A)]
					lo.b[[2]int{l, t}] = p[ob : ob+len(lt.B)]
				}
			}
		}
		num := numGrad(p, func() float64 {
			lp, hid := base.forward(bt, lo)
			return objective64(bt, lp, hid, refLp, cfg.VocabSize, cfg.Dim, cot)
		})
		for _, s := range lr.segs {
			closeGrad(t, s.Name, lr.grad[s.Off:s.Off+s.Len], num[s.Off:s.Off+s.Len])
		}
	}
}

// offsetOf returns where sub starts inside buf (sub must be a subslice).
func offsetOf(buf, sub []float32) int {
	for i := range buf {
		if &buf[i] == &sub[0] {
			return i
		}
	}
	panic("not a subslice")
}
