package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hone-ai/hone/feedback"
)

// seedReplies stores two one-shot conversations (two replies) in home.
func seedReplies(t *testing.T, home string) {
	t.Helper()
	for _, p := range []string{"Once", "이야기"} {
		if _, e, code := chatRun(t, home, "", append([]string{"-p", p}, storiesArgs(t)...)...); code != 0 {
			t.Fatal(e)
		}
	}
}

func TestAnnotateAuto(t *testing.T) {
	home := t.TempDir()
	seedReplies(t, home)
	// An annotator in sh: 👍 with a reason for every reply, echoing the id.
	script := `while IFS= read -r line; do id=$(printf '%s' "$line" | sed 's/^{"id":"\([0-9]*\)".*/\1/'); ` +
		`printf '{"id":"%s","rating":1,"reason":"fine"}\n' "$id"; done`
	out, errs, code := chatRun(t, home, "", "annotate", "--auto", script, "--rater", "bot")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "2 up") {
		t.Fatalf("summary %q", out)
	}
	ctx := context.Background()
	st, err := feedback.Open(ctx, filepath.Join(home, "hone.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ex, err := st.Examples(ctx, feedback.Window{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 2 || ex[0].Rater != "bot" || !ex[0].Label || ex[0].Reason != "fine" {
		t.Fatalf("examples %+v", ex)
	}
	// Everything is rated now: nothing to do (exit 3).
	if _, _, code := chatRun(t, home, "", "annotate", "--auto", script, "--rater", "bot"); code != exitNothing {
		t.Fatalf("second run exit %d, want %d", code, exitNothing)
	}
	// A broken annotator is an error naming the problem.
	_, errs, code = chatRun(t, home, "", "annotate", "--auto", "echo not-json", "--rater", "other")
	if code != exitError || errs == "" {
		t.Fatalf("garbage annotator: exit %d %q", code, errs)
	}
	// Without a terminal and without --auto: usage.
	if _, _, code := chatRun(t, home, "", "annotate"); code != exitUsage {
		t.Fatalf("annotate without a terminal: exit %d", code)
	}
}
