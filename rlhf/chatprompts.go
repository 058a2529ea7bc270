package rlhf

import "github.com/hone-ai/hone/model/defaultmodel/corpus"

// BuiltinChatPrompts are the lab's prompts for chat models (models with a
// chat template): n distinct user questions in Korean and English from
// the default model's corpus generator, drawn from its held-out side —
// definitions in phrasings and sums of number pairs the default model was
// never trained on, plus greetings, questions about hone, questions it
// cannot know and small instructions. The same n gives the same prompts.
func BuiltinChatPrompts(n int) ([]string, error) {
	ps, _, err := builtinChatPrompts(n)
	return ps, err
}

// builtinChatPrompts is BuiltinChatPrompts with each prompt's kind
// (greeting, define, add, instruct, hone or unknown).
func builtinChatPrompts(n int) (out, kinds []string, err error) {
	g, err := corpus.New(corpus.Options{Seed: 0x1ab, N: 64, Split: "eval"})
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	// The generator repeats small fixed sets (greetings, hone questions);
	// stop when a whole batch adds nothing new.
	for stale := 0; len(out) < n && stale < 50; {
		added := false
		for _, ex := range g.Generate() {
			q := ex.Messages[len(ex.Messages)-2].Content
			if !seen[q] && len(out) < n {
				seen[q] = true
				out = append(out, q)
				kinds = append(kinds, ex.Kind)
				added = true
			}
		}
		if added {
			stale = 0
		} else {
			stale++
		}
	}
	return out, kinds, nil
}
