package rlhf

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hone-ai/hone/feedback"
	"github.com/hone-ai/hone/model/defaultmodel"
	"github.com/hone-ai/hone/model/fixtures"
)

// BenchmarkTrainJob1000Ratings measures the wall time from 1,000 stored
// ratings (500 prompts × two sampled replies, rated by the "mentions big"
// rule annotator) to a promoted policy with the job's defaults:
//
//	go test -run '^$' -bench TrainJob1000 -benchtime 1x ./rlhf
func BenchmarkTrainJob1000Ratings(b *testing.B) {
	mp := fixtures.Path(b, "stories260k", "stories260K.bin")
	tp := fixtures.Path(b, "stories260k", "tok512.bin")
	benchJob(b, mp, tp, BuiltinPrompts(), 48, script("approve-word.sh", "big"))
}

// BenchmarkTrainJob1000RatingsDefault is the same on the embedded default
// model (the policy a fresh install trains): the built-in chat prompts,
// 128-token replies, rated by the "ends with a period" rule annotator.
func BenchmarkTrainJob1000RatingsDefault(b *testing.B) {
	mp := filepath.Join(b.TempDir(), "default.gguf")
	if err := defaultmodel.Install(mp); err != nil {
		b.Fatal(err)
	}
	ps, err := BuiltinChatPrompts(240)
	if err != nil {
		b.Fatal(err)
	}
	benchJob(b, mp, "", ps, 128, script("approve-period.sh"))
}

func benchJob(b *testing.B, mp, tp string, prompts []string, maxTokens int, annotator string) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		home := b.TempDir()
		st, err := feedback.Open(ctx, filepath.Join(home, "hone.db"))
		if err != nil {
			b.Fatal(err)
		}
		ld, err := LoadModel(mp, tp)
		if err != nil {
			b.Fatal(err)
		}
		ann, err := StartAnnotator(annotator, 0)
		if err != nil {
			b.Fatal(err)
		}
		var pt [][]int
		var texts []string
		for k := 0; k < 500; k++ {
			p := prompts[k%len(prompts)]
			for j := 0; j < 2; j++ {
				pt = append(pt, ld.PromptTokens([]Turn{{Role: "user", Content: p}}))
				texts = append(texts, p)
			}
		}
		smp := Sampler{Temperature: 1, MaxTokens: maxTokens, Stop: ld.Stops()}
		comps, err := smp.SampleMany(ctx, ld.Engine, pt, 7)
		if err != nil {
			b.Fatal(err)
		}
		reqs := make([]AnnotationRequest, len(comps))
		for k, c := range comps {
			reqs[k] = AnnotationRequest{ID: fmt.Sprint(k), Messages: []Turn{{Role: "user", Content: texts[k]}}, Reply: ld.Tok().Decode(c)}
		}
		js, err := ann.Annotate(ctx, reqs)
		ann.Close()
		if err != nil {
			b.Fatal(err)
		}
		for k := 0; k < len(comps); k += 2 {
			c, _ := st.CreateConversation(ctx, feedback.NewConversation{Title: "bench"})
			u, _ := st.AppendMessage(ctx, feedback.Message{ConversationID: c.ID, Role: feedback.RoleUser, Content: texts[k]})
			for j := k; j < k+2; j++ {
				m, _ := st.AppendMessage(ctx, feedback.Message{ConversationID: c.ID, ParentID: u, Role: feedback.RoleAssistant, Content: reqs[j].Reply, Status: feedback.StatusStopped})
				if _, err := st.Rate(ctx, feedback.RatingInput{MessageID: m, Rater: "rule", Value: js[j].Rating}); err != nil {
					b.Fatal(err)
				}
			}
		}
		jc := DefaultJobConfig()
		jc.Home, jc.Store, jc.BaseModel, jc.Tokenizer = home, st, mp, tp
		cpu0 := cpuSeconds()
		b.StartTimer()
		start := time.Now()
		res, err := RunJob(ctx, jc)
		b.StopTimer()
		cpu := cpuSeconds() - cpu0
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("1000 ratings → %s (%s, %d pairs) in %.1fs wall, %.1f CPU-s; gates: %v", res.Outcome, res.Algo, res.Pairs, time.Since(start).Seconds(), cpu, res.Gates)
		b.ReportMetric(time.Since(start).Seconds(), "s/job")
		st.Close()
	}
}

// cpuSeconds is the process's user+system CPU time so far (the machine
// may be shared, so wall time alone says little).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
