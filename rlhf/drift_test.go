package rlhf

import (
	"math"
	"testing"
)

func TestRelDrift(t *testing.T) {
	tests := []struct {
		name     string
		ref, pol []float64
		prompt   []int // each sequence's
		weights  []float64
		rel, se  float64
		wantErr  bool
	}{
		{
			name: "every prompt up 10%: no spread",
			ref:  []float64{10, 20, 30}, pol: []float64{11, 22, 33},
			prompt: []int{0, 1, 2},
			rel:    0.1, se: 0,
		},
		{
			// Prompt 1 up 4 of 10, prompt 2 unchanged: 4/30 overall.
			// Residuals d_i = Δ_i − rel·ref_i: 4 − 4/3 = 8/3 and
			// 0 − 8/3 = −8/3; SE = sqrt(2·(64/9)·2/1)/30.
			name: "two prompts apart",
			ref:  []float64{10, 20}, pol: []float64{14, 20},
			prompt: []int{0, 1},
			rel:    4.0 / 30, se: math.Sqrt(2*64.0/9*2) / 30,
		},
		{
			// The replies to one prompt are one cluster: prompt 1's two
			// replies sum to ref 10, pol 14, as above.
			name: "replies grouped by prompt",
			ref:  []float64{4, 6, 20}, pol: []float64{6, 8, 20},
			prompt: []int{0, 0, 1},
			rel:    4.0 / 30, se: math.Sqrt(2*64.0/9*2) / 30,
		},
		{
			name: "one prompt: no standard error",
			ref:  []float64{10, 10}, pol: []float64{11, 12},
			prompt: []int{0, 0},
			rel:    0.15, se: 0,
		},
		{
			// Prompt 1 counts twice: sums ref 20 and 20, pol 28 and 20,
			// 48/40 − 1 = 0.2; residuals 28 − 1.2·20 = 4 and −4, SE =
			// sqrt(32·2/1)/40.
			name: "weighted prompts",
			ref:  []float64{10, 20}, pol: []float64{14, 20},
			prompt: []int{0, 1}, weights: []float64{2, 1},
			rel: 0.2, se: math.Sqrt(64) / 40,
		},
		{name: "lengths differ", ref: []float64{1}, pol: []float64{1, 2}, prompt: []int{0}, wantErr: true},
		{name: "a prompt without a weight", ref: []float64{1, 1}, pol: []float64{1, 1}, prompt: []int{0, 1}, weights: []float64{1}, wantErr: true},
		{name: "no text", ref: []float64{0}, pol: []float64{0}, prompt: []int{0}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := relDrift(tt.ref, tt.pol, tt.prompt, tt.weights)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("relDrift = %+v, want an error", d)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(d.Rel-tt.rel) > 1e-12 || math.Abs(d.SE-tt.se) > 1e-12 {
				t.Errorf("relDrift = %+v, want rel %g se %g", d, tt.rel, tt.se)
			}
		})
	}
}

func TestDocLossMeanIsLMLoss(t *testing.T) {
	d := docLoss{nll: []float64{3, 0, 9}, tokens: []float64{2, 0, 4}}
	if m, err := d.mean(); err != nil || m != 2 {
		t.Errorf("mean = %g, %v; want 2 (12 nats over 6 tokens)", m, err)
	}
	if _, err := (docLoss{nll: []float64{0}, tokens: []float64{0}}).mean(); err == nil {
		t.Error("mean of a text without tokens: want an error")
	}
}

// ratioOfSums is also the lab's approval: approved over rated replies,
// the held-out prompts the clusters.
func TestRatioOfSumsApproval(t *testing.T) {
	tests := []struct {
		name      string
		up, rated []float64
		ratio, se float64
		wantErr   bool
	}{
		{name: "every prompt 3 of 4", up: []float64{3, 3, 3}, rated: []float64{4, 4, 4}, ratio: 0.75},
		{
			// 4 of 8: residuals 4 − 2 = 2 and 0 − 2 = −2; SE =
			// sqrt(8·2/1)/8 = 0.5.
			name: "one prompt all, one none", up: []float64{4, 0}, rated: []float64{4, 4},
			ratio: 0.5, se: 0.5,
		},
		{name: "one prompt: no spread to measure", up: []float64{1}, rated: []float64{4}, ratio: 0.25},
		{name: "nothing rated", up: []float64{0, 0}, rated: []float64{0, 0}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, se, err := ratioOfSums(tt.up, tt.rated)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if math.Abs(r-tt.ratio) > 1e-12 || math.Abs(se-tt.se) > 1e-12 {
				t.Errorf("ratio %g ± %g, want %g ± %g", r, se, tt.ratio, tt.se)
			}
		})
	}
}

func TestDocLossWeightedMean(t *testing.T) {
	d := docLoss{nll: []float64{2, 9}, tokens: []float64{1, 3}}
	tests := []struct {
		name    string
		weights []float64
		want    float64
		wantErr bool
	}{
		{"nil: every sequence once", nil, 11.0 / 4, false},
		{"first alone", []float64{1, 0}, 2, false},
		{"second alone", []float64{0, 1}, 3, false},
		{"first twice", []float64{2, 1}, 13.0 / 5, false},
		{"scale does not matter", []float64{0.5, 0.25}, 13.0 / 5, false},
		{"one weight for two sequences", []float64{1}, 0, true},
		{"nothing weighed", []float64{0, 0}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.weightedMean(tt.weights)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("weighted mean %g, want %g", got, tt.want)
			}
		})
	}
}
