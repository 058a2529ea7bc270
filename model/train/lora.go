package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/kernels"
)

// LoRA targets, in the order of LoRAConfig.Targets names.
const (
	tQ = iota
	tK
	tV
	tO
	tGate
	tUp
	tDown
	nTargets
)

// TargetNames are the names LoRAConfig.Targets accepts.
var TargetNames = [nTargets]string{"q", "k", "v", "o", "gate", "up", "down"}

// ggufNames are the GGUF tensor names (blk.N.<name>.weight) per target.
var ggufNames = [nTargets]string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}

// LoRAConfig shapes an adapter: ΔW = (Alpha/Rank)·B·A on each target.
type LoRAConfig struct {
	Rank    int
	Alpha   float32  // 0 means Alpha = Rank (scale 1)
	Dropout float32  // on the adapter's input, while training
	Targets []string // subset of TargetNames; empty means all seven
	Seed    uint64   // initialisation of A
}

// LoRATensor is the adapter of one matrix W (Out×In): A is Rank×In, B is
// Out×Rank, row-major; GA and GB their gradients.
type LoRATensor struct {
	In, Out    int
	A, B       []float32
	GA, GB     []float32
	layer, tgt int
}

// LoRA is a set of low-rank adapters over a frozen base, all parameters in
// one flat buffer and all gradients in another.
type LoRA struct {
	Config LoRAConfig
	Scale  float32                 // Alpha/Rank
	Layers [][nTargets]*LoRATensor // nil where a target is not adapted
	data   []float32
	grad   []float32
	segs   []Segment
	shape  model.Config
}

// loraActs are the saved LoRA activations of one target.
type loraActs struct {
	xd []float32 // N×In input after dropout (nil: same as the input)
	xa []float32 // N×Rank = xd·Aᵀ
}

func targetDims(cfg model.Config, t int) (out, in int) {
	d, h := cfg.Dim, cfg.HiddenDim
	qd, kvd := cfg.NHeads*cfg.HeadDim, cfg.NKVHeads*cfg.HeadDim
	switch t {
	case tQ:
		return qd, d
	case tK, tV:
		return kvd, d
	case tO:
		return d, qd
	case tGate, tUp:
		return h, d
	default:
		return d, h
	}
}

// parseTargets maps names to target indices.
func parseTargets(names []string) ([nTargets]bool, error) {
	var on [nTargets]bool
	if len(names) == 0 {
		for i := range on {
			on[i] = true
		}
		return on, nil
	}
	for _, n := range names {
		i := slices.Index(TargetNames[:], strings.ToLower(strings.TrimSpace(n)))
		if i < 0 {
			return on, fmt.Errorf("train: lora target %q: want one of %s", n, strings.Join(TargetNames[:], ", "))
		}
		on[i] = true
	}
	return on, nil
}

// NewLoRA allocates an adapter for models of shape cfg: A drawn uniform in
// ±1/√In from lc.Seed (PEFT's default), B zero, so the adapter starts as
// the identity.
func NewLoRA(cfg model.Config, lc LoRAConfig) (*LoRA, error) {
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	if lc.Rank <= 0 {
		return nil, fmt.Errorf("train: lora rank %d must be positive", lc.Rank)
	}
	if lc.Dropout < 0 || lc.Dropout >= 1 {
		return nil, fmt.Errorf("train: lora dropout %g outside [0,1)", lc.Dropout)
	}
	if lc.Alpha == 0 {
		lc.Alpha = float32(lc.Rank)
	}
	on, err := parseTargets(lc.Targets)
	if err != nil {
		return nil, err
	}
	lr := &LoRA{Config: lc, Scale: lc.Alpha / float32(lc.Rank), shape: cfg}
	total := 0
	for l := 0; l < cfg.NLayers; l++ {
		for t := 0; t < nTargets; t++ {
			if !on[t] {
				continue
			}
			o, in := targetDims(cfg, t)
			name := fmt.Sprintf("blk.%d.%s.weight", l, ggufNames[t])
			lr.segs = append(lr.segs, Segment{Name: name + ".lora_a", Off: total, Len: lc.Rank * in, Decay: true})
			total += lc.Rank * in
			lr.segs = append(lr.segs, Segment{Name: name + ".lora_b", Off: total, Len: o * lc.Rank, Decay: true})
			total += o * lc.Rank
		}
	}
	lr.data, lr.grad = make([]float32, total), make([]float32, total)
	lr.Layers = make([][nTargets]*LoRATensor, cfg.NLayers)
	rng := rand.New(rand.NewPCG(lc.Seed, lc.Seed^0x6a09e667f3bcc909))
	si := 0
	for l := 0; l < cfg.NLayers; l++ {
		for t := 0; t < nTargets; t++ {
			if !on[t] {
				continue
			}
			o, in := targetDims(cfg, t)
			sa, sb := lr.segs[si], lr.segs[si+1]
			si += 2
			lt := &LoRATensor{In: in, Out: o, layer: l, tgt: t,
				A: lr.data[sa.Off : sa.Off+sa.Len], B: lr.data[sb.Off : sb.Off+sb.Len],
				GA: lr.grad[sa.Off : sa.Off+sa.Len], GB: lr.grad[sb.Off : sb.Off+sb.Len]}
			bound := 1 / math.Sqrt(float64(in))
			for i := range lt.A {
				lt.A[i] = float32((rng.Float64()*2 - 1) * bound)
			}
			lr.Layers[l][t] = lt
		}
	}
	return lr, nil
}

// Data is the adapter's flat parameter buffer; Segments names its tensors.
func (lr *LoRA) Data() []float32     { return lr.data }
func (lr *LoRA) Segments() []Segment { return lr.segs }

// AttachLoRA creates an adapter (NewLoRA) and attaches it; see SetLoRA.
func (m *Model) AttachLoRA(lc LoRAConfig) (*LoRA, error) {
	lr, err := NewLoRA(m.Config, lc)
	if err != nil {
		return nil, err
	}
	return lr, m.SetLoRA(lr)
}

// SetLoRA attaches an adapter and freezes the base: from then on Backward
// computes the adapter's gradients only, and the base gradient buffer is
// released. nil detaches (the base stays frozen; see SetTrainBase).
func (m *Model) SetLoRA(lr *LoRA) error {
	if lr != nil {
		c := lr.shape
		if c.Dim != m.Config.Dim || c.HiddenDim != m.Config.HiddenDim || c.NLayers != m.Config.NLayers ||
			c.NHeads != m.Config.NHeads || c.NKVHeads != m.Config.NKVHeads || c.HeadDim != m.Config.HeadDim {
			return errors.New("train: lora adapter was made for another model shape")
		}
	}
	m.lora, m.loraOff = lr, false
	if lr != nil {
		m.SetTrainBase(false)
	}
	m.fwdOK = false // the activations no longer match the adapter
	return nil
}

// SetTrainBase chooses whether Backward computes the base's gradients
// (allocating the buffer when turned on).
func (m *Model) SetTrainBase(on bool) {
	m.trainBase = on
	if on && m.grad == nil {
		m.grad = make([]float32, len(m.data))
		m.G = views(m.Config, m.Tied, m.grad)
	}
	if !on {
		m.grad, m.G = nil, Params{}
	}
}

// LoRA returns the attached adapter, or nil.
func (m *Model) LoRA() *LoRA { return m.lora }

// EnableLoRA turns the attached adapter on or off without detaching it;
// off, the model computes the frozen base (the usual RLHF reference).
func (m *Model) EnableLoRA(on bool) { m.loraOff = !on }

func (m *Model) loraActive() bool { return m.lora != nil && !m.loraOff }

func (m *Model) loraTensor(l, t int) *LoRATensor {
	if !m.loraActive() {
		return nil
	}
	return m.lora.Layers[l][t]
}

func (m *Model) loraShapeOK() bool {
	return m.a == nil || m.a.loraFor == m.lora
}

// dropKeep reports whether element i of target t in layer l survives
// dropout: a hash of (seed, l, t, i), so Backward recomputes the mask.
func dropKeep(seed uint64, l, t, i int, p float32) bool {
	x := seed ^ uint64(l)<<52 ^ uint64(t)<<44 ^ uint64(i)*0x9e3779b97f4a7c15
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float32(x>>40)/float32(1<<24) >= p
}

func (m *Model) dropoutOn() bool { return m.training && m.lora.Config.Dropout > 0 }

// loraForward adds Scale·dropout(x)·Aᵀ·Bᵀ to out.
func (m *Model) loraForward(lt *LoRATensor, la *loraActs, l, t int, out, x []float32, n int) {
	r, s := m.lora.Config.Rank, m.lora.Scale
	xd := x
	if m.dropoutOn() {
		p := m.lora.Config.Dropout
		inv := 1 / (1 - p)
		xd = la.xd
		for i, v := range x[:n*lt.In] {
			if dropKeep(m.seed, l, t, i, p) {
				xd[i] = v * inv
			} else {
				xd[i] = 0
			}
		}
	}
	sgemmPar(false, true, n, r, lt.In, 1, xd, lt.In, lt.A, lt.In, 0, la.xa, r)
	sgemmPar(false, true, n, lt.Out, r, s, la.xa, r, lt.B, r, 1, out, lt.Out)
}

// loraBackward adds the adapter's gradients and its input gradient to dx.
func (m *Model) loraBackward(lt *LoRATensor, la *loraActs, l, t int, dx, dy, x []float32, n int) {
	r, s := m.lora.Config.Rank, m.lora.Scale
	a := m.a
	xd := x
	drop := m.dropoutOn()
	if drop {
		xd = la.xd
	}
	sgemmPar(true, false, lt.Out, r, n, s, dy, lt.Out, la.xa, r, 1, lt.GB, r)
	dxa := a.dxa[:n*r]
	sgemmPar(false, false, n, r, lt.Out, s, dy, lt.Out, lt.B, r, 0, dxa, r)
	sgemmPar(true, false, r, lt.In, n, 1, dxa, r, xd, lt.In, 1, lt.GA, lt.In)
	if !drop {
		sgemmPar(false, false, n, lt.In, r, 1, dxa, r, lt.A, lt.In, 1, dx, lt.In)
		return
	}
	p := m.lora.Config.Dropout
	inv := 1 / (1 - p)
	dxd := a.dxd[:n*lt.In]
	sgemmPar(false, false, n, lt.In, r, 1, dxa, r, lt.A, lt.In, 0, dxd, lt.In)
	for i, v := range dxd {
		if dropKeep(m.seed, l, t, i, p) {
			dx[i] += v * inv
		}
	}
}

// sgemmPar is kernels.Sgemm, which splits large products across cores.
func sgemmPar(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kernels.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// delta computes ΔW = Scale·B·A (Out×In) into dst, adding when acc.
func (lt *LoRATensor) delta(dst []float32, scale float32, rank int) {
	sgemmPar(false, false, lt.Out, lt.In, rank, scale, lt.B, rank, lt.A, lt.In, 1, dst, lt.In)
}

// Merge adds the adapter into m's base parameters (W += Scale·B·A). The
// base is shared with every Share of m, which sees the change too.
func (lr *LoRA) Merge(m *Model) { lr.apply(m, 1) }

// Unmerge subtracts what Merge added (up to float rounding).
func (lr *LoRA) Unmerge(m *Model) { lr.apply(m, -1) }

func (lr *LoRA) apply(m *Model, sign float32) {
	for l := range lr.Layers {
		for t, lt := range lr.Layers[l] {
			if lt != nil {
				lt.delta(baseTensor(&m.P.Layers[l], t), sign*lr.Scale, lr.Config.Rank)
			}
		}
	}
}

func baseTensor(L *LayerParams, t int) []float32 {
	switch t {
	case tQ:
		return L.Wq
	case tK:
		return L.Wk
	case tV:
		return L.Wv
	case tO:
		return L.Wo
	case tGate:
		return L.WGate
	case tUp:
		return L.WUp
	default:
		return L.WDown
	}
}

func weightMatrix(L *model.Layer, t int) **kernels.Matrix {
	switch t {
	case tQ:
		return &L.Wq
	case tK:
		return &L.Wk
	case tV:
		return &L.Wv
	case tO:
		return &L.Wo
	case tGate:
		return &L.WGate
	case tUp:
		return &L.WUp
	default:
		return &L.WDown
	}
}

// MergeWeights adds the adapter into inference weights: each adapted
// matrix is replaced by a fresh F32 matrix W + Scale·B·A. The original
// matrices are never written (they may be read-only file mappings or
// shared with another model).
func (lr *LoRA) MergeWeights(w *model.Weights) error { return lr.applyWeights(w, 1) }

// UnmergeWeights replaces each adapted matrix by W − Scale·B·A (a fresh
// F32 copy), undoing MergeWeights up to float rounding.
func (lr *LoRA) UnmergeWeights(w *model.Weights) error { return lr.applyWeights(w, -1) }

func (lr *LoRA) applyWeights(w *model.Weights, sign float32) error {
	if len(w.Layers) != len(lr.Layers) {
		return fmt.Errorf("train: merge lora: %d layers, adapter has %d", len(w.Layers), len(lr.Layers))
	}
	for l := range lr.Layers {
		for t, lt := range lr.Layers[l] {
			if lt == nil {
				continue
			}
			pm := weightMatrix(&w.Layers[l], t)
			mx := *pm
			name := fmt.Sprintf("blk.%d.%s", l, ggufNames[t])
			if mx == nil || mx.Rows != lt.Out || mx.Cols != lt.In {
				return fmt.Errorf("train: merge lora: %s shape does not match the adapter", name)
			}
			f := make([]float32, mx.Rows*mx.Cols)
			if err := dequantMatrix(name, f, mx); err != nil {
				return err
			}
			lt.delta(f, sign*lr.Scale, lr.Config.Rank)
			*pm = &kernels.Matrix{Type: ggml.F32, Rows: mx.Rows, Cols: mx.Cols, F32: f}
		}
	}
	return nil
}
