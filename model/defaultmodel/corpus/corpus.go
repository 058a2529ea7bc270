// Package corpus generates the training data of hone's embedded default
// model: short bilingual (Korean and English) assistant conversations —
// small talk, explanations of language-model ideas in our own words,
// arithmetic with verifiable answers, simple instructions, how to use hone,
// and honest "I don't know" replies. Generation is deterministic from a
// seed. Everyday Korean dialogue from ChatbotData.csv (Youngsook Song, MIT)
// can be mixed in; the generator works without it.
package corpus

import (
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Example is one generated conversation with what it exercises.
type Example struct {
	Kind     string    `json:"kind"` // greeting, define, add, instruct, hone, unknown, daily
	Lang     string    `json:"lang"` // en or ko
	Messages []Message `json:"messages"`
	// Check holds what an evaluation needs: the topic key for "define",
	// the sum for "add".
	Check string `json:"check,omitempty"`
}

// Options control generation.
type Options struct {
	Seed uint64
	// N is the number of conversations to generate.
	N int
	// ChatbotData is the path of ChatbotData.csv; empty or missing means
	// the generator uses only its own material.
	ChatbotData string
	// Split selects which side of the deterministic train/held-out split
	// the generated prompts come from: "train" or "eval".
	Split string
}

// DefaultSystem is the system prompt the default model is trained with.
const DefaultSystem = "You are hone, a small helpful assistant. Answer in the language of the question."

// Generator produces examples.
type Generator struct {
	rng   *rand.Rand
	opts  Options
	daily [][2]string
	tops  []topic
}

// New makes a generator; it reads ChatbotData.csv when given and present.
func New(opts Options) (*Generator, error) {
	if opts.Split == "" {
		opts.Split = "train"
	}
	if opts.Split != "train" && opts.Split != "eval" {
		return nil, fmt.Errorf("corpus: split %q: want train or eval", opts.Split)
	}
	g := &Generator{rng: rand.New(rand.NewPCG(opts.Seed, 0x686f6e65)), opts: opts, tops: topics()}
	if opts.ChatbotData != "" {
		f, err := os.Open(opts.ChatbotData)
		if err == nil {
			defer f.Close()
			g.daily, err = readChatbotData(f)
			if err != nil {
				return nil, fmt.Errorf("corpus: %s: %w", opts.ChatbotData, err)
			}
		} else if !os.IsNotExist(err) {
			return nil, fmt.Errorf("corpus: %w", err)
		}
	}
	return g, nil
}

func readChatbotData(r io.Reader) ([][2]string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 3
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for i, row := range rows {
		if i == 0 && row[0] == "Q" {
			continue
		}
		q, a := strings.TrimSpace(row[0]), strings.TrimSpace(row[1])
		if q != "" && a != "" && len(q) < 120 && len(a) < 160 {
			out = append(out, [2]string{q, a})
		}
	}
	return out, nil
}

// Generate returns opts.N examples.
func (g *Generator) Generate() []Example {
	out := make([]Example, 0, g.opts.N)
	for len(out) < g.opts.N {
		out = append(out, g.one())
	}
	return out
}

func (g *Generator) one() Example {
	r := g.rng.IntN(100)
	switch {
	case r < 12:
		return g.greeting()
	case r < 38:
		return g.define()
	case r < 68:
		return g.add()
	case r < 80:
		return g.instruct()
	case r < 86:
		return g.hone()
	case r < 92:
		return g.unknown()
	default:
		if len(g.daily) > 0 {
			return g.dailyKo()
		}
		return g.greeting()
	}
}

func (g *Generator) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

func (g *Generator) lang() string {
	if g.rng.IntN(2) == 0 {
		return "en"
	}
	return "ko"
}

func (g *Generator) conv(kind, lang, check, user, reply string) Example {
	msgs := []Message{}
	if g.rng.IntN(3) == 0 {
		msgs = append(msgs, Message{"system", DefaultSystem})
	}
	msgs = append(msgs, Message{"user", user}, Message{"assistant", reply})
	return Example{Kind: kind, Lang: lang, Messages: msgs, Check: check}
}

func (g *Generator) greeting() Example {
	type pair struct{ q, a []string }
	en := []pair{
		{[]string{"Hello", "Hello!", "Hi", "Hi!", "Hi there", "Hey", "Good morning", "Good evening"},
			[]string{"Hello! How can I help you today?", "Hi! What would you like to talk about?", "Hello! I'm hone. Ask me anything."}},
		{[]string{"How are you?", "How are you doing?", "How's it going?"},
			[]string{"I'm doing well, thank you! How can I help?", "I'm fine, thanks for asking. What can I do for you?"}},
		{[]string{"Who are you?", "What are you?", "What is your name?", "What's your name?"},
			[]string{"I'm hone, a small assistant that runs on your computer and learns from your ratings.", "My name is hone. I'm a small offline chatbot that gets better when you rate my replies."}},
		{[]string{"Thank you", "Thanks!", "Thank you very much"},
			[]string{"You're welcome!", "Glad I could help!", "Any time!"}},
		{[]string{"Bye", "Goodbye", "See you later"},
			[]string{"Goodbye! Have a nice day.", "See you later!", "Bye! Come back any time."}},
	}
	ko := []pair{
		{[]string{"안녕하세요", "안녕하세요!", "안녕", "안녕!", "반가워요", "좋은 아침이에요"},
			[]string{"안녕하세요! 무엇을 도와드릴까요?", "안녕하세요! 저는 hone이에요. 무엇이든 물어보세요.", "반가워요! 어떤 이야기를 해 볼까요?"}},
		{[]string{"잘 지내요?", "어떻게 지내세요?", "오늘 기분 어때요?"},
			[]string{"저는 잘 지내요. 물어봐 주셔서 고마워요! 무엇을 도와드릴까요?", "좋아요, 고마워요. 무엇을 도와드릴까요?"}},
		{[]string{"누구세요?", "너는 누구야?", "이름이 뭐예요?", "당신은 누구인가요?"},
			[]string{"저는 hone이에요. 컴퓨터에서 돌아가고 여러분의 평가로 배우는 작은 도우미예요.", "제 이름은 hone입니다. 답에 평가를 주시면 더 나아지는 작은 오프라인 챗봇이에요."}},
		{[]string{"고마워요", "감사합니다", "고마워!"},
			[]string{"천만에요!", "도움이 되어 기뻐요!", "언제든지요!"}},
		{[]string{"잘 가요", "안녕히 계세요", "다음에 봐요"},
			[]string{"안녕히 가세요! 좋은 하루 보내세요.", "다음에 또 만나요!"}},
	}
	lang := g.lang()
	ps := en
	if lang == "ko" {
		ps = ko
	}
	p := ps[g.rng.IntN(len(ps))]
	a := g.pick(p.a)
	if g.rng.IntN(5) == 0 {
		a += " 😊"
	}
	return g.conv("greeting", lang, "", g.pick(p.q), a)
}

// Reply styles. A real assistant answers the same question in more than
// one way: sometimes with a friendly opening, sometimes with an offer of
// more help, sometimes in one sentence and sometimes at length. The
// corpus mixes these at fixed rates so that the default model's sampled
// replies vary in style and length — the room RLHF needs: a rater who
// prefers short, polite or step-by-step answers finds both kinds among
// the model's own replies, and tuning can shift the mix without teaching
// anything new.
func styleWords(lang string) (openers, closers []string) {
	if lang == "ko" {
		return []string{"네! ", "좋은 질문이에요! ", "물론이죠. ", "기꺼이 알려 드릴게요. ", "설명해 드릴게요. ", "좋아요! ", "알겠어요. "},
			[]string{" 도움이 되었으면 좋겠어요!", " 더 궁금한 점이 있으면 물어보세요.", " 또 궁금한 게 있으면 말씀해 주세요.", " 😊", " 물어봐 주셔서 고마워요!", " 궁금한 점이 풀렸으면 해요."}
	}
	return []string{"Sure! ", "Good question! ", "Of course. ", "Happy to help! ", "Great question. ", "Let me explain. ", "Okay! "},
		[]string{" I hope this helps!", " Let me know if you have any other questions.", " Feel free to ask more.", " 😊", " Thanks for asking!", " Is there anything else you want to know?"}
}

// Style rates, in percent.
const (
	openerRate = 35
	closerRate = 35
)

// styled wraps a reply in an optional opener and closer.
func (g *Generator) styled(lang, reply string) string {
	op, cl := styleWords(lang)
	if g.rng.IntN(100) < openerRate {
		reply = g.pick(op) + reply
	}
	if g.rng.IntN(100) < closerRate {
		reply += g.pick(cl)
	}
	return reply
}

// firstSentence cuts s after its first sentence.
func firstSentence(s string) string {
	for i := 0; i+1 < len(s); i++ {
		if (s[i] == '.' || s[i] == '?' || s[i] == '!') && s[i+1] == ' ' {
			return s[:i+1]
		}
	}
	return s
}

// defineQuestions are templates with %s for the topic name.
func defineQuestions(lang string) []string {
	if lang == "en" {
		return []string{"What is %s?", "Explain %s.", "Can you explain %s?", "Tell me about %s.", "What does %s mean?", "Please explain %s briefly.", "I want to know about %s.", "Describe %s."}
	}
	return []string{"%s이/가 뭐예요?", "%s에 대해 설명해 주세요.", "%s이/가 무엇인가요?", "%s을/를 알려 주세요.", "%s은/는 무슨 뜻이에요?", "%s에 대해 간단히 설명해 줘.", "%s이/가 궁금해요."}
}

// heldOut reports whether a prompt belongs to the evaluation side.
func heldOut(s string) bool {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h%10 == 0
}

// want keeps a prompt when it is on the generator's side of the split.
func (g *Generator) want(prompt string) bool {
	return heldOut(prompt) == (g.opts.Split == "eval")
}

func (g *Generator) define() Example {
	for {
		t := g.tops[g.rng.IntN(len(g.tops))]
		lang := g.lang()
		var q, a string
		if lang == "en" {
			name := g.pick(t.en)
			q = fmt.Sprintf(g.pick(defineQuestions("en")), name)
			if g.rng.IntN(4) == 0 {
				q = strings.ToLower(q[:1]) + q[1:]
			}
			a = g.sized(t.enAnswer)
		} else {
			q = koParticles(fmt.Sprintf(g.pick(defineQuestions("ko")), g.pick(t.ko)))
			a = g.sized(t.koAnswer)
		}
		if g.want(q) {
			return g.conv("define", lang, t.key, q, g.styled(lang, a))
		}
	}
}

// sized composes an explanation from a topic's paraphrases: a lead
// sentence (the first sentence of one paraphrase, which names the idea)
// followed by none, one or two more sentences drawn from either
// paraphrase in random order — one, two or three sentences, a quarter,
// two fifths and the rest of the time.
func (g *Generator) sized(answers []string) string {
	var leads, rest []string
	for _, a := range answers {
		ss := sentences(a)
		leads = append(leads, ss[0])
		rest = append(rest, ss[1:]...)
	}
	li := g.rng.IntN(len(leads))
	out := []string{leads[li]}
	for i, l := range leads {
		if i != li {
			rest = append(rest, l)
		}
	}
	more := 0
	switch r := g.rng.IntN(20); {
	case r < 5:
	case r < 13:
		more = 1
	default:
		more = 2
	}
	for _, j := range g.rng.Perm(len(rest))[:min(more, len(rest))] {
		out = append(out, rest[j])
	}
	return strings.Join(out, " ")
}

// sentences splits s after each '.', '?' or '!' that a space follows.
func sentences(s string) []string {
	var out []string
	for {
		f := firstSentence(s)
		out = append(out, f)
		if len(f) == len(s) {
			return out
		}
		s = strings.TrimLeft(s[len(f):], " ")
	}
}

// koParticles resolves "이/가", "을/를", "은/는" after the preceding word
// by its final consonant (batchim); Latin words count as ending in a vowel
// unless they end in a consonant letter commonly read with batchim.
func koParticles(s string) string {
	for _, p := range [][3]string{{"이/가", "이", "가"}, {"을/를", "을", "를"}, {"은/는", "은", "는"}} {
		for {
			i := strings.Index(s, p[0])
			if i < 0 {
				break
			}
			prev := []rune(s[:i])
			pick := p[2]
			if len(prev) > 0 && hasBatchim(prev[len(prev)-1]) {
				pick = p[1]
			}
			s = s[:i] + pick + s[i+len(p[0]):]
		}
	}
	return s
}

func hasBatchim(r rune) bool {
	if r >= 0xAC00 && r <= 0xD7A3 {
		return (r-0xAC00)%28 != 0
	}
	switch r {
	case 'L', 'M', 'N', 'l', 'm', 'n', 'R', 'r':
		return true
	}
	return false
}

func (g *Generator) add() Example {
	for {
		a, b := 10+g.rng.IntN(90), 10+g.rng.IntN(90)
		if g.rng.IntN(5) == 0 {
			a = 1 + g.rng.IntN(9)
		}
		lang := g.lang()
		var q string
		if lang == "en" {
			q = fmt.Sprintf(g.pick([]string{"What is %d + %d?", "What is %d plus %d?", "Calculate %d + %d.", "%d + %d = ?", "Add %d and %d.", "How much is %d + %d?"}), a, b)
		} else {
			q = fmt.Sprintf(g.pick([]string{"%d 더하기 %d는 얼마예요?", "%d + %d는?", "%d + %d = ?", "%d와 %d를 더하면?", "%d 더하기 %d는?", "%d + %d 계산해 줘."}), a, b)
		}
		// The split is by the pair of numbers, so held-out sums are unseen.
		if heldOut(fmt.Sprintf("%d+%d", a, b)) == (g.opts.Split == "eval") {
			ans := AdditionAnswer(a, b, lang)
			if g.rng.IntN(100) < directRate {
				ans = DirectAnswer(a, b, lang)
			}
			return g.conv("add", lang, fmt.Sprint(a+b), q, g.styled(lang, ans))
		}
	}
}

// AdditionAnswer works a two-digit sum out the way the default model is
// taught to: tens, then ones, then their total, so that each step is a
// one-digit fact a small model can learn. The answer is the last number.
func AdditionAnswer(a, b int, lang string) string {
	t, u := (a/10+b/10)*10, a%10+b%10
	steps := fmt.Sprintf("%d + %d: %d + %d = %d, %d + %d = %d, %d + %d = %d.", a, b, a/10*10, b/10*10, t, a%10, b%10, u, t, u, a+b)
	if lang == "ko" {
		return fmt.Sprintf("%s 답은 %d입니다.", steps, a+b)
	}
	return fmt.Sprintf("%s The answer is %d.", steps, a+b)
}

// directRate is the share of sums (percent) answered at once, without the
// steps. The model gets those wrong more often: a rater who checks the
// sums will prefer the worked answers.
const directRate = 20

// DirectAnswer states a sum without working it out.
func DirectAnswer(a, b int, lang string) string {
	if lang == "ko" {
		return fmt.Sprintf("%d + %d = %d입니다.", a, b, a+b)
	}
	return fmt.Sprintf("%d + %d = %d.", a, b, a+b)
}

// glossary is the built-in English–Korean word list for translation.
func glossary() [][2]string {
	return [][2]string{
		{"apple", "사과"}, {"water", "물"}, {"book", "책"}, {"friend", "친구"}, {"school", "학교"},
		{"house", "집"}, {"cat", "고양이"}, {"dog", "개"}, {"tree", "나무"}, {"flower", "꽃"},
		{"rain", "비"}, {"snow", "눈"}, {"sea", "바다"}, {"mountain", "산"}, {"computer", "컴퓨터"},
		{"love", "사랑"}, {"time", "시간"}, {"food", "음식"}, {"music", "음악"}, {"language", "언어"},
		{"morning", "아침"}, {"night", "밤"}, {"sun", "해"}, {"moon", "달"}, {"star", "별"},
		{"teacher", "선생님"}, {"student", "학생"}, {"family", "가족"}, {"city", "도시"}, {"river", "강"},
	}
}

func (g *Generator) instruct() Example {
	gl := glossary()
	w := gl[g.rng.IntN(len(gl))]
	lang := g.lang()
	switch g.rng.IntN(5) {
	case 0: // translate
		if lang == "en" {
			q := fmt.Sprintf(g.pick([]string{"How do you say \"%s\" in Korean?", "Translate \"%s\" into Korean.", "What is \"%s\" in Korean?"}), w[0])
			return g.conv("instruct", lang, w[1], q, g.styled(lang, fmt.Sprintf("\"%s\" is \"%s\" in Korean.", w[0], w[1])))
		}
		q := fmt.Sprintf(g.pick([]string{"\"%s\"는 영어로 뭐예요?", "\"%s\"를 영어로 번역해 주세요.", "\"%s\"의 영어 단어는?"}), w[1])
		return g.conv("instruct", lang, w[0], q, g.styled(lang, fmt.Sprintf("\"%s\"는 영어로 \"%s\"입니다.", w[1], w[0])))
	case 1: // repeat
		words := g.someWords(lang)
		if lang == "en" {
			return g.conv("instruct", lang, words, fmt.Sprintf("Repeat after me: %s", words), words)
		}
		return g.conv("instruct", lang, words, fmt.Sprintf("따라 해 보세요: %s", words), words)
	case 2: // spell
		if lang == "en" {
			return g.conv("instruct", lang, w[0], fmt.Sprintf("Spell the word \"%s\".", w[0]), strings.Join(strings.Split(w[0], ""), "-"))
		}
		sp := strings.Join(strings.Split(w[1], ""), "-")
		return g.conv("instruct", lang, w[1], fmt.Sprintf("\"%s\"를 한 글자씩 써 주세요.", w[1]), sp)
	case 3: // count letters
		if lang == "en" {
			n := len(w[0])
			return g.conv("instruct", lang, fmt.Sprint(n), fmt.Sprintf("How many letters are in \"%s\"?", w[0]), fmt.Sprintf("\"%s\" has %d letters.", w[0], n))
		}
		n := len([]rune(w[1]))
		return g.conv("instruct", lang, fmt.Sprint(n), fmt.Sprintf("\"%s\"는 몇 글자예요?", w[1]), fmt.Sprintf("\"%s\"는 %d글자입니다.", w[1], n))
	default: // list
		k := 3 + g.rng.IntN(3)
		perm := g.rng.Perm(len(gl))[:k]
		var items []string
		for i, j := range perm {
			word := gl[j][0]
			if lang == "ko" {
				word = gl[j][1]
			}
			items = append(items, fmt.Sprintf("%d. %s", i+1, word))
		}
		if lang == "en" {
			return g.conv("instruct", lang, fmt.Sprint(k), fmt.Sprintf("List %d words.", k), strings.Join(items, "\n"))
		}
		return g.conv("instruct", lang, fmt.Sprint(k), fmt.Sprintf("단어 %d개를 나열해 주세요.", k), strings.Join(items, "\n"))
	}
}

func (g *Generator) someWords(lang string) string {
	gl := glossary()
	n := 1 + g.rng.IntN(3)
	var ws []string
	for i := 0; i < n; i++ {
		w := gl[g.rng.IntN(len(gl))]
		if lang == "en" {
			ws = append(ws, w[0])
		} else {
			ws = append(ws, w[1])
		}
	}
	return strings.Join(ws, " ")
}

func (g *Generator) hone() Example {
	type qa struct {
		q []string
		a string
	}
	en := []qa{
		{[]string{"How do I rate a reply?", "How can I rate your answer?"}, "Press Tab to move to the transcript, select a reply with the arrow keys, then press + for thumbs up or - for thumbs down."},
		{[]string{"How do I get another answer?", "How do I regenerate a reply?"}, "Select the reply and press r. The new reply is a sibling; use the left and right arrows to switch between them."},
		{[]string{"How do you learn from my ratings?", "How does hone improve?"}, "Your ratings are saved on your computer. The hone train command uses them to tune me with RLHF, and a new version is used only if it passes its checks."},
		{[]string{"How do I quit?", "How do I exit hone?"}, "Press ctrl+c when no reply is being written. Press Esc to stop a reply first."},
		{[]string{"How do I see old conversations?", "Where is my chat history?"}, "Press ctrl+s to open the conversation list. You can search, resume, rename or delete conversations there."},
	}
	ko := []qa{
		{[]string{"답변을 어떻게 평가해요?", "평가는 어떻게 하나요?"}, "Tab으로 대화 기록으로 옮긴 뒤 화살표로 답을 고르고 +는 좋아요, -는 싫어요입니다."},
		{[]string{"다른 답을 받으려면 어떻게 해요?", "답을 다시 만들려면?"}, "답을 고르고 r을 누르세요. 새 답은 형제 답이 되고 왼쪽, 오른쪽 화살표로 오갈 수 있어요."},
		{[]string{"내 평가로 어떻게 배워요?", "hone은 어떻게 좋아지나요?"}, "평가는 내 컴퓨터에 저장됩니다. hone train 명령이 그 평가로 RLHF를 해서 저를 조정하고, 검사를 통과한 새 버전만 씁니다."},
		{[]string{"어떻게 종료해요?", "hone을 끄려면?"}, "답을 쓰는 중이 아닐 때 ctrl+c를 누르세요. 쓰는 중이면 먼저 Esc로 멈추세요."},
		{[]string{"예전 대화는 어디서 봐요?", "대화 기록은 어디 있어요?"}, "ctrl+s를 누르면 대화 목록이 열립니다. 거기서 검색하고, 이어 가고, 이름을 바꾸거나 지울 수 있어요."},
	}
	lang := g.lang()
	set := en
	if lang == "ko" {
		set = ko
	}
	x := set[g.rng.IntN(len(set))]
	return g.conv("hone", lang, "", g.pick(x.q), g.styled(lang, x.a))
}

func (g *Generator) unknown() Example {
	en := []string{"What will the weather be tomorrow?", "Who will win the next election?", "What is the price of bitcoin today?", "What is my password?", "What did I eat yesterday?", "What are today's news?", "What is the stock price of Apple right now?"}
	ko := []string{"내일 날씨 어때요?", "다음 선거에서 누가 이겨요?", "오늘 비트코인 가격은?", "내 비밀번호가 뭐야?", "내가 어제 뭐 먹었지?", "오늘 뉴스 알려 줘.", "지금 주가가 얼마예요?"}
	enA := []string{"I'm sorry, I don't know that. I'm a small offline model without access to the internet or live information.", "I don't know. I can't see live data or your personal information."}
	koA := []string{"죄송하지만 그건 몰라요. 저는 인터넷이나 실시간 정보에 접근할 수 없는 작은 오프라인 모델이에요.", "모르겠어요. 저는 실시간 정보나 개인 정보를 볼 수 없어요."}
	if g.lang() == "en" {
		return g.conv("unknown", "en", "", g.pick(en), g.styled("en", g.pick(enA)))
	}
	return g.conv("unknown", "ko", "", g.pick(ko), g.styled("ko", g.pick(koA)))
}

func (g *Generator) dailyKo() Example {
	p := g.daily[g.rng.IntN(len(g.daily))]
	return g.conv("daily", "ko", "", p[0], p[1])
}

// RenderChatML renders a conversation in ChatML, the default model's
// template, ending after the assistant's <|im_end|>.
func RenderChatML(msgs []Message) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("<|im_start|>")
		b.WriteString(m.Role)
		b.WriteString("\n")
		b.WriteString(m.Content)
		b.WriteString("<|im_end|>\n")
	}
	return b.String()
}
