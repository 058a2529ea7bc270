package feedback

import (
	"context"
	"fmt"
	"sort"
	"testing"
)

func pairSet(ps []Pair) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%d>%d %s %s cmp=%t", p.ChosenID, p.RejectedID, p.Rater, p.Source, p.ComparisonID != 0))
	}
	sort.Strings(out)
	return out
}

func TestDerivedPairs(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	f := makeFixture(t, s)
	// ann: a1 👍, a2 👎, a3 👎 → a1≻a2, a1≻a3. bob: a3 👍 only → nothing.
	// carol: a2 👎 only → nothing; mixed raters never pair.
	mustRate(t, s, f.a1, "ann", 1)
	mustRate(t, s, f.a2, "ann", -1)
	mustRate(t, s, f.a3, "ann", -1)
	mustRate(t, s, f.a3, "bob", 1)
	mustRate(t, s, f.a2, "carol", -1)
	mustRate(t, s, f.b1, "ann", -1) // not a sibling of anything

	check := func(step string, want ...string) {
		t.Helper()
		ps, err := s.Pairs(ctx, Window{})
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(want)
		if got := pairSet(ps); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: pairs = %q, want %q", step, got, want)
		}
		c, err := s.Counts(ctx, Window{})
		if err != nil || c.Pairs != len(ps) {
			t.Errorf("%s: Counts = %+v, %v (pairs %d)", step, c, err, len(ps))
		}
	}
	a := func(c, r int64, rater, src string, explicit bool) string {
		return fmt.Sprintf("%d>%d %s %s cmp=%t", c, r, rater, src, explicit)
	}
	check("derived", a(f.a1, f.a2, "ann", "regenerate", false), a(f.a1, f.a3, "ann", "regenerate", false))

	// An explicit comparison between the same two messages wins, even
	// when it contradicts the ratings, and there is no duplicate.
	if _, err := s.Compare(ctx, ComparisonInput{ChosenID: f.a3, RejectedID: f.a1, Rater: "bob"}); err != nil {
		t.Fatal(err)
	}
	check("explicit wins", a(f.a1, f.a2, "ann", "regenerate", false), a(f.a3, f.a1, "bob", "compare", true))

	// Changing or clearing a rating changes the derived pairs with it.
	mustRate(t, s, f.a2, "ann", 1)
	check("changed", a(f.a2, f.a3, "ann", "regenerate", false), a(f.a3, f.a1, "bob", "compare", true))
	if _, err := s.ClearRating(ctx, f.a3, "ann"); err != nil {
		t.Fatal(err)
	}
	check("cleared", a(f.a3, f.a1, "bob", "compare", true))

	ps, _ := s.Pairs(ctx, Window{})
	p := ps[0]
	if len(p.Prompt) != 2 || p.Prompt[0].Role != "system" || p.Prompt[1].Content != "say hello" ||
		p.Chosen != "Hi there, friend." || p.Rejected != "Hello!" || p.ChosenPolicyVersion != 2 || p.RejectedPolicyVersion != 1 ||
		len(p.PromptIDs) != 1 || p.PromptIDs[0] != f.u1 || p.PromptKey != PromptKey(p.Prompt) {
		t.Errorf("pair = %+v", p)
	}
}

func TestExamplesAndWatermark(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	f := makeFixture(t, s)
	w0, _ := s.Watermark(ctx)
	mustRate(t, s, f.a1, "ann", 1)
	mustRate(t, s, f.b1, "ann", -1)
	w1, _ := s.Watermark(ctx)
	mustRate(t, s, f.a2, "ann", -1) // derives a1≻a2 at this seq
	mustRate(t, s, f.a1, "ann", 1)  // re-rated: counts as new data
	w2, _ := s.Watermark(ctx)
	if w0 != 0 || w1 != 2 || w2 != 4 {
		t.Fatalf("watermarks %d %d %d", w0, w1, w2)
	}
	for _, c := range []struct {
		w                 Window
		examples, pairs   int
		up, down, derived int
	}{
		{Window{}, 3, 1, 1, 2, 1},
		{Window{Since: 0, Until: w1}, 1, 0, 0, 1, 0}, // a1's rating moved past w1 when re-rated
		{Window{Since: w1}, 2, 1, 1, 1, 1},
		{Window{Since: w2}, 0, 0, 0, 0, 0},
	} {
		xs, err := s.Examples(ctx, c.w)
		if err != nil {
			t.Fatal(err)
		}
		ps, _ := s.Pairs(ctx, c.w)
		n, _ := s.Counts(ctx, c.w)
		if len(xs) != c.examples || len(ps) != c.pairs || n.Up != c.up || n.Down != c.down || n.DerivedPairs != c.derived {
			t.Errorf("window %+v: %d examples, %d pairs, counts %+v; want %d, %d, up %d down %d derived %d",
				c.w, len(xs), len(ps), n, c.examples, c.pairs, c.up, c.down, c.derived)
		}
	}
	xs, _ := s.Examples(ctx, Window{})
	var b1 Example
	for _, x := range xs {
		if x.MessageID == f.b1 {
			b1 = x
		}
	}
	want := []Turn{{"system", "be brief"}, {"user", "say hello"}, {"assistant", "Hello!"}, {"user", "안녕하세요 in Korean please"}}
	if fmt.Sprint(b1.Prompt) != fmt.Sprint(want) || b1.Label || b1.Completion != "안녕하세요! 사랑은 언제나 좋아요." ||
		b1.PolicyVersion != 2 || b1.Rater != "ann" || b1.Reason != "r-1" || b1.Status != StatusComplete {
		t.Errorf("example = %+v", b1)
	}
}

func TestHeldOutSplit(t *testing.T) {
	var keys []string
	for i := range 2000 {
		keys = append(keys, PromptKey([]Turn{{"user", fmt.Sprintf("question %d", i)}}))
	}
	for _, frac := range []float64{0, 0.1, 0.5, 1} {
		n := 0
		for _, k := range keys {
			first := HeldOut(k, frac)
			if first {
				n++
			}
			if again := HeldOut(k, frac); again != first {
				t.Fatal("HeldOut is not deterministic")
			}
		}
		got := float64(n) / float64(len(keys))
		if got < frac-0.04 || got > frac+0.04 {
			t.Errorf("fraction %.2f held out %.3f", frac, got)
		}
	}
	// Monotone: anything held out at 10% is held out at 50%.
	for _, k := range keys {
		if HeldOut(k, 0.1) && !HeldOut(k, 0.5) {
			t.Fatal("held-out sets are not nested")
		}
	}
	// All examples of one prompt land on the same side.
	p := []Turn{{"user", "same prompt"}}
	xs := []Example{{PromptKey: PromptKey(p), Label: true}, {PromptKey: PromptKey(p), Label: false}}
	tr, ho := SplitExamples(xs, 0.5)
	if len(tr) != 2 && len(ho) != 2 {
		t.Errorf("one prompt split across sides: %d/%d", len(tr), len(ho))
	}
	// Keys distinguish role and boundaries, not just concatenated text.
	if PromptKey([]Turn{{"user", "ab"}, {"user", "c"}}) == PromptKey([]Turn{{"user", "a"}, {"user", "bc"}}) ||
		PromptKey([]Turn{{"user", "x"}}) == PromptKey([]Turn{{"assistant", "x"}}) {
		t.Error("PromptKey collides on boundaries or roles")
	}
}

func TestSamePromptPairs(t *testing.T) {
	// Replies are named by message id; conv and parent say where each
	// sits, prompt which prompt it answers.
	type reply struct {
		id, conv, parent int64
		prompt, rater    string
		up               bool
	}
	ex := func(rs ...reply) []Example {
		var out []Example
		for i, r := range rs {
			out = append(out, Example{MessageID: r.id, ConversationID: r.conv, PromptIDs: []int64{r.parent},
				PromptKey: r.prompt, Rater: r.rater, Label: r.up, Completion: fmt.Sprint("reply ", r.id), Seq: int64(10 + i)})
		}
		return out
	}
	tests := []struct {
		name string
		xs   []Example
		have []Pair
		want []string // chosen>rejected
	}{
		{"two conversations, one question", ex(reply{1, 1, 10, "p", "ann", true}, reply{2, 2, 20, "p", "ann", false}), nil, []string{"1>2"}},
		{"rejected first", ex(reply{1, 1, 10, "p", "ann", false}, reply{2, 2, 20, "p", "ann", true}), nil, []string{"2>1"}},
		{"siblings are the store's", ex(reply{1, 1, 10, "p", "ann", true}, reply{2, 1, 10, "p", "ann", false}), nil, nil},
		{"other prompt", ex(reply{1, 1, 10, "p", "ann", true}, reply{2, 2, 20, "q", "ann", false}), nil, nil},
		{"other rater", ex(reply{1, 1, 10, "p", "ann", true}, reply{2, 2, 20, "p", "bob", false}), nil, nil},
		{"same label", ex(reply{1, 1, 10, "p", "ann", true}, reply{2, 2, 20, "p", "ann", true}), nil, nil},
		{"already compared", ex(reply{1, 1, 10, "p", "ann", true}, reply{2, 2, 20, "p", "ann", false}),
			[]Pair{{ChosenID: 2, RejectedID: 1}}, nil},
		{"every up with every down", ex(reply{1, 1, 10, "p", "ann", true}, reply{2, 1, 10, "p", "ann", false},
			reply{3, 2, 20, "p", "ann", false}, reply{4, 2, 20, "p", "ann", true}),
			nil, []string{"1>3", "4>2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := SamePromptPairs(tc.xs, tc.have)
			var got []string
			for _, p := range ps {
				got = append(got, fmt.Sprintf("%d>%d", p.ChosenID, p.RejectedID))
				if p.Source != SourcePrompt || p.Chosen != fmt.Sprint("reply ", p.ChosenID) || p.Rejected != fmt.Sprint("reply ", p.RejectedID) {
					t.Errorf("pair %+v", p)
				}
				if p.Seq != tc.xs[len(tc.xs)-1].Seq && len(tc.xs) == 2 {
					t.Errorf("pair seq %d, want the later rating's %d", p.Seq, tc.xs[len(tc.xs)-1].Seq)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("pairs %v, want %v", got, tc.want)
			}
		})
	}
}
