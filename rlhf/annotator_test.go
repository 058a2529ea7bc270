package rlhf

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func script(name string, args ...string) string {
	p, _ := filepath.Abs(filepath.Join("testdata", name))
	return strings.Join(append([]string{p}, args...), " ")
}

func req(id, reply string) AnnotationRequest {
	return AnnotationRequest{ID: id, Messages: []Turn{{Role: "user", Content: `say "id":"x" \ please`}}, Reply: reply}
}

func TestRuleAnnotators(t *testing.T) {
	cases := []struct {
		cmd   string
		reply string
		want  int
	}{
		{script("approve-word.sh", "big"), "He saw a Big dog.", 1},
		{script("approve-word.sh", "big"), "He saw a bigger dog.", -1},
		{script("approve-word.sh", "big"), "\"big\"\nthen", 1},
		{script("approve-short.sh", "5"), "one two three four", 1},
		{script("approve-short.sh", "5"), "one two three four five", -1},
		{script("approve-short.sh", "5"), "one\ntwo\tthree four five six", -1},
		{script("approve-period.sh"), "The end.", 1},
		{script("approve-period.sh"), "The end. ", 1},
		{script("approve-period.sh"), "The end", -1},
		{script("approve-period.sh"), `She said "stop."`, -1},
		{script("approve-end.sh"), "안녕하세요!", 1},
		{script("approve-end.sh"), "Hi! \n", 1},
		{script("approve-end.sh"), "Hi!.", -1},
		{script("approve-end.sh", "?"), "How are you?", 1},
		{script("approve-without.sh"), "93 + 42 = 135입니다.", 1},
		{script("approve-without.sh"), "90 + 40 = 130, and 3 + 2 = 5.", -1},
		{script("approve-without.sh", "!"), "Hi!", -1},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			a, err := StartAnnotator(tc.cmd, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			js, err := a.Annotate(context.Background(), []AnnotationRequest{req("q1", tc.reply)})
			if err != nil {
				t.Fatal(err)
			}
			if js[0].ID != "q1" || js[0].Rating != tc.want || js[0].Reason == "" {
				t.Errorf("%s on %q: %+v, want rating %d", tc.cmd, tc.reply, js[0], tc.want)
			}
		})
	}
}

// Many requests in one call: the annotator must answer line by line
// without waiting for EOF, and the answers come back in order.
func TestAnnotatorManyInOrder(t *testing.T) {
	a, err := StartAnnotator(script("approve-word.sh", "dog"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var reqs []AnnotationRequest
	for i := 0; i < 700; i++ {
		r := "a cat"
		if i%3 == 0 {
			r = "a dog"
		}
		reqs = append(reqs, req(fmt.Sprintf("id-%d", i), r+strings.Repeat(" and more words", 20)))
	}
	for round := 0; round < 2; round++ {
		js, err := a.Annotate(context.Background(), reqs)
		if err != nil {
			t.Fatal(err)
		}
		for i, j := range js {
			want := -1
			if i%3 == 0 {
				want = 1
			}
			if j.ID != reqs[i].ID || j.Rating != want {
				t.Fatalf("answer %d: %+v", i, j)
			}
		}
	}
}

func TestAnnotatorFailures(t *testing.T) {
	cases := []struct {
		name, cmd, want string
	}{
		{"dies", `read line; echo "boom" >&2; exit 3`, "boom"},
		{"garbage", `while read line; do echo "not json"; done`, "not a JSON object"},
		{"no rating", `while read line; do echo '{"id":"q1"}'; done`, `no "rating"`},
		{"wrong id", `while read line; do echo '{"id":"zzz","rating":1}'; done`, "in order"},
		{"bad rating", `while read line; do echo '{"id":"q1","rating":5}'; done`, "must be 1, -1 or 0"},
		{"silent", `sleep 30`, "within"},
		{"missing command", `/nonexistent/annotator-xyz`, "no answer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := StartAnnotator(tc.cmd, 500*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			_, err = a.Annotate(context.Background(), []AnnotationRequest{req("q1", "x")})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
			// Broken for good: a second call fails at once.
			if _, err2 := a.Annotate(context.Background(), []AnnotationRequest{req("q2", "x")}); err2 == nil {
				t.Error("second call after a failure succeeded")
			}
		})
	}
	if _, err := StartAnnotator("  ", 0); err == nil {
		t.Error("empty command accepted")
	}
}
