package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hone-ai/hone/feedback"
)

// storeCmd runs hone in-process against db with USER=tester.
func storeCmd(t *testing.T, db, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"--db", db}, args...), strings.NewReader(stdin), &out, &errb,
		func(k string) string {
			switch k {
			case "USER":
				return "tester"
			case "HOME":
				return t.TempDir()
			}
			return ""
		})
	return out.String(), errb.String(), code
}

func TestRateExportImportCommands(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "hone.db")
	if _, stderr, code := storeCmd(t, db, "", "rate", "1", "up"); code != exitError || !strings.Contains(stderr, "no database") {
		t.Fatalf("rate without a database: code %d, %q", code, stderr)
	}
	s, err := feedback.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := s.CreateConversation(ctx, feedback.NewConversation{Title: "t"})
	u, _ := s.AppendMessage(ctx, feedback.Message{ConversationID: c.ID, Role: feedback.RoleUser, Content: "hi"})
	a, _ := s.AppendMessage(ctx, feedback.Message{ConversationID: c.ID, ParentID: u, Role: feedback.RoleAssistant, Content: "hello"})
	b, _ := s.AppendMessage(ctx, feedback.Message{ConversationID: c.ID, ParentID: u, Role: feedback.RoleAssistant, Content: "go away"})
	s.Close()
	id := func(v int64) string { return strconv.FormatInt(v, 10) }

	for _, tc := range []struct {
		args []string
		code int
		out  string // substring of stdout (or stderr when code != 0)
	}{
		{[]string{"rate", id(a), "up", "--reason", "kind"}, exitOK, `rated message ` + id(a) + ` up by tester`},
		{[]string{"rate", id(b), "down", "--rater", "ann", "--comment", "rude"}, exitOK, `by ann`},
		{[]string{"rate", id(b), "down"}, exitOK, `down by tester`},
		{[]string{"rate", id(b), "clear", "--rater", "ann"}, exitOK, `cleared ann's rating`},
		{[]string{"rate", id(b), "clear", "--rater", "ann"}, exitOK, `nothing cleared`},
		{[]string{"rate", id(u), "up"}, exitError, `user message`},
		{[]string{"rate", "999", "up"}, exitError, `not found`},
		{[]string{"rate", "x", "up"}, exitUsage, `not a positive integer`},
		{[]string{"rate", id(a), "sideways"}, exitUsage, `want up, down or clear`},
		{[]string{"rate", id(a)}, exitUsage, `want MESSAGE_ID`},
		{[]string{"export"}, exitUsage, `--format`},
		{[]string{"export", "--format", "csv"}, exitUsage, `trl-kto`},
		{[]string{"import"}, exitUsage, `name one FILE`},
	} {
		out, stderr, code := storeCmd(t, db, "", tc.args...)
		text := out
		if code != exitOK {
			text = stderr
		}
		if code != tc.code || !strings.Contains(text, tc.out) {
			t.Errorf("hone %v: code %d, stdout %q, stderr %q; want code %d and %q", tc.args, code, out, stderr, tc.code, tc.out)
		}
	}
	if out, stderr, code := storeCmd(t, db, "", "rate", id(a), "--rater=bob", "down", "--reason", "late"); code != 0 || !strings.Contains(out, `reason="late"`) {
		t.Errorf("interspersed flags: %d %q %q", code, out, stderr)
	}

	// export → import into a fresh database → export again: same rows.
	for _, f := range []string{"trl-kto", "trl-dpo", "openai-dpo"} {
		file := filepath.Join(t.TempDir(), f+".jsonl")
		if _, stderr, code := storeCmd(t, db, "", "export", "--format", f, "-o", file); code != 0 {
			t.Fatalf("export %s: %q", f, stderr)
		}
		st, err := os.Stat(file)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("export file: %v %v", st, err)
		}
		stdout, _, _ := storeCmd(t, db, "", "export", "--format", f)
		data, _ := os.ReadFile(file)
		if stdout != string(data) || len(data) == 0 {
			t.Errorf("%s: -o file and stdout differ or are empty", f)
		}
		db2 := filepath.Join(t.TempDir(), "copy.db")
		if out, stderr, code := storeCmd(t, db2, "", "import", file); code != 0 || !strings.Contains(out, "imported") {
			t.Fatalf("import %s: %d %q %q", f, code, out, stderr)
		}
		again, _, _ := storeCmd(t, db2, "", "export", "--format", f)
		if strings.Count(again, "\n") != strings.Count(stdout, "\n") {
			t.Errorf("%s: %d rows after round trip, %d before", f, strings.Count(again, "\n"), strings.Count(stdout, "\n"))
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"prompt\":\"q\",\"completion\":\"a\",\"label\":true}\n{nope\n"), 0o600)
	if _, stderr, code := storeCmd(t, db, "", "import", bad); code != exitError || !strings.Contains(stderr, "line 2") || !strings.Contains(stderr, "nothing was imported") {
		t.Errorf("malformed import: %d %q", code, stderr)
	}
}
