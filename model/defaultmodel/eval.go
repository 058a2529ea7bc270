package defaultmodel

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/defaultmodel/corpus"
	"github.com/hone-ai/hone/model/template"
)

// Reply renders one user message with the model's chat template (no
// system prompt, as `hone -p` sends it) and returns the greedy reply.
func Reply(ctx context.Context, m *model.Model, user string, maxTokens int) (string, error) {
	return reply(ctx, m, []template.Message{{Role: "user", Content: user}}, maxTokens)
}

func reply(ctx context.Context, m *model.Model, msgs []template.Message, maxTokens int) (string, error) {
	prompt := m.Tok.EncodeSpecial(m.Template.Render(msgs, true))
	res, err := m.Generate(ctx, prompt, model.GenerateOptions{MaxTokens: maxTokens, Stop: m.Template.Stop()}, func(model.Token) error { return nil })
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(res.Text), nil
}

// Lang returns "ko" when most letters of s are Hangul, "en" when most are
// Latin, "" when s has no letters.
func Lang(s string) string {
	var ko, en int
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Hangul, r):
			ko++
		case r < 0x80 && unicode.IsLetter(r):
			en++
		}
	}
	switch {
	case ko == 0 && en == 0:
		return ""
	case ko*3 >= en: // a Hangul syllable carries about as much as three Latin letters
		return "ko"
	}
	return "en"
}

// Report is an evaluation of a model on held-out generated prompts.
type Report struct {
	Prompts int `json:"prompts"`

	LangTotal, LangOK int // replies in the language of the question
	AddTotal, AddOK   int // two-digit additions answered correctly
	DefTotal, DefOK   int // definition questions answered on topic

	Samples []Sample `json:"samples,omitempty"`
}

// Sample is one evaluated prompt.
type Sample struct {
	Kind, Prompt, Reply string
	OK                  bool
}

// Rates returns the three acceptance rates as fractions.
func (r Report) Rates() (lang, add, def float64) {
	f := func(a, b int) float64 {
		if b == 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	return f(r.LangOK, r.LangTotal), f(r.AddOK, r.AddTotal), f(r.DefOK, r.DefTotal)
}

func (r Report) String() string {
	l, a, d := r.Rates()
	return fmt.Sprintf("language %d/%d (%.1f%%)  addition %d/%d (%.1f%%)  definitions %d/%d (%.1f%%)",
		r.LangOK, r.LangTotal, 100*l, r.AddOK, r.AddTotal, 100*a, r.DefOK, r.DefTotal, 100*d)
}

var numberRE = regexp.MustCompile(`\d+`)

// Evaluate asks the model n held-out prompts (the generator's eval split:
// addition pairs and definition phrasings never trained on) and scores
// its greedy replies.
func Evaluate(ctx context.Context, m *model.Model, n int, seed uint64) (Report, error) {
	g, err := corpus.New(corpus.Options{Seed: seed, N: n, Split: "eval"})
	if err != nil {
		return Report{}, err
	}
	topicKeys := map[string]topic{}
	for _, t := range topicsForEval() {
		topicKeys[t.key] = t
	}
	var rep Report
	for _, ex := range g.Generate() {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		user := ex.Messages[len(ex.Messages)-2].Content
		out, err := reply(ctx, m, []template.Message{{Role: "user", Content: user}}, 96)
		if err != nil {
			return rep, fmt.Errorf("defaultmodel: evaluate %q: %w", user, err)
		}
		rep.Prompts++
		ok := true
		if ex.Kind != "instruct" { // translations mix languages by design
			rep.LangTotal++
			if Lang(out) == ex.Lang {
				rep.LangOK++
			} else {
				ok = false
			}
		}
		switch ex.Kind {
		case "add":
			rep.AddTotal++
			nums := numberRE.FindAllString(out, -1)
			if len(nums) > 0 && nums[len(nums)-1] == ex.Check || strings.Contains(out, "= "+ex.Check) || strings.Contains(out, "는 "+ex.Check) || strings.Contains(out, "is "+ex.Check) {
				rep.AddOK++
			} else {
				ok = false
			}
		case "define":
			rep.DefTotal++
			if onTopic(topicKeys[ex.Check], out) {
				rep.DefOK++
			} else {
				ok = false
			}
		}
		rep.Samples = append(rep.Samples, Sample{Kind: ex.Kind, Prompt: user, Reply: out, OK: ok})
	}
	return rep, nil
}

type topic struct {
	key      string
	keywords []string
}

func topicsForEval() []topic {
	var out []topic
	for _, t := range corpus.Topics() {
		out = append(out, topic{key: t.Key, keywords: append(append([]string{}, t.EnKeywords...), t.KoKeywords...)})
	}
	return out
}

func onTopic(t topic, reply string) bool {
	low := strings.ToLower(reply)
	for _, k := range t.keywords {
		if strings.Contains(low, strings.ToLower(k)) {
			return true
		}
	}
	return false
}
