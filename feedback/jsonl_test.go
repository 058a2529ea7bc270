package feedback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// richStore holds every kind of exportable data: multi-turn prompts, a
// system prompt, stopped replies, several raters, explicit and derived pairs.
func richStore(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	s, _ := openTest(t)
	f := makeFixture(t, s)
	if err := s.UpdateMessage(ctx, f.a3, MessageUpdate{Content: "Hi there, fri", Status: StatusStopped}); err != nil {
		t.Fatal(err)
	}
	// b1 is rated first: its prompt runs through a1, whose own rating row
	// (with a1's policy version) comes later in the export.
	if _, err := s.Rate(ctx, RatingInput{MessageID: f.b1, Rater: "bob", Value: 1, Reason: "좋아요", Comment: "line1\nline2 \"quoted\" <tag>"}); err != nil {
		t.Fatal(err)
	}
	mustRate(t, s, f.a1, "ann", 1)
	mustRate(t, s, f.a2, "ann", -1)
	mustRate(t, s, f.a3, "ann", -1)
	if _, err := s.Compare(ctx, ComparisonInput{ChosenID: f.a3, RejectedID: f.a2, Rater: "bob", Reason: "less rude"}); err != nil {
		t.Fatal(err)
	}
	// A second conversation with the same first question: must stay separate.
	c2, _ := s.CreateConversation(ctx, NewConversation{Title: "again"})
	u, _ := s.AppendMessage(ctx, Message{ConversationID: c2.ID, Role: RoleUser, Content: "say hello"})
	x, _ := s.AppendMessage(ctx, Message{ConversationID: c2.ID, ParentID: u, Role: RoleAssistant, Content: "Hello!"})
	y, _ := s.AppendMessage(ctx, Message{ConversationID: c2.ID, ParentID: u, Role: RoleAssistant, Content: "Yo."})
	mustRate(t, s, x, "ann", -1)
	mustRate(t, s, y, "ann", 1)
	return s
}

// idFields are the metadata fields that name rows of one database; they
// differ after an import into another one. Everything else must not.
var idFields = []string{"conversation_id", "prompt_ids", "message_id", "rating_id", "seq", "parent_id", "chosen_id", "rejected_id", "comparison_id"}

func normalize(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i+1, err, line)
		}
		meta := m["metadata"].(map[string]any)
		for _, k := range idFields {
			delete(meta, k)
		}
		b, _ := json.Marshal(m)
		out = append(out, string(b))
	}
	return out
}

func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := richStore(t)
	wantRows := map[Format]int{FormatTRLKTO: 6, FormatTRLDPO: 4, FormatOpenAIDPO: 4}
	for _, f := range Formats() {
		t.Run(string(f), func(t *testing.T) {
			var a bytes.Buffer
			n, err := src.Export(ctx, &a, f, Window{})
			if err != nil {
				t.Fatal(err)
			}
			if n != wantRows[f] {
				t.Errorf("exported %d rows, want %d", n, wantRows[f])
			}
			dst, _ := openTest(t)
			st, err := dst.Import(ctx, bytes.NewReader(a.Bytes()))
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			if st.Rows != n || st.Conversations != 2 {
				t.Errorf("import stats %+v", st)
			}
			var b bytes.Buffer
			if _, err := dst.Export(ctx, &b, f, Window{}); err != nil {
				t.Fatal(err)
			}
			na, nb := normalize(t, a.Bytes()), normalize(t, b.Bytes())
			if strings.Join(na, "\n") != strings.Join(nb, "\n") {
				t.Errorf("round trip differs:\nfirst:\n%s\nsecond:\n%s", strings.Join(na, "\n"), strings.Join(nb, "\n"))
			}
			// Structure survives too: regenerations come back as siblings,
			// so the same derived pairs appear from imported ratings.
			if f == FormatTRLKTO {
				srcPairs, _ := src.Pairs(ctx, Window{})
				dstPairs, _ := dst.Pairs(ctx, Window{})
				derived := func(ps []Pair) (n int) {
					for _, p := range ps {
						if p.ComparisonID == 0 {
							n++
						}
					}
					return n
				}
				if derived(srcPairs) != derived(dstPairs) {
					t.Errorf("derived pairs %d after import, %d before", derived(dstPairs), derived(srcPairs))
				}
			}
		})
	}
}

func TestExportFields(t *testing.T) {
	ctx := context.Background()
	s := richStore(t)
	keys := func(m map[string]json.RawMessage) string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return strings.Join(ks, ",")
	}
	pairMeta := "chosen_id,chosen_policy_version,comparison_id,conversation_id,conversation_title,parent_id,prompt_ids,rater,reason,rejected_id,rejected_policy_version,seq,source,time"
	for _, c := range []struct {
		f           Format
		top, meta   string
		turnsFields []string
	}{
		{FormatTRLKTO, "completion,label,metadata,prompt",
			"comment,conversation_id,conversation_title,message_id,model,policy_version,prompt_ids,rater,rating_id,reason,seq,status,time",
			[]string{"prompt", "completion"}},
		{FormatTRLDPO, "chosen,metadata,prompt,rejected", pairMeta, []string{"prompt", "chosen", "rejected"}},
		{FormatOpenAIDPO, "input,metadata,non_preferred_output,preferred_output", pairMeta, []string{"preferred_output", "non_preferred_output"}},
	} {
		var buf bytes.Buffer
		if _, err := s.Export(ctx, &buf, c.f, Window{}); err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
			var row map[string]json.RawMessage
			if err := json.Unmarshal([]byte(line), &row); err != nil {
				t.Fatalf("%s line %d: %v", c.f, i+1, err)
			}
			var meta map[string]json.RawMessage
			json.Unmarshal(row["metadata"], &meta)
			if keys(row) != c.top || keys(meta) != c.meta {
				t.Errorf("%s line %d keys %s / metadata %s", c.f, i+1, keys(row), keys(meta))
			}
			fields := c.turnsFields
			if c.f == FormatOpenAIDPO {
				var in map[string]json.RawMessage
				json.Unmarshal(row["input"], &in)
				if keys(in) != "messages" {
					t.Errorf("input keys %s", keys(in))
				}
				row["input.messages"] = in["messages"]
				fields = append(fields, "input.messages")
			}
			for _, fld := range fields {
				var ts []map[string]string
				if err := json.Unmarshal(row[fld], &ts); err != nil || len(ts) == 0 {
					t.Errorf("%s line %d %s: %v", c.f, i+1, fld, err)
				}
				for _, turn := range ts {
					if len(turn) != 2 || turn["role"] == "" {
						t.Errorf("%s line %d %s turn %v", c.f, i+1, fld, turn)
					}
				}
			}
		}
	}
}

func TestImportForeignTRL(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	// TRL rows without metadata, conversational and standard (string) form.
	in := `{"prompt":[{"role":"user","content":"capital of France?"}],"completion":[{"role":"assistant","content":"Paris"}],"label":true}
{"prompt":[{"role":"user","content":"capital of France?"}],"completion":[{"role":"assistant","content":"Lyon"}],"label":false}

{"prompt":"2+2?","chosen":"4","rejected":"5"}
{"input":{"messages":[{"role":"system","content":"terse"},{"role":"user","content":"hi"}]},"preferred_output":[{"role":"assistant","content":"hi"}],"non_preferred_output":[{"role":"assistant","content":"HELLO THERE"}]}
`
	st, err := s.Import(ctx, strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 4 || st.Conversations != 3 || st.Ratings != 2 || st.Comparisons != 2 {
		t.Errorf("stats %+v", st)
	}
	ps, _ := s.Pairs(ctx, Window{})
	// Paris/Lyon share a prompt, so they are siblings and derive a pair.
	if len(ps) != 3 {
		t.Fatalf("pairs = %+v", ps)
	}
	xs, _ := s.Examples(ctx, Window{})
	if len(xs) != 2 || xs[0].Rater != "import" || xs[0].Completion != "Paris" {
		t.Errorf("examples = %+v", xs)
	}
}

func TestImportMalformed(t *testing.T) {
	ctx := context.Background()
	good := `{"prompt":[{"role":"user","content":"q"}],"completion":[{"role":"assistant","content":"a"}],"label":true}`
	for _, c := range []struct {
		name string
		body string
		line int
	}{
		{"not json", good + "\n{oops\n", 2},
		{"array", good + "\n" + good + "\n[1,2]\n", 3},
		{"unknown shape", `{"text":"hello"}`, 1},
		{"label missing", `{"prompt":"q","completion":"a"}`, 1},
		{"label not bool", `{"prompt":"q","completion":"a","label":"yes"}`, 1},
		{"bad role", `{"prompt":[{"role":"wizard","content":"q"}],"completion":"a","label":true}`, 1},
		{"content not string", `{"prompt":[{"role":"user","content":5}],"completion":"a","label":true}`, 1},
		{"two-turn completion", `{"prompt":"q","completion":[{"role":"assistant","content":"a"},{"role":"assistant","content":"b"}],"label":true}`, 1},
		{"prompt ends with assistant", `{"prompt":[{"role":"user","content":"q"},{"role":"assistant","content":"x"}],"completion":"a","label":true}`, 1},
		{"rejected missing", "\n\n" + `{"prompt":"q","chosen":"a"}`, 3},
		{"openai without input", `{"preferred_output":[{"role":"assistant","content":"a"}],"non_preferred_output":[{"role":"assistant","content":"b"}]}`, 1},
		{"bad time", `{"prompt":"q","completion":"a","label":true,"metadata":{"time":"yesterday"}}`, 1},
		{"bad source", `{"prompt":"q","chosen":"a","rejected":"b","metadata":{"source":"vibes"}}`, 1},
		// Caught only while writing (chosen and rejected are one message):
		// the rows before it must be rolled back too.
		{"identical pair", good + "\n" + `{"prompt":"q","chosen":"same","rejected":"same"}`, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _ := openTest(t)
			_, err := s.Import(ctx, strings.NewReader(c.body))
			var ie *ImportError
			if !errors.As(err, &ie) || ie.Line != c.line {
				t.Fatalf("Import = %v; want an ImportError at line %d", err, c.line)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("line %d", c.line)) {
				t.Errorf("message %q lacks the line number", err)
			}
			for _, table := range []string{"conversations", "messages", "ratings", "comparisons"} {
				var n int
				s.DB().QueryRow(`SELECT count(*) FROM ` + table).Scan(&n)
				if n != 0 {
					t.Errorf("%d %s half-imported", n, table)
				}
			}
		})
	}
}
