package feedback

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// childEnv selects a child-process role when the test binary re-executes
// itself (crash and concurrency tests).
const childEnv = "HONE_FEEDBACK_TEST_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role))
	}
	os.Exit(m.Run())
}

func openTest(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hone", "hone.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// fixture is a small conversation: system prompt, user turn u1, replies
// a1, a2, a3 (regenerations) and a follow-up user turn u2 under a1 with
// reply b1.
type fixture struct {
	conv                   Conversation
	u1, a1, a2, a3, u2, b1 int64
}

func makeFixture(t testing.TB, s *Store) fixture {
	t.Helper()
	ctx := context.Background()
	var f fixture
	var err error
	f.conv, err = s.CreateConversation(ctx, NewConversation{Title: "greetings", SystemPrompt: "be brief", Model: "stories260k"})
	if err != nil {
		t.Fatal(err)
	}
	add := func(parent int64, role Role, content string, pol int64) int64 {
		t.Helper()
		id, err := s.AppendMessage(ctx, Message{ConversationID: f.conv.ID, ParentID: parent, Role: role, Content: content,
			PolicyVersion: pol, Model: "m", Sampling: []byte(`{"temperature":0.7}`), CompletionTokens: 3,
			GenDuration: 12 * time.Millisecond})
		if err != nil {
			t.Fatalf("append %q: %v", content, err)
		}
		return id
	}
	f.u1 = add(0, RoleUser, "say hello", 0)
	f.a1 = add(f.u1, RoleAssistant, "Hello!", 1)
	f.a2 = add(f.u1, RoleAssistant, "Go away.", 1)
	f.a3 = add(f.u1, RoleAssistant, "Hi there, friend.", 2)
	f.u2 = add(f.a1, RoleUser, "안녕하세요 in Korean please", 0)
	f.b1 = add(f.u2, RoleAssistant, "안녕하세요! 사랑은 언제나 좋아요.", 2)
	return f
}

func mustRate(t testing.TB, s *Store, msg int64, rater string, v int) Rating {
	t.Helper()
	r, err := s.Rate(context.Background(), RatingInput{MessageID: msg, Rater: rater, Value: v, Reason: fmt.Sprintf("r%d", v)})
	if err != nil {
		t.Fatalf("rate %d by %s: %v", msg, rater, err)
	}
	return r
}
