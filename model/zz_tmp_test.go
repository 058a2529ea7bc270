package model

import (
	"context"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func hugeCopy(b *testing.B, src []float32) []float32 {
	n := len(src) * 4
	sz := (n + (2<<20) - 1) &^ ((2 << 20) - 1)
	mem, err := unix.Mmap(-1, 0, sz, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		b.Fatal(err)
	}
	if os.Getenv("ZZ_NOHUGE") == "" {
		if err := unix.Madvise(mem, unix.MADV_HUGEPAGE); err != nil {
			b.Fatal(err)
		}
	}
	dst := unsafe.Slice((*float32)(unsafe.Pointer(&mem[0])), len(src))
	copy(dst, src)
	return dst
}

func BenchmarkZZReal(b *testing.B) {
	m, err := Load("/tmp/l2c/s15M.bin", LoadOptions{Tokenizer: "/tmp/l2c/tokenizer.bin"})
	if err != nil {
		b.Fatal(err)
	}
	if os.Getenv("ZZ_COPY") != "" {
		w := &m.Weights
		w.Embed.F32 = hugeCopy(b, w.Embed.F32)
		w.Output = w.Embed
		for i := range w.Layers {
			l := &w.Layers[i]
			for _, mm := range []**struct{}{} {
				_ = mm
			}
			l.Wq.F32 = hugeCopy(b, l.Wq.F32)
			l.Wk.F32 = hugeCopy(b, l.Wk.F32)
			l.Wv.F32 = hugeCopy(b, l.Wv.F32)
			l.Wo.F32 = hugeCopy(b, l.Wo.F32)
			l.WGate.F32 = hugeCopy(b, l.WGate.F32)
			l.WUp.F32 = hugeCopy(b, l.WUp.F32)
			l.WDown.F32 = hugeCopy(b, l.WDown.F32)
		}
	}
	ctx := context.Background()
	s := m.NewSession()
	logits, _ := s.Eval(ctx, []int{1})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if s.Pos() >= 256 {
			s.Truncate(1)
		}
		logits, err = s.Eval(ctx, []int{argmax(logits)})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
}
