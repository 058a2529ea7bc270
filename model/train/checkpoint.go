package train

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/hone-ai/hone/model"
)

// writeAtomic writes path through a temporary file in the same directory,
// fsyncs it and renames it over path, so readers see the old or the new
// file, never a torn one.
func writeAtomic(path string, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("train: write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err = write(bw); err != nil {
		return fmt.Errorf("train: write %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("train: write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("train: sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("train: close %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("train: rename %s: %w", path, err)
	}
	if d, e := os.Open(dir); e == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func writeFloats(w io.Writer, x []float32) error {
	buf := make([]byte, 0, 1<<16)
	for i := 0; i < len(x); {
		buf = buf[:0]
		for ; i < len(x) && len(buf)+4 <= cap(buf); i++ {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x[i]))
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

func readFloats(r io.Reader, x []float32) error {
	buf := make([]byte, 1<<16)
	for i := 0; i < len(x); {
		n := min(len(buf)/4, len(x)-i)
		if _, err := io.ReadFull(r, buf[:4*n]); err != nil {
			return err
		}
		for j := 0; j < n; j++ {
			x[i+j] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*j:]))
		}
		i += n
	}
	return nil
}

const ckptMagic = "HONECKPT"

// ckptHeader is the JSON header of a checkpoint.
type ckptHeader struct {
	Version  int           `json:"version"`
	Config   model.Config  `json:"config"`
	Tied     bool          `json:"tied"`
	LoRA     *LoRAConfig   `json:"lora,omitempty"`
	Trainer  TrainerConfig `json:"trainer"`
	Step     int           `json:"step"`
	OptT     int           `json:"opt_t"`
	Beta1    float32       `json:"beta1"`
	Beta2    float32       `json:"beta2"`
	Eps      float32       `json:"eps"`
	NParams  int           `json:"n_params"`
	HasMoms  bool          `json:"has_moments"`
	RNGState []byte        `json:"rng"`
}

// SaveCheckpoint writes everything needed to resume the run atomically:
// the trainable parameters (the adapter, or the whole base), AdamW's
// moments, the step and the trainer's random state. A LoRA run's base is
// not saved: resume from the same base model.
func (t *Trainer) SaveCheckpoint(path string) error {
	m := t.Model
	ps := m.Trainable()
	rs, err := t.src.MarshalBinary()
	if err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	h := ckptHeader{Version: 1, Config: m.Config, Tied: m.Tied, Trainer: t.Cfg, Step: t.Step, OptT: t.Opt.T,
		Beta1: t.Opt.Beta1, Beta2: t.Opt.Beta2, Eps: t.Opt.Eps, NParams: len(ps.Params), HasMoms: t.Opt.M != nil, RNGState: rs}
	if m.loraActive() {
		lc := m.lora.Config
		h.LoRA = &lc
	}
	hj, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	return writeAtomic(path, func(w io.Writer) error {
		if _, err := io.WriteString(w, ckptMagic); err != nil {
			return err
		}
		if err := binary.Write(w, binary.LittleEndian, uint32(len(hj))); err != nil {
			return err
		}
		if _, err := w.Write(hj); err != nil {
			return err
		}
		if err := writeFloats(w, ps.Params); err != nil {
			return err
		}
		if h.HasMoms {
			if err := writeFloats(w, t.Opt.M); err != nil {
				return err
			}
			return writeFloats(w, t.Opt.V)
		}
		return nil
	})
}

// LoadCheckpoint restores a run saved by SaveCheckpoint into t, whose
// model must have the same shape and the same kind of trainable
// parameters (attach the LoRA, with the same config, before loading).
func (t *Trainer) LoadCheckpoint(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	magic := make([]byte, len(ckptMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != ckptMagic {
		return fmt.Errorf("train: checkpoint %s: not a hone checkpoint", path)
	}
	var hl uint32
	if err := binary.Read(r, binary.LittleEndian, &hl); err != nil || hl > 1<<24 {
		return fmt.Errorf("train: checkpoint %s: bad header length", path)
	}
	hj := make([]byte, hl)
	if _, err := io.ReadFull(r, hj); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	var h ckptHeader
	if err := json.Unmarshal(hj, &h); err != nil {
		return fmt.Errorf("train: checkpoint %s: header: %w", path, err)
	}
	m := t.Model
	if h.Version != 1 {
		return fmt.Errorf("train: checkpoint %s: version %d not supported", path, h.Version)
	}
	if h.Config.Dim != m.Config.Dim || h.Config.NLayers != m.Config.NLayers || h.Config.VocabSize != m.Config.VocabSize ||
		h.Config.HiddenDim != m.Config.HiddenDim || h.Tied != m.Tied {
		return fmt.Errorf("train: checkpoint %s: saved for another model shape", path)
	}
	if (h.LoRA != nil) != m.loraActive() {
		return fmt.Errorf("train: checkpoint %s: LoRA checkpoint and model disagree (attach the same adapter config first)", path)
	}
	ps := m.Trainable()
	if h.NParams != len(ps.Params) {
		return fmt.Errorf("train: checkpoint %s: %d parameters, model trains %d", path, h.NParams, len(ps.Params))
	}
	src := new(randPCG)
	if err := src.UnmarshalBinary(h.RNGState); err != nil {
		return fmt.Errorf("train: checkpoint %s: rng: %w", path, err)
	}
	params := make([]float32, h.NParams)
	if err := readFloats(r, params); err != nil {
		return fmt.Errorf("train: checkpoint %s: parameters: %w", path, err)
	}
	opt := &AdamW{Beta1: h.Beta1, Beta2: h.Beta2, Eps: h.Eps, WeightDecay: h.Trainer.WeightDecay, T: h.OptT}
	if h.HasMoms {
		opt.M, opt.V = make([]float32, h.NParams), make([]float32, h.NParams)
		if err := readFloats(r, opt.M); err != nil {
			return fmt.Errorf("train: checkpoint %s: moments: %w", path, err)
		}
		if err := readFloats(r, opt.V); err != nil {
			return fmt.Errorf("train: checkpoint %s: moments: %w", path, err)
		}
	}
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("train: checkpoint %s: trailing data", path)
	}
	copy(ps.Params, params)
	t.Cfg, t.Step, t.Opt = h.Trainer, h.Step, opt
	*t.src = *src
	return nil
}
