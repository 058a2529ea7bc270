// Package template renders chat conversations into the prompt formats
// that chat-tuned Llama-family models were trained on: ChatML, Llama 2,
// Llama 3 and Zephyr, plus a plain transcript for base models.
//
// Rendered text contains the formats' special tokens as text (such as
// "<|im_start|>"); encode it with the tokenizer's special-token-aware
// encoder so that they become single control tokens. Render never writes
// the leading BOS token: the caller adds it when the vocabulary asks for
// one (the tokenizer's AddBOS), as llama.cpp does.
package template

import (
	"fmt"
	"sort"
	"strings"
)

// Message is one turn of a conversation. Role is "system", "user" or
// "assistant".
type Message struct {
	Role, Content string
}

// Template renders a conversation as a prompt.
type Template interface {
	// Name is the template's name, as ByName takes it.
	Name() string
	// Render formats msgs; with addGenerationPrompt it ends with the
	// header of an assistant turn for the model to complete.
	Render(msgs []Message, addGenerationPrompt bool) string
	// Stop lists strings that end an assistant turn; generation should
	// stop at them (they are also control tokens in the models' own
	// vocabularies, where the engine stops at them anyway).
	Stop() []string
}

type fmtFunc func(msgs []Message, gen bool) string

type tmpl struct {
	name   string
	render fmtFunc
	stop   []string
}

func (t *tmpl) Name() string                           { return t.name }
func (t *tmpl) Render(msgs []Message, gen bool) string { return t.render(msgs, gen) }
func (t *tmpl) Stop() []string                         { return append([]string(nil), t.stop...) }

func all() map[string]*tmpl {
	return map[string]*tmpl{
		"chatml": {"chatml", renderChatML, []string{"<|im_end|>"}},
		"llama2": {"llama2", renderLlama2, []string{"</s>", "[INST]"}},
		"llama3": {"llama3", renderLlama3, []string{"<|eot_id|>", "<|end_of_text|>"}},
		"zephyr": {"zephyr", renderZephyr, []string{"</s>", "<|user|>"}},
		"plain":  {"plain", renderPlain, []string{"\nUser:"}},
	}
}

// Names lists the known template names, sorted.
func Names() []string {
	var ns []string
	for n := range all() {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// ByName returns the template called name (chatml, llama2, llama3,
// zephyr, plain).
func ByName(name string) (Template, error) {
	t, ok := all()[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return nil, fmt.Errorf("template: unknown chat template %q (have %s)", name, strings.Join(Names(), ", "))
	}
	return t, nil
}

// Plain returns the plain transcript template for base models.
func Plain() Template { return all()["plain"] }

// Detect recognises a Jinja chat template (a GGUF file's
// tokenizer.chat_template) by its distinctive markers and returns the
// matching known template; ok is false when none matches.
func Detect(chatTemplate string) (t Template, ok bool) {
	s := chatTemplate
	var name string
	switch {
	case s == "":
		return nil, false
	case strings.Contains(s, "<|start_header_id|>"):
		name = "llama3"
	case strings.Contains(s, "<|im_start|>"):
		name = "chatml"
	case strings.Contains(s, "<|user|>") && strings.Contains(s, "<|assistant|>"):
		name = "zephyr"
	case strings.Contains(s, "[INST]"):
		name = "llama2"
	default:
		return nil, false
	}
	return all()[name], true
}

func renderChatML(msgs []Message, gen bool) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("<|im_start|>" + m.Role + "\n" + m.Content + "<|im_end|>\n")
	}
	if gen {
		b.WriteString("<|im_start|>assistant\n")
	}
	return b.String()
}

// renderLlama2 follows Meta's reference format:
// "[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {answer} </s><s>[INST] …".
// A conversation ends inside an open [INST] turn when its last message is
// the user's, ready for the model's answer whatever gen says.
func renderLlama2(msgs []Message, gen bool) string {
	var b strings.Builder
	system := ""
	open := false // inside "[INST] … [/INST]" awaiting an answer
	first := true
	for _, m := range msgs {
		switch m.Role {
		case "system":
			system = strings.TrimSpace(m.Content)
		case "user":
			if !first {
				b.WriteString("<s>")
			}
			first = false
			b.WriteString("[INST] ")
			if system != "" {
				b.WriteString("<<SYS>>\n" + system + "\n<</SYS>>\n\n")
				system = ""
			}
			b.WriteString(strings.TrimSpace(m.Content) + " [/INST]")
			open = true
		default: // assistant
			if !open {
				// An answer without a question: keep it as text.
				if !first {
					b.WriteString("<s>")
				}
				first = false
			}
			b.WriteString(" " + strings.TrimSpace(m.Content) + " </s>")
			open = false
		}
	}
	_ = gen
	return b.String()
}

func renderLlama3(msgs []Message, gen bool) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("<|start_header_id|>" + m.Role + "<|end_header_id|>\n\n" + strings.TrimSpace(m.Content) + "<|eot_id|>")
	}
	if gen {
		b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
	}
	return b.String()
}

func renderZephyr(msgs []Message, gen bool) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("<|" + m.Role + "|>\n" + m.Content + "</s>\n")
	}
	if gen {
		b.WriteString("<|assistant|>\n")
	}
	return b.String()
}

// renderPlain writes a transcript for base models:
// "{system}\n\nUser: {user}\nAssistant: {answer}\n…Assistant:".
func renderPlain(msgs []Message, gen bool) string {
	var b strings.Builder
	for _, m := range msgs {
		switch m.Role {
		case "system":
			b.WriteString(m.Content + "\n\n")
		case "user":
			b.WriteString("User: " + m.Content + "\n")
		default:
			b.WriteString("Assistant: " + m.Content + "\n")
		}
	}
	if gen {
		b.WriteString("Assistant:")
	}
	return b.String()
}
