package rlhf

import (
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// chartSeries picks, for each chart, the first metric present in the
// history: TRL's names for DPO/KTO, then RLOO's objective/… names.
var chartSeries = []struct {
	file, title string
	keys        []string
}{
	{"loss.png", "loss", []string{"loss"}},
	{"reward.png", "reward", []string{"rewards/margins", "objective/rlhf_reward", "rewards/chosen", "objective/scores"}},
	{"kl.png", "KL", []string{"kl", "objective/kl"}},
}

// series extracts one metric over steps (missing steps skipped).
func series(hist []Metrics, key string) (xs, ys []float64) {
	for i, m := range hist {
		if v, ok := m[key]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			xs = append(xs, float64(i+1))
			ys = append(ys, v)
		}
	}
	return xs, ys
}

// WriteCharts writes loss.png, reward.png and kl.png for a training
// history into dir (charts without data are skipped) and returns the
// files written.
func WriteCharts(dir string, hist []Metrics) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("charts: %w", err)
	}
	var files []string
	for _, c := range chartSeries {
		var key string
		var xs, ys []float64
		for _, k := range c.keys {
			if xs, ys = series(hist, k); len(xs) > 0 {
				key = k
				break
			}
		}
		if key == "" {
			continue
		}
		p := plot.New()
		p.Title.Text = c.title + " (" + key + ")"
		p.X.Label.Text = "step"
		p.Y.Label.Text = key
		pts := make(plotter.XYs, len(xs))
		for i := range xs {
			pts[i].X, pts[i].Y = xs[i], ys[i]
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return files, fmt.Errorf("charts: %s: %w", key, err)
		}
		line.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
		p.Add(line, plotter.NewGrid())
		path := filepath.Join(dir, c.file)
		if err := p.Save(6*vg.Inch, 3.5*vg.Inch, path); err != nil {
			return files, fmt.Errorf("charts: %s: %w", path, err)
		}
		files = append(files, path)
	}
	return files, nil
}

var sparkRunes = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws ys in at most width block characters (averaging
// buckets).
func Sparkline(ys []float64, width int) string {
	if len(ys) == 0 || width <= 0 {
		return ""
	}
	if len(ys) > width {
		b := make([]float64, width)
		for i := range b {
			lo, hi := i*len(ys)/width, (i+1)*len(ys)/width
			b[i] = mean(ys[lo:hi])
		}
		ys = b
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range ys {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	var sb strings.Builder
	for _, v := range ys {
		k := 0
		if hi > lo {
			k = int((v - lo) / (hi - lo) * float64(len(sparkRunes)-1))
		}
		sb.WriteRune(sparkRunes[k])
	}
	return sb.String()
}

// SparkSummary is a few lines, one per charted metric: name, sparkline,
// first → last value.
func SparkSummary(hist []Metrics) string {
	var lines []string
	for _, c := range chartSeries {
		for _, k := range c.keys {
			_, ys := series(hist, k)
			if len(ys) == 0 {
				continue
			}
			lines = append(lines, fmt.Sprintf("%-22s %s  %.4g → %.4g", k, Sparkline(ys, 40), ys[0], ys[len(ys)-1]))
			break
		}
	}
	return strings.Join(lines, "\n")
}

// WriteReport writes a run's report into dir: report.json (the result and
// every step's metrics), metrics.jsonl, the charts and summary.txt.
func WriteReport(dir string, res *JobResult, hist, rewardHist []Metrics) error {
	files, err := WriteCharts(dir, hist)
	if err != nil {
		return err
	}
	if len(rewardHist) > 0 {
		if _, err := WriteCharts(filepath.Join(dir, "reward_model"), rewardHist); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(struct {
		*JobResult
		Charts []string  `json:"charts"`
		Steps  []Metrics `json:"steps"`
	}{res, files, hist}, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, "report.json"), b); err != nil {
		return err
	}
	var sb strings.Builder
	for _, m := range hist {
		line, _ := json.Marshal(m) // map keys come out sorted
		sb.Write(line)
		sb.WriteByte('\n')
	}
	if err := writeFileAtomic(filepath.Join(dir, "metrics.jsonl"), []byte(sb.String())); err != nil {
		return err
	}
	summary := res.Message + "\n" + SparkSummary(hist) + "\n"
	if res.Eval != nil {
		summary += res.Eval.Summary() + "\n"
	}
	return writeFileAtomic(filepath.Join(dir, "summary.txt"), []byte(summary))
}

// writeFileAtomic writes b to path through a synced temporary file.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
