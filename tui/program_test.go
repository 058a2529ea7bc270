package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/hone-ai/hone/chat"
)

// TestEditorAndQuitInProgram runs the chat screen as a real Bubble Tea
// program (teatest): ctrl+o runs $EDITOR on the message and takes its
// text back; ctrl+c on an idle chat quits.
func TestEditorAndQuitInProgram(t *testing.T) {
	dir := t.TempDir()
	editor := filepath.Join(dir, "editor.sh")
	script := "#!/bin/sh\nprintf 'written in the editor 편집기' > \"$1\"\n"
	if err := os.WriteFile(editor, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	m := New(Options{Session: chat.NewSession(tinyEngine(t), nil, ""), Dark: true, Editor: editor})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	tm.Send(tea.KeyPressMsg{Code: 'o', Mod: tea.ModCtrl})
	// The renderer writes only the cells that change, so look for the
	// Korean word, which shares no cell with the placeholder it replaces.
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return strings.Contains(string(b), "편집기") },
		teatest.WithDuration(10*time.Second))
	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
	final := tm.FinalModel(t).(*Model)
	if got := final.input.Value(); !strings.Contains(got, "written in the editor 편집기") {
		t.Fatalf("input after $EDITOR: %q", got)
	}
}
