package rlhf

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

// cutVocab decodes id 1 as ".", 2 as "!", 3 as "?", 9 as the stop token
// and any other id as a word.
type cutVocab struct{}

func (cutVocab) Decode(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		switch id {
		case 1:
			b.WriteString(".")
		case 2:
			b.WriteString("!")
		case 3:
			b.WriteString("?")
		case 9:
			b.WriteString("</s>")
		default:
			fmt.Fprintf(&b, " w%d", id)
		}
	}
	return b.String()
}

// lenRater scores a completion +4 when it has at most n tokens (long:
// more than n), else −4.
type lenRater struct {
	n    int
	long bool
}

func (r lenRater) Scores(_ context.Context, seqs []Seq) ([]float64, error) {
	out := make([]float64, len(seqs))
	for i, s := range seqs {
		out[i] = -4
		if (len(s.Completion) <= r.n) != r.long {
			out[i] = 4
		}
	}
	return out, nil
}

// cutPairs cuts each reply that ended on a stop token after each
// sentence but its last, ends the cut with that stop token, and pairs it
// with the reply when the reward model tells them apart by more than the
// margin, in the direction the model prefers; with cutOff, a reply cut
// off at its length limit is cut too, after each sentence more followed,
// judged without a stop token as the reply was, and the cut ends with the
// first stop token.
func TestCutPairs(t *testing.T) {
	p := []int{0, 5}
	for _, c := range []struct {
		name    string
		replies [][]int
		rater   lenRater
		margin  float64
		cutOff  bool
		want    []Pair
	}{
		{
			name:    "cuts chosen over the long reply",
			replies: [][]int{{10, 11, 1, 12, 2, 13, 1, 9}},
			rater:   lenRater{n: 4},
			margin:  0.5,
			// Cuts after "." (4 tokens with the stop) and after "!" (6: too long).
			want: []Pair{{Prompt: p, Chosen: []int{10, 11, 1, 9}, Rejected: []int{10, 11, 1, 12, 2, 13, 1, 9}}},
		},
		{
			name:    "the whole reply chosen over its cuts",
			replies: [][]int{{10, 1, 11, 3, 12, 1, 9}},
			rater:   lenRater{n: 5, long: true},
			margin:  0.5,
			want: []Pair{
				{Prompt: p, Chosen: []int{10, 1, 11, 3, 12, 1, 9}, Rejected: []int{10, 1, 9}},
				{Prompt: p, Chosen: []int{10, 1, 11, 3, 12, 1, 9}, Rejected: []int{10, 1, 11, 3, 9}},
			},
		},
		{
			name:    "judged alike",
			replies: [][]int{{10, 1, 11, 3, 12, 1, 9}},
			rater:   lenRater{n: 0},
			margin:  0.5,
		},
		{
			name:    "no cut inside a run of punctuation, none without the stop token",
			replies: [][]int{{10, 1, 2, 11, 1, 9}, {10, 1, 11, 1, 12}},
			rater:   lenRater{n: 4},
			margin:  0.5,
			want:    []Pair{{Prompt: p, Chosen: []int{10, 1, 2, 9}, Rejected: []int{10, 1, 2, 11, 1, 9}}},
		},
		{
			name:    "cut off at the length limit, with cutOff: cut after the sentences more followed",
			replies: [][]int{{10, 1, 11, 2, 12, 3}},
			rater:   lenRater{n: 4},
			margin:  0.5,
			cutOff:  true,
			// Judged as the reply was rated, without a stop token:
			// after "." (2 tokens) and "!" (4), both short; none after
			// the last "?". The pairs' cuts end with the first stop
			// token.
			want: []Pair{
				{Prompt: p, Chosen: []int{10, 1, 7}, Rejected: []int{10, 1, 11, 2, 12, 3}},
				{Prompt: p, Chosen: []int{10, 1, 11, 2, 7}, Rejected: []int{10, 1, 11, 2, 12, 3}},
			},
		},
		{
			name:    "margin too wide",
			replies: [][]int{{10, 11, 1, 12, 2, 13, 1, 9}},
			rater:   lenRater{n: 4},
			margin:  0.9999,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			var rs []Seq
			for _, r := range c.replies {
				rs = append(rs, Seq{Prompt: p, Completion: r})
			}
			got, err := cutPairs(context.Background(), c.rater, cutVocab{}, rs, []int{7, 9}, c.cutOff, c.margin)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, c.want, func(a, b Pair) bool {
				return slices.Equal(a.Prompt, b.Prompt) && slices.Equal(a.Chosen, b.Chosen) && slices.Equal(a.Rejected, b.Rejected)
			}) {
				t.Errorf("pairs %v, want %v", got, c.want)
			}
		})
	}
}

// stopBranches gives each stop decision after a sentence of a sampled
// reply (one that ended on a stop token) as the sequence that predicts
// the stop there and the one that predicts the rest of the reply from
// there, with the reward model's probability of approval of the cut less
// that of the reply.
func TestStopBranches(t *testing.T) {
	p := []int{0, 5}
	hi, lo := sigmoid(4), sigmoid(-4)
	for _, c := range []struct {
		name    string
		replies [][]int
		rater   lenRater
		want    []Seq // the stop branches
		tails   []Seq
		adv     []float64
		cutOff  bool
	}{
		{
			name:    "stopping early approved",
			replies: [][]int{{10, 11, 1, 12, 2, 13, 1, 9}},
			rater:   lenRater{n: 4},
			want:    []Seq{{Prompt: []int{0, 5, 10, 11, 1}, Completion: []int{9}}, {Prompt: []int{0, 5, 10, 11, 1, 12, 2}, Completion: []int{9}}},
			tails:   []Seq{{Prompt: []int{0, 5, 10, 11, 1}, Completion: []int{12, 2, 13, 1, 9}}, {Prompt: []int{0, 5, 10, 11, 1, 12, 2}, Completion: []int{13, 1, 9}}},
			adv:     []float64{hi - lo, 0},
		},
		{
			name:    "going on approved",
			replies: [][]int{{10, 1, 11, 1, 9}},
			rater:   lenRater{n: 4, long: true},
			want:    []Seq{{Prompt: []int{0, 5, 10, 1}, Completion: []int{9}}},
			tails:   []Seq{{Prompt: []int{0, 5, 10, 1}, Completion: []int{11, 1, 9}}},
			adv:     []float64{lo - hi},
		},
		{
			name:    "cut off at the length limit: no stop token, no branch",
			replies: [][]int{{10, 1, 11, 1, 12}},
			rater:   lenRater{n: 4},
		},
		{
			name:    "cut off at the length limit, with cutOff: the first stop token against the rest",
			replies: [][]int{{10, 1, 11, 1}},
			rater:   lenRater{n: 3},
			cutOff:  true,
			want:    []Seq{{Prompt: []int{0, 5, 10, 1}, Completion: []int{9}}},
			tails:   []Seq{{Prompt: []int{0, 5, 10, 1}, Completion: []int{11, 1}}},
			adv:     []float64{hi - lo},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			var rs []Seq
			for _, r := range c.replies {
				rs = append(rs, Seq{Prompt: p, Completion: r})
			}
			got, tails, adv, err := stopBranches(context.Background(), c.rater, cutVocab{}, rs, []int{9}, c.cutOff)
			if err != nil {
				t.Fatal(err)
			}
			same := func(a, b Seq) bool {
				return slices.Equal(a.Prompt, b.Prompt) && slices.Equal(a.Completion, b.Completion)
			}
			if !slices.EqualFunc(got, c.want, same) {
				t.Errorf("stop branches %v, want %v", got, c.want)
			}
			if !slices.EqualFunc(tails, c.tails, same) {
				t.Errorf("tails %v, want %v", tails, c.tails)
			}
			if !slices.EqualFunc(adv, c.adv, func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }) {
				t.Errorf("advantages %v, want %v", adv, c.adv)
			}
		})
	}
}

// countingRater is lenRater counting the sequences it scored.
type countingRater struct {
	lenRater
	scored int
}

func (r *countingRater) Scores(ctx context.Context, seqs []Seq) ([]float64, error) {
	r.scored += len(seqs)
	return r.lenRater.Scores(ctx, seqs)
}

// scoreCache gives the reward model's scores and asks it for each
// distinct sequence once, across calls; a prompt's tokens and a
// completion's are told apart.
func TestScoreCache(t *testing.T) {
	ctx := context.Background()
	rm := &countingRater{lenRater: lenRater{n: 2}}
	c := newScoreCache(rm)
	a := Seq{Prompt: []int{0, 5}, Completion: []int{7, 9}}
	b := Seq{Prompt: []int{0}, Completion: []int{5, 7, 9}} // the same tokens, split elsewhere
	got, err := c.Scores(ctx, []Seq{a, b, a})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{4, -4, 4}; !slices.Equal(got, want) {
		t.Errorf("scores %v, want %v", got, want)
	}
	if got, err = c.Scores(ctx, []Seq{b, a}); err != nil || !slices.Equal(got, []float64{-4, 4}) {
		t.Errorf("scores again %v (%v), want [-4 4]", got, err)
	}
	if rm.scored != 2 {
		t.Errorf("the reward model scored %d sequences, want 2", rm.scored)
	}
}

// The stop branches' gradient: a step of gradient descent raises the
// stop token's log-probability where stopping is approved over going on
// (advantage > 0) and lowers the tail's, and the other way round where
// going on is approved; the samples' own gradient is kept, and each pair
// weighs as a sample, over the samples' count.
func TestBranchGrads(t *testing.T) {
	stop := Seq{Prompt: []int{0, 5, 10, 1}, Completion: []int{9}}
	tail := Seq{Prompt: []int{0, 5, 10, 1}, Completion: []int{11, 1, 9}}
	samples := []Seq{{Prompt: []int{0, 5}, Completion: []int{10, 1, 11, 1, 9}}, {Prompt: []int{0, 5}, Completion: []int{12, 9}}}
	for _, c := range []struct {
		name string
		adv  float64
		want []float64 // samples', then the stop's, then the tail's
	}{
		{"stopping approved", 0.8, []float64{-0.1, 0.1, -0.4, 0.4}},
		{"going on approved", -0.6, []float64{-0.1, 0.1, 0.3, -0.3}},
		{"no difference", 0, []float64{-0.1, 0.1, 0, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			grad := []float64{-0.1, 0.1}
			all := withBranches(samples, []Seq{stop}, []Seq{tail})
			g := branchGrads(grad, []float64{c.adv})
			if len(all) != len(g) {
				t.Fatalf("%d sequences, %d gradients", len(all), len(g))
			}
			if !slices.Equal(all[2].Completion, stop.Completion) || !slices.Equal(all[3].Completion, tail.Completion) {
				t.Fatalf("layout %v: want the samples, the stop, the tail", all)
			}
			if !slices.EqualFunc(g, c.want, func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }) {
				t.Errorf("gradients %v, want %v", g, c.want)
			}
			if len(grad) != 2 || grad[0] != -0.1 {
				t.Errorf("the samples' gradient changed: %v", grad)
			}
			// A descent step moves each log-probability by −g: where
			// stopping is approved the stop's rises and the tail's falls.
			if c.adv > 0 && (g[2] >= 0 || g[3] <= 0) || c.adv < 0 && (g[2] <= 0 || g[3] >= 0) {
				t.Errorf("advantage %v: stop gradient %v, tail %v", c.adv, g[2], g[3])
			}
		})
	}
}
