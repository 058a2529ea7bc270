package model

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/hone-ai/hone/model/fixtures"
	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/tokenizer"
)

// vmHWM returns the process's peak resident set size in bytes.
func vmHWM() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// TestPeakMemoryChild is the child process of TestPeakMemory: it loads the
// model named by HONE_PEAK_MODEL, generates, and prints its peak RSS.
func TestPeakMemoryChild(t *testing.T) {
	path := os.Getenv("HONE_PEAK_MODEL")
	if path == "" {
		t.Skip("child process of TestPeakMemory")
	}
	m, err := Load(path, LoadOptions{Tokenizer: os.Getenv("HONE_PEAK_TOKENIZER")})
	if err != nil {
		t.Fatal(err)
	}
	p := prompt(m, "Once upon a time there was a little dog")
	if _, err := m.Generate(context.Background(), p, GenerateOptions{MaxTokens: 8, Sampling: SamplerConfig{Temperature: 1, Seed: 1}}, nil); err != nil {
		t.Fatal(err)
	}
	hwm, err := vmHWM()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("VmHWM=%d\n", hwm)
}

// Acceptance 7: peak memory while running a model stays under 1.3× its
// file size plus the KV cache. The model is a random one of the stories15M
// shape (F32, about 97 MB) with the Llama 2 vocabulary, written as GGUF and
// as a llama2.c checkpoint; a fresh process loads it, generates and
// reports its peak resident set (VmHWM), which includes the Go runtime.
func TestPeakMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("VmHWM is Linux's")
	}
	if testing.Short() {
		t.Skip("writes a 97 MB model; skipped with -short")
	}
	tokBin := fixtures.Path(t, "llama2", "tokenizer.bin")
	v, err := tokenizer.LoadLlama2C(tokBin, 32000)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewRandom(stories15MCfg, ggml.F32, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetVocab(v); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{"gguf": filepath.Join(dir, "m.gguf"), "llama2c": filepath.Join(dir, "m.bin")}
	if err := m.SaveGGUF(files["gguf"], SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := m.SaveLlama2C(files["llama2c"]); err != nil {
		t.Fatal(err)
	}
	m = nil
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"gguf", "llama2c"} {
		path := files[format]
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestPeakMemoryChild$", "-test.v")
		cmd.Env = append(os.Environ(), "HONE_PEAK_MODEL="+path, "HONE_PEAK_TOKENIZER="+tokBin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s child: %v\n%s", format, err, out)
		}
		_, rest, ok := strings.Cut(string(out), "VmHWM=")
		if !ok {
			t.Fatalf("%s child printed no VmHWM:\n%s", format, out)
		}
		hwm, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		limit := int64(1.3*float64(st.Size())) + stories15MCfg.KVCacheBytes(stories15MCfg.ContextLen)
		t.Logf("%s: file %.1f MB, peak RSS %.1f MB, limit %.1f MB", format, float64(st.Size())/1e6, float64(hwm)/1e6, float64(limit)/1e6)
		if hwm > limit {
			t.Errorf("%s: peak RSS %d bytes > 1.3 × file %d + KV cache", format, hwm, st.Size())
		}
	}
}
