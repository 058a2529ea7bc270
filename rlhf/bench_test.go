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
	benchJob(b, mp, tp, BuiltinPrompts(), nil, 48, script("approve-word.sh", "big"), "auto")
}

// BenchmarkTrainJob1000RatingsDefault is the same on the embedded default
// model (the policy a fresh install trains): the built-in chat prompts,
// 128-token replies, rated by the "ends with a period" rule annotator.
// The job picks DPO (the data has pairs); the KTO and RLOO variants make
// it train on the thumbs alone or against the reward model.
func BenchmarkTrainJob1000RatingsDefault(b *testing.B) {
	benchDefaultJob(b, "auto")
}

func BenchmarkTrainJob1000RatingsDefaultKTO(b *testing.B) {
	benchDefaultJob(b, "kto")
}

func BenchmarkTrainJob1000RatingsDefaultRLOO(b *testing.B) {
	benchDefaultJob(b, "rloo")
}

func benchDefaultJob(b *testing.B, algo string) {
	mp := filepath.Join(b.TempDir(), "default.gguf")
	if err := defaultmodel.Install(mp); err != nil {
		b.Fatal(err)
	}
	ps, err := BuiltinChatPrompts(360)
	if err != nil {
		b.Fatal(err)
	}
	benchJob(b, mp, "", ps[:240], ps[240:], 128, script("approve-period.sh"), algo)
}

// benchJob stores 1,000 rated replies to prompts, times the job on them
// and, given unseen prompts, reports the annotator's approval of the
// reference's and the promoted policy's replies to them (outside the
// timing).
func benchJob(b *testing.B, mp, tp string, prompts, unseen []string, maxTokens int, annotator, algo string) {
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
		var texts []string
		for k := 0; k < 500; k++ {
			texts = append(texts, prompts[k%len(prompts)], prompts[k%len(prompts)])
		}
		smp := Sampler{Temperature: 1, MaxTokens: maxTokens, Stop: ld.Stops()}
		comps, reqs, js := rated(b, ld, ld, texts, smp, annotator, 7)
		for k := 0; k < len(reqs); k += 2 {
			c, _ := st.CreateConversation(ctx, feedback.NewConversation{Title: "bench"})
			u, _ := st.AppendMessage(ctx, feedback.Message{ConversationID: c.ID, Role: feedback.RoleUser, Content: texts[k]})
			for j := k; j < k+2; j++ {
				// A reply that ended on a stop token is complete (the job
				// trains on its end); one cut at the length limit is not.
				status := feedback.StatusComplete
				if len(comps[j]) >= maxTokens {
					status = feedback.StatusStopped
				}
				m, _ := st.AppendMessage(ctx, feedback.Message{ConversationID: c.ID, ParentID: u, Role: feedback.RoleAssistant, Content: reqs[j].Reply, Status: status})
				if _, err := st.Rate(ctx, feedback.RatingInput{MessageID: m, Rater: "rule", Value: js[j].Rating}); err != nil {
					b.Fatal(err)
				}
			}
		}
		jc := DefaultJobConfig()
		jc.Home, jc.Store, jc.BaseModel, jc.Tokenizer = home, st, mp, tp
		jc.Algo = algo
		cpu0 := cpuSeconds()
		b.StartTimer()
		start := time.Now()
		res, err := RunJob(ctx, jc)
		b.StopTimer()
		cpu := cpuSeconds() - cpu0
		if err != nil {
			b.Fatal(err)
		}
		wall := time.Since(start).Seconds()
		b.Logf("1000 ratings → %s (%s, %d pairs) in %.1fs wall, %.1f CPU-s; gates: %v", res.Outcome, res.Algo, res.Pairs, wall, cpu, res.Gates)
		b.ReportMetric(wall, "s/job")
		if len(unseen) > 0 && res.Outcome == "promoted" {
			tuned, err := LoadModel(res.Path, tp)
			if err != nil {
				b.Fatal(err)
			}
			before := approval(b, ld, ld, unseen, smp, annotator)
			after := approval(b, ld, tuned, unseen, smp, annotator)
			tuned.Engine.Close()
			b.Logf("approval on %d unseen prompts × 2 replies: %.3f → %.3f", len(unseen), before, after)
			b.ReportMetric(after-before, "approval-gain")
		}
		ld.Engine.Close()
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

// approval is the share of m's replies (two per prompt) that annotator
// approves.
func approval(b *testing.B, ld, m *Loaded, prompts []string, smp Sampler, annotator string) float64 {
	var texts []string
	for _, p := range prompts {
		texts = append(texts, p, p)
	}
	_, _, js := rated(b, ld, m, texts, smp, annotator, 11)
	up := 0
	for _, j := range js {
		if j.Rating > 0 {
			up++
		}
	}
	return float64(up) / float64(len(js))
}

// rated samples m's reply to each prompt (rendered by ld) and has
// annotator judge them.
func rated(b *testing.B, ld, m *Loaded, prompts []string, smp Sampler, annotator string, seed uint64) ([][]int, []AnnotationRequest, []Judgement) {
	ctx := context.Background()
	pt := make([][]int, len(prompts))
	for k, p := range prompts {
		pt[k] = ld.PromptTokens([]Turn{{Role: "user", Content: p}})
	}
	comps, err := smp.SampleMany(ctx, m.Engine, pt, seed)
	if err != nil {
		b.Fatal(err)
	}
	reqs := make([]AnnotationRequest, len(comps))
	for k, c := range comps {
		reqs[k] = AnnotationRequest{ID: fmt.Sprint(k), Messages: []Turn{{Role: "user", Content: prompts[k]}}, Reply: ld.Tok().Decode(c)}
	}
	ann, err := StartAnnotator(annotator, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer ann.Close()
	js, err := ann.Annotate(ctx, reqs)
	if err != nil {
		b.Fatal(err)
	}
	return comps, reqs, js
}
