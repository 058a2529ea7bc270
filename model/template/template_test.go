package template

import (
	"slices"
	"testing"
)

var conv = []Message{
	{"system", "Be brief."},
	{"user", "Hi"},
	{"assistant", "Hello!"},
	{"user", "Who are you?"},
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		gen  bool
		want string
	}{
		{"chatml", true, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nWho are you?<|im_end|>\n<|im_start|>assistant\n"},
		{"chatml", false, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nWho are you?<|im_end|>\n"},
		{"llama2", true, "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Who are you? [/INST]"},
		{"llama3", true, "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
		{"zephyr", true, "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello!</s>\n<|user|>\nWho are you?</s>\n<|assistant|>\n"},
		{"plain", true, "Be brief.\n\nUser: Hi\nAssistant: Hello!\nUser: Who are you?\nAssistant:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tm, err := ByName(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if tm.Name() != tc.name {
				t.Errorf("Name() = %q", tm.Name())
			}
			if got := tm.Render(conv, tc.gen); got != tc.want {
				t.Errorf("Render:\n got %q\nwant %q", got, tc.want)
			}
			if len(tm.Stop()) == 0 {
				t.Error("no stop strings")
			}
		})
	}
}

func TestLlama2NoSystem(t *testing.T) {
	tm, _ := ByName("llama2")
	got := tm.Render([]Message{{"user", " Hi "}}, true)
	if want := "[INST] Hi [/INST]"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

// Jinja templates as published with real models (abridged to their
// distinctive parts where long).
func TestDetect(t *testing.T) {
	for _, tc := range []struct{ tmpl, want string }{
		{"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}", "chatml"},
		{"{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}", "llama2"},
		{"{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}", "llama3"},
		{"{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}", "zephyr"},
		{"{{ bos_token }}{% for m in messages %}### {{ m.role }}: {{ m.content }}{% endfor %}", ""},
		{"", ""},
	} {
		got, ok := Detect(tc.tmpl)
		name := ""
		if ok {
			name = got.Name()
		}
		if name != tc.want {
			t.Errorf("Detect(%.40q…) = %q, want %q", tc.tmpl, name, tc.want)
		}
	}
}

func TestByNameUnknown(t *testing.T) {
	if _, err := ByName("vicuna"); err == nil {
		t.Fatal("no error for an unknown template")
	}
	if !slices.Equal(Names(), []string{"chatml", "llama2", "llama3", "plain", "zephyr"}) {
		t.Fatalf("Names() = %v", Names())
	}
	if tm, err := ByName(" ChatML "); err != nil || tm.Name() != "chatml" {
		t.Fatalf("ByName is not lenient about case/space: %v", err)
	}
}
