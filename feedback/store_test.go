package feedback

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestConversationTree(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	f := makeFixture(t, s)

	tree, err := s.Conversation(ctx, f.conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(tree.Messages); got != 6 {
		t.Fatalf("tree has %d messages, want 6", got)
	}
	if tree.Conversation.LeafID != f.b1 || tree.Conversation.MessageCount != 6 || tree.Conversation.SystemPrompt != "be brief" {
		t.Errorf("conversation = %+v", tree.Conversation)
	}
	var path []int64
	for _, m := range tree.Path(f.b1) {
		path = append(path, m.ID)
	}
	if fmt.Sprint(path) != fmt.Sprint([]int64{f.u1, f.a1, f.u2, f.b1}) {
		t.Errorf("Path(b1) = %v", path)
	}
	if got := len(tree.Children(f.u1)); got != 3 {
		t.Errorf("Children(u1) = %d, want 3", got)
	}
	m, ok := tree.Message(f.a1)
	if !ok || m.PolicyVersion != 1 || string(m.Sampling) != `{"temperature":0.7}` || m.GenDuration != 12*time.Millisecond || m.Status != StatusComplete {
		t.Errorf("a1 = %+v", m)
	}

	sib, err := s.Siblings(ctx, f.a2)
	if err != nil || len(sib) != 3 || sib[0].ID != f.a1 || sib[2].ID != f.a3 {
		t.Errorf("Siblings(a2) = %v, %v", sib, err)
	}
	roots, err := s.Siblings(ctx, f.u1)
	if err != nil || len(roots) != 1 {
		t.Errorf("Siblings(root) = %v, %v", roots, err)
	}

	// A streamed reply: appended empty, then finished or stopped.
	id, err := s.AppendMessage(ctx, Message{ConversationID: f.conv.ID, ParentID: f.u1, Role: RoleAssistant, Status: StatusStreaming})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateMessage(ctx, id, MessageUpdate{Content: "Hel", Status: StatusStopped, CompletionTokens: 1}); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Message(ctx, id); err != nil || m.Content != "Hel" || m.Status != StatusStopped || m.CompletionTokens != 1 {
		t.Errorf("after UpdateMessage: %+v, %v", m, err)
	}
	if err := s.SetLeaf(ctx, f.conv.ID, f.a3); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.LastConversation(ctx); c.LeafID != f.a3 {
		t.Errorf("leaf = %d, want %d", c.LeafID, f.a3)
	}

	for _, c := range []struct {
		name string
		m    Message
		want error
	}{
		{"bad role", Message{ConversationID: f.conv.ID, Role: "robot"}, ErrInvalid},
		{"bad status", Message{ConversationID: f.conv.ID, Role: RoleUser, Status: "weird"}, ErrInvalid},
		{"no conversation", Message{ConversationID: 999, Role: RoleUser}, ErrNotFound},
		{"no parent", Message{ConversationID: f.conv.ID, ParentID: 999, Role: RoleUser}, ErrNotFound},
		{"bad sampling", Message{ConversationID: f.conv.ID, Role: RoleUser, Sampling: []byte("{")}, ErrInvalid},
	} {
		if _, err := s.AppendMessage(ctx, c.m); !errors.Is(err, c.want) {
			t.Errorf("%s: AppendMessage = %v, want %v", c.name, err, c.want)
		}
	}
	other, _ := s.CreateConversation(ctx, NewConversation{Title: "other"})
	if _, err := s.AppendMessage(ctx, Message{ConversationID: other.ID, ParentID: f.u1, Role: RoleUser}); !errors.Is(err, ErrInvalid) {
		t.Errorf("parent from another conversation: %v", err)
	}
	if err := s.SetLeaf(ctx, other.ID, f.a1); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetLeaf to a foreign message: %v", err)
	}
}

func TestListRenameDelete(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if _, err := s.LastConversation(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LastConversation on empty store: %v", err)
	}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	f := makeFixture(t, s)
	second, _ := s.CreateConversation(ctx, NewConversation{Title: "second"})
	list, err := s.ListConversations(ctx, 0, 0)
	if err != nil || len(list) != 2 || list[0].ID != second.ID {
		t.Fatalf("ListConversations = %+v, %v", list, err)
	}
	// Appending moves a conversation to the front.
	if _, err := s.AppendMessage(ctx, Message{ConversationID: f.conv.ID, ParentID: f.b1, Role: RoleUser, Content: "more"}); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.LastConversation(ctx); c.ID != f.conv.ID {
		t.Errorf("LastConversation = %d, want %d", c.ID, f.conv.ID)
	}
	if list, _ := s.ListConversations(ctx, 1, 1); len(list) != 1 || list[0].ID != second.ID {
		t.Errorf("page 2 = %+v", list)
	}
	if err := s.RenameConversation(ctx, second.ID, "renamed"); err != nil {
		t.Fatal(err)
	}
	if tr, _ := s.Conversation(ctx, second.ID); tr.Conversation.Title != "renamed" {
		t.Errorf("title = %q", tr.Conversation.Title)
	}
	if err := s.RenameConversation(ctx, 999, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("rename missing: %v", err)
	}

	mustRate(t, s, f.a1, "ann", 1)
	mustRate(t, s, f.a2, "ann", -1)
	if _, err := s.Compare(ctx, ComparisonInput{ChosenID: f.a3, RejectedID: f.a2, Rater: "ann"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConversation(ctx, f.conv.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Conversation(ctx, f.conv.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted conversation still readable: %v", err)
	}
	for _, table := range []string{"messages", "ratings", "comparisons"} {
		var n int
		s.DB().QueryRow(`SELECT count(*) FROM ` + table).Scan(&n)
		if n != 0 {
			t.Errorf("%d %s left after delete", n, table)
		}
	}
	if hits, err := s.Search(ctx, "hello", 10); err != nil || len(hits) != 0 {
		t.Errorf("search finds deleted messages: %v, %v", hits, err)
	}
	if err := s.DeleteConversation(ctx, f.conv.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestSearch(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	f := makeFixture(t, s)
	if err := s.UpdateMessage(ctx, f.a3, MessageUpdate{Content: "Greetings, 100% friend_ly"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		query string
		want  []int64
	}{
		{"hello", []int64{f.u1, f.a1}}, // case-insensitive substring, both messages
		{"HELLO say", []int64{f.u1}},   // every term must match
		{"안녕하세요", []int64{f.u2, f.b1}}, // Korean, whole word
		{"사랑", []int64{f.b1}},          // 2-syllable Korean inside "사랑은" (LIKE fallback)
		{"랑은 언제", []int64{f.b1}},       // mixed short/long terms
		{"go", []int64{f.a2}},          // 2-letter term, case-insensitive (LIKE fallback)
		{"100%", []int64{f.a3}},        // LIKE metacharacters are literal
		{"friend_ly", []int64{f.a3}},   // trigram + underscore
		{`"quoted"`, nil},              // FTS syntax is not interpreted
		{"zzz", nil},
		{"   ", nil},
	} {
		hits, err := s.Search(ctx, c.query, 10)
		if err != nil {
			t.Errorf("Search(%q): %v", c.query, err)
			continue
		}
		got := map[int64]bool{}
		for _, h := range hits {
			got[h.MessageID] = true
			if h.Title != "greetings" || h.ConversationID != f.conv.ID || h.Snippet == "" {
				t.Errorf("Search(%q) hit %+v", c.query, h)
			}
		}
		if len(got) != len(c.want) {
			t.Errorf("Search(%q) = %v, want ids %v", c.query, hits, c.want)
			continue
		}
		for _, id := range c.want {
			if !got[id] {
				t.Errorf("Search(%q) misses message %d: %v", c.query, id, hits)
			}
		}
	}
	hits, _ := s.Search(ctx, "안녕하세요", 10)
	if len(hits) > 0 && !strings.Contains(hits[0].Snippet, "[") {
		t.Errorf("snippet does not mark the match: %q", hits[0].Snippet)
	}
}

func TestRatingsAndComparisons(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	f := makeFixture(t, s)
	r1 := mustRate(t, s, f.a1, "ann", 1)
	r2, err := s.Rate(ctx, RatingInput{MessageID: f.a1, Rater: "ann", Value: -1, Reason: "rude", Comment: "changed my mind"})
	if err != nil {
		t.Fatal(err)
	}
	if r2.ID != r1.ID || r2.Value != -1 || r2.Seq <= r1.Seq || r2.Reason != "rude" || !r2.CreatedAt.Equal(r1.CreatedAt) {
		t.Errorf("changed rating = %+v (was %+v)", r2, r1)
	}
	mustRate(t, s, f.a1, "bob", 1)
	rs, _ := s.Ratings(ctx, f.a1)
	if len(rs) != 2 {
		t.Fatalf("ratings = %+v", rs)
	}
	if ok, err := s.ClearRating(ctx, f.a1, "ann"); !ok || err != nil {
		t.Errorf("clear = %v, %v", ok, err)
	}
	if ok, err := s.ClearRating(ctx, f.a1, "ann"); ok || err != nil {
		t.Errorf("second clear = %v, %v", ok, err)
	}
	for _, c := range []struct {
		name string
		in   RatingInput
		want error
	}{
		{"user message", RatingInput{MessageID: f.u1, Rater: "ann", Value: 1}, ErrInvalid},
		{"zero value", RatingInput{MessageID: f.a1, Rater: "ann", Value: 0}, ErrInvalid},
		{"no rater", RatingInput{MessageID: f.a1, Rater: " ", Value: 1}, ErrInvalid},
		{"missing message", RatingInput{MessageID: 999, Rater: "ann", Value: 1}, ErrNotFound},
	} {
		if _, err := s.Rate(ctx, c.in); !errors.Is(err, c.want) {
			t.Errorf("%s: Rate = %v, want %v", c.name, err, c.want)
		}
	}

	k1, err := s.Compare(ctx, ComparisonInput{ChosenID: f.a1, RejectedID: f.a2, Rater: "ann"})
	if err != nil || k1.ParentID != f.u1 || k1.Source != SourceCompare {
		t.Fatalf("Compare = %+v, %v", k1, err)
	}
	// The same rater changing their mind replaces, in either direction.
	k2, err := s.Compare(ctx, ComparisonInput{ChosenID: f.a2, RejectedID: f.a1, Rater: "ann", Source: SourceRegenerate})
	if err != nil {
		t.Fatal(err)
	}
	tree, _ := s.Conversation(ctx, f.conv.ID)
	if len(tree.Comparisons) != 1 || tree.Comparisons[0].ID != k2.ID || tree.Comparisons[0].ChosenID != f.a2 {
		t.Errorf("comparisons = %+v", tree.Comparisons)
	}
	for _, c := range []struct {
		name string
		in   ComparisonInput
		want error
	}{
		{"not siblings", ComparisonInput{ChosenID: f.a1, RejectedID: f.b1, Rater: "ann"}, ErrInvalid},
		{"user message", ComparisonInput{ChosenID: f.u1, RejectedID: f.a1, Rater: "ann"}, ErrInvalid},
		{"itself", ComparisonInput{ChosenID: f.a1, RejectedID: f.a1, Rater: "ann"}, ErrInvalid},
		{"bad source", ComparisonInput{ChosenID: f.a1, RejectedID: f.a2, Rater: "ann", Source: "vibes"}, ErrInvalid},
		{"missing", ComparisonInput{ChosenID: f.a1, RejectedID: 999, Rater: "ann"}, ErrNotFound},
	} {
		if _, err := s.Compare(ctx, c.in); !errors.Is(err, c.want) {
			t.Errorf("%s: Compare = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestPolicyRegistry(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if _, err := s.ActivePolicy(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ActivePolicy on empty registry: %v", err)
	}
	base, err := s.CreatePolicy(ctx, Policy{Name: "default", Base: "stories260k", Path: "/m/base.gguf", Algorithm: "base"})
	if err != nil || base.Version != 1 || base.Status != PolicyCandidate || string(base.Metrics) != "{}" {
		t.Fatalf("CreatePolicy = %+v, %v", base, err)
	}
	if err := s.Promote(ctx, 1); err != nil {
		t.Fatal(err)
	}
	v2, _ := s.CreatePolicy(ctx, Policy{Name: "default", ParentVersion: 1, Algorithm: "kto", Metrics: []byte(`{"kl":0.1}`)})
	v3, _ := s.CreatePolicy(ctx, Policy{Name: "default", ParentVersion: 2, Algorithm: "dpo"})
	if _, err := s.CreatePolicy(ctx, Policy{ParentVersion: 99}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing parent: %v", err)
	}
	if _, err := s.CreatePolicy(ctx, Policy{Metrics: []byte("{")}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad metrics: %v", err)
	}
	for _, v := range []int64{v2.Version, v3.Version} {
		if err := s.Promote(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	act, _ := s.ActivePolicy(ctx)
	if act.Version != 3 || act.Replaced != 2 {
		t.Errorf("active = %+v", act)
	}
	all, _ := s.Policies(ctx)
	nActive := 0
	for _, p := range all {
		if p.Status == PolicyActive {
			nActive++
		}
	}
	if nActive != 1 {
		t.Errorf("%d active policies", nActive)
	}
	lin, err := s.Lineage(ctx, 3)
	if err != nil || len(lin) != 3 || lin[2].Version != 1 {
		t.Errorf("Lineage(3) = %+v, %v", lin, err)
	}
	if err := s.Retire(ctx, 3); !errors.Is(err, ErrInvalid) {
		t.Errorf("retiring the active policy: %v", err)
	}
	back, err := s.Rollback(ctx)
	if err != nil || back.Version != 2 {
		t.Fatalf("Rollback = %+v, %v", back, err)
	}
	back, err = s.Rollback(ctx)
	if err != nil || back.Version != 1 {
		t.Fatalf("second Rollback = %+v, %v", back, err)
	}
	if _, err := s.Rollback(ctx); !errors.Is(err, ErrInvalid) {
		t.Errorf("rollback past the base: %v", err)
	}
	if p, _ := s.Policy(ctx, 3); p.Status != PolicyRetired || p.RetiredAt.IsZero() {
		t.Errorf("v3 after rollbacks = %+v", p)
	}
	if err := s.SetPolicyMetrics(ctx, 2, []byte(`{"rewards/margins":0.5}`)); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Policy(ctx, 2); string(p.Metrics) != `{"rewards/margins":0.5}` {
		t.Errorf("metrics = %s", p.Metrics)
	}
	// The database itself refuses a second active policy.
	if _, err := s.DB().Exec(`UPDATE policies SET status = 'active' WHERE version = 3`); err == nil {
		t.Error("two active policies accepted")
	}

	run, err := s.StartRun(ctx, TrainingRun{Algorithm: "kto", PolicyVersion: 1, WatermarkFrom: 0, WatermarkTo: 42, Examples: 40})
	if err != nil || run.ID == 0 || run.Outcome != OutcomeRunning {
		t.Fatalf("StartRun = %+v, %v", run, err)
	}
	if err := s.UpdateRun(ctx, run.ID, []byte(`{"step":10}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, run.ID, RunResult{Outcome: OutcomeRejected, CandidateVersion: 3, Error: "kl over budget"}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Run(ctx, run.ID)
	if got.Outcome != OutcomeRejected || got.CandidateVersion != 3 || string(got.Metrics) != `{"step":10}` || got.FinishedAt.IsZero() || got.WatermarkTo != 42 {
		t.Errorf("run = %+v", got)
	}
	if err := s.FinishRun(ctx, run.ID, RunResult{Outcome: "bogus"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bogus outcome: %v", err)
	}
	if runs, _ := s.Runs(ctx, 0); len(runs) != 1 {
		t.Errorf("Runs = %+v", runs)
	}
}
