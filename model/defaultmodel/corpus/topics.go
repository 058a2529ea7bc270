package corpus

// topic is one idea the default model can explain, in our own words, in
// both languages. Keywords decide whether a reply is on topic.
type topic struct {
	key        string
	en, ko     []string // names a user might use
	enAnswer   []string // paraphrases of the explanation
	koAnswer   []string
	enKeywords []string // any of these in a reply means "on topic"
	koKeywords []string
}

func topics() []topic {
	return []topic{
		{
			key: "tokenization",
			en:  []string{"tokenization", "a tokenizer", "tokens"},
			ko:  []string{"토큰화", "토크나이저", "토큰"},
			enAnswer: []string{
				"Tokenization splits text into small pieces called tokens, such as words, parts of words or bytes. The model reads and writes numbers that stand for these tokens.",
				"A tokenizer turns text into tokens: short pieces of words, each with an id. The model only sees these ids, so tokenization is the first step of every language model.",
			},
			koAnswer: []string{
				"토큰화는 글을 토큰이라는 작은 조각으로 나누는 일입니다. 토큰은 단어나 단어의 일부, 또는 바이트이고, 모델은 각 토큰의 번호를 읽고 씁니다.",
				"토크나이저는 문장을 토큰으로 바꿉니다. 토큰마다 번호가 있고, 언어 모델은 이 번호만 보기 때문에 토큰화가 첫 단계입니다.",
			},
			enKeywords: []string{"token"},
			koKeywords: []string{"토큰"},
		},
		{
			key: "embedding",
			en:  []string{"an embedding", "embeddings", "word embeddings"},
			ko:  []string{"임베딩", "단어 임베딩"},
			enAnswer: []string{
				"An embedding is a list of numbers, a vector, that represents a token or a text. Similar meanings get vectors that are close to each other.",
				"Embeddings turn tokens into vectors of numbers. The model learns them so that words with similar meanings end up near each other in that space.",
			},
			koAnswer: []string{
				"임베딩은 토큰이나 문장을 나타내는 숫자의 목록, 곧 벡터입니다. 뜻이 비슷하면 벡터도 서로 가깝습니다.",
				"임베딩은 토큰을 숫자 벡터로 바꾼 것입니다. 모델은 뜻이 비슷한 단어가 가까이 놓이도록 임베딩을 학습합니다.",
			},
			enKeywords: []string{"vector", "embedding"},
			koKeywords: []string{"벡터", "임베딩"},
		},
		{
			key: "attention",
			en:  []string{"attention", "the attention mechanism"},
			ko:  []string{"어텐션", "주의 메커니즘", "attention"},
			enAnswer: []string{
				"Attention lets a model look at every other token when it processes one token. It gives each token a weight that says how much it matters, and mixes their information by those weights.",
				"Attention is how a model decides which earlier tokens matter for the current one. It compares a query with keys, turns the scores into weights and sums the values.",
			},
			koAnswer: []string{
				"어텐션은 모델이 한 토큰을 처리할 때 다른 모든 토큰을 살펴보게 하는 방법입니다. 토큰마다 얼마나 중요한지 가중치를 주고, 그 가중치로 정보를 섞습니다.",
				"어텐션은 지금 토큰에 어떤 앞 토큰이 중요한지 정하는 방법입니다. 쿼리와 키를 비교해 점수를 가중치로 바꾸고 값을 더합니다.",
			},
			enKeywords: []string{"attention", "token", "weight"},
			koKeywords: []string{"어텐션", "토큰", "가중치"},
		},
		{
			key: "self-attention",
			en:  []string{"self-attention", "self attention"},
			ko:  []string{"셀프 어텐션", "자기 주의"},
			enAnswer: []string{
				"Self-attention is attention inside one sequence: every token attends to the other tokens of the same text. It is the core of the transformer.",
				"In self-attention the queries, keys and values all come from the same sequence, so each word can gather context from the rest of its own sentence.",
			},
			koAnswer: []string{
				"셀프 어텐션은 한 문장 안에서 일어나는 어텐션입니다. 각 토큰이 같은 글의 다른 토큰들을 봅니다. 트랜스포머의 핵심입니다.",
				"셀프 어텐션에서는 쿼리, 키, 값이 모두 같은 문장에서 나옵니다. 그래서 각 단어가 자기 문장에서 문맥을 모을 수 있습니다.",
			},
			enKeywords: []string{"attention", "sequence", "token"},
			koKeywords: []string{"어텐션", "토큰", "문장"},
		},
		{
			key: "transformer",
			en:  []string{"a transformer", "the transformer", "transformers"},
			ko:  []string{"트랜스포머"},
			enAnswer: []string{
				"A transformer is a neural network built from layers of self-attention and feed-forward blocks. It processes all tokens in parallel and is the basis of modern language models.",
				"The transformer stacks blocks of attention and small feed-forward networks, with normalization and residual connections. GPT, BERT and T5 are all transformers.",
			},
			koAnswer: []string{
				"트랜스포머는 셀프 어텐션과 피드포워드 블록을 층층이 쌓은 신경망입니다. 모든 토큰을 한꺼번에 처리하며 요즘 언어 모델의 바탕입니다.",
				"트랜스포머는 어텐션 블록과 작은 피드포워드 신경망을 쌓고, 정규화와 잔차 연결을 씁니다. GPT, BERT, T5가 모두 트랜스포머입니다.",
			},
			enKeywords: []string{"transformer", "attention", "layer"},
			koKeywords: []string{"트랜스포머", "어텐션"},
		},
		{
			key: "autoregressive",
			en:  []string{"an autoregressive model", "autoregressive models", "autoregressive versus autoencoding models"},
			ko:  []string{"자기회귀 모델", "자기회귀 모델과 오토인코딩 모델의 차이"},
			enAnswer: []string{
				"An autoregressive model writes text one token at a time, each time predicting the next token from the ones before it. GPT works this way. An autoencoding model such as BERT instead fills in hidden tokens using context from both sides.",
				"Autoregressive models predict the next token from the previous tokens, so they are good at generating text. Autoencoding models read the whole text at once and are good at understanding it.",
			},
			koAnswer: []string{
				"자기회귀 모델은 앞의 토큰들을 보고 다음 토큰을 하나씩 예측하며 글을 씁니다. GPT가 이렇게 동작합니다. BERT 같은 오토인코딩 모델은 양쪽 문맥으로 가려진 토큰을 채웁니다.",
				"자기회귀 모델은 이전 토큰으로 다음 토큰을 예측하므로 글을 만들어 내는 데 강합니다. 오토인코딩 모델은 글 전체를 한 번에 읽어 이해하는 데 강합니다.",
			},
			enKeywords: []string{"next token", "predict", "one token"},
			koKeywords: []string{"다음 토큰", "예측"},
		},
		{
			key: "autoencoding",
			en:  []string{"an autoencoding model", "autoencoding models", "a masked language model"},
			ko:  []string{"오토인코딩 모델", "마스크 언어 모델"},
			enAnswer: []string{
				"An autoencoding model learns by hiding some tokens and predicting them from the context on both sides. BERT is the best-known example; it is used for understanding text rather than writing it.",
				"Autoencoding models such as BERT see the whole sentence with some tokens masked and learn to fill in the blanks, which makes them good encoders of meaning.",
			},
			koAnswer: []string{
				"오토인코딩 모델은 일부 토큰을 가리고 양쪽 문맥으로 그 토큰을 맞히며 배웁니다. BERT가 대표적이며, 글을 쓰기보다 이해하는 데 씁니다.",
				"BERT 같은 오토인코딩 모델은 몇 토큰이 가려진 문장 전체를 보고 빈칸을 채우도록 학습해서 뜻을 잘 담아냅니다.",
			},
			enKeywords: []string{"mask", "hid", "bert", "blank"},
			koKeywords: []string{"가리", "가려", "BERT", "빈칸"},
		},
		{
			key: "seq2seq",
			en:  []string{"a seq2seq model", "sequence-to-sequence models", "seq2seq"},
			ko:  []string{"시퀀스 투 시퀀스 모델", "seq2seq"},
			enAnswer: []string{
				"A sequence-to-sequence model has an encoder that reads the input and a decoder that writes the output. It is used for translation and summarization; T5 is an example.",
				"Seq2seq models turn one sequence into another: the encoder understands the source text and the decoder generates the target text token by token.",
			},
			koAnswer: []string{
				"시퀀스 투 시퀀스 모델은 입력을 읽는 인코더와 출력을 쓰는 디코더로 이루어집니다. 번역과 요약에 쓰이며 T5가 그 예입니다.",
				"seq2seq 모델은 한 시퀀스를 다른 시퀀스로 바꿉니다. 인코더가 원문을 이해하고 디코더가 결과를 토큰 하나씩 만듭니다.",
			},
			enKeywords: []string{"encoder", "decoder", "sequence"},
			koKeywords: []string{"인코더", "디코더", "시퀀스"},
		},
		{
			key: "pre-training",
			en:  []string{"pre-training", "pretraining"},
			ko:  []string{"사전 학습", "프리트레이닝"},
			enAnswer: []string{
				"Pre-training is the first, long stage of training, where a model learns general language from a large amount of text, usually by predicting the next token.",
				"During pre-training a model reads a huge text collection and learns grammar, facts and patterns before it is adapted to any specific task.",
			},
			koAnswer: []string{
				"사전 학습은 모델이 아주 많은 글로 일반적인 언어를 배우는 첫 번째의 긴 학습 단계입니다. 보통 다음 토큰을 예측하며 배웁니다.",
				"사전 학습 동안 모델은 많은 글을 읽고 문법과 지식과 패턴을 배웁니다. 그다음에 특정한 일에 맞게 다듬습니다.",
			},
			enKeywords: []string{"train", "text", "learn"},
			koKeywords: []string{"학습", "글", "배우"},
		},
		{
			key: "transfer learning",
			en:  []string{"transfer learning"},
			ko:  []string{"전이 학습"},
			enAnswer: []string{
				"Transfer learning reuses what a model learned on one task or dataset for another task, so the new task needs much less data and training.",
				"With transfer learning you start from a pre-trained model instead of from scratch, and its general knowledge transfers to your own problem.",
			},
			koAnswer: []string{
				"전이 학습은 한 작업이나 데이터에서 배운 것을 다른 작업에 다시 쓰는 방법입니다. 그래서 새 작업에는 데이터와 학습이 훨씬 적게 듭니다.",
				"전이 학습에서는 처음부터 배우지 않고 사전 학습된 모델에서 시작합니다. 모델의 일반 지식이 새 문제로 옮겨 갑니다.",
			},
			enKeywords: []string{"reuse", "pre-trained", "transfer", "task"},
			koKeywords: []string{"다시 쓰", "사전 학습", "작업", "옮겨"},
		},
		{
			key: "fine-tuning",
			en:  []string{"fine-tuning", "finetuning"},
			ko:  []string{"파인튜닝", "미세 조정"},
			enAnswer: []string{
				"Fine-tuning continues training a pre-trained model on a smaller, task-specific dataset, so it adapts to that task or style.",
				"When you fine-tune, you take a pre-trained model and train it a little more on your own examples, such as chat conversations.",
			},
			koAnswer: []string{
				"파인튜닝은 사전 학습된 모델을 작은 특정 작업용 데이터로 더 학습시켜 그 작업이나 말투에 맞추는 것입니다.",
				"파인튜닝할 때는 사전 학습된 모델을 가져와 대화 같은 내 예시로 조금 더 학습시킵니다.",
			},
			enKeywords: []string{"train", "pre-trained", "dataset", "example"},
			koKeywords: []string{"학습", "데이터", "예시"},
		},
		{
			key: "lora",
			en:  []string{"LoRA", "low-rank adaptation"},
			ko:  []string{"LoRA", "로라", "저랭크 적응"},
			enAnswer: []string{
				"LoRA, low-rank adaptation, fine-tunes a model by adding two small matrices next to a weight matrix and training only them. The original weights stay frozen, so it needs far less memory.",
				"With LoRA the big weights are frozen and a small low-rank update is learned instead. Adapters are tiny files that can be merged into the model later.",
			},
			koAnswer: []string{
				"LoRA는 가중치 행렬 옆에 작은 행렬 두 개를 붙이고 그것만 학습하는 파인튜닝 방법입니다. 원래 가중치는 그대로 두므로 메모리가 훨씬 적게 듭니다.",
				"LoRA에서는 큰 가중치를 고정하고 작은 저랭크 변화만 배웁니다. 어댑터는 작은 파일이라 나중에 모델에 합칠 수 있습니다.",
			},
			enKeywords: []string{"low-rank", "matri", "frozen", "adapter"},
			koKeywords: []string{"행렬", "저랭크", "어댑터", "고정"},
		},
		{
			key: "rlhf",
			en:  []string{"RLHF", "alignment", "reinforcement learning from human feedback"},
			ko:  []string{"RLHF", "정렬", "인간 피드백 강화 학습"},
			enAnswer: []string{
				"RLHF, reinforcement learning from human feedback, improves a model with people's ratings. A reward model learns what people prefer, and the model is then tuned to get higher rewards while staying close to the original.",
				"Alignment means making a model helpful, honest and safe. RLHF does it with human feedback: ratings of replies train the model toward the answers people prefer.",
			},
			koAnswer: []string{
				"RLHF는 사람의 피드백으로 하는 강화 학습입니다. 보상 모델이 사람들이 좋아하는 답을 배우고, 모델은 원래 모델에서 너무 멀어지지 않으면서 더 높은 보상을 받도록 조정됩니다.",
				"정렬은 모델을 도움이 되고 정직하고 안전하게 만드는 일입니다. RLHF는 사람의 평가로 이를 합니다. 답에 대한 평가가 사람들이 좋아하는 쪽으로 모델을 학습시킵니다.",
			},
			enKeywords: []string{"feedback", "reward", "rating", "prefer"},
			koKeywords: []string{"피드백", "보상", "평가"},
		},
		{
			key: "bert-gpt-t5",
			en:  []string{"BERT, GPT and T5", "the difference between BERT, GPT and T5", "GPT"},
			ko:  []string{"BERT, GPT, T5", "BERT와 GPT와 T5의 차이", "GPT"},
			enAnswer: []string{
				"BERT is an encoder that understands text by filling in masked tokens. GPT is a decoder that writes text one token at a time. T5 has both an encoder and a decoder and turns every task into text-to-text.",
				"GPT generates text autoregressively, BERT encodes text with masked-token training, and T5 is a sequence-to-sequence model that treats every task as text in, text out.",
			},
			koAnswer: []string{
				"BERT는 가려진 토큰을 채우며 글을 이해하는 인코더입니다. GPT는 토큰을 하나씩 쓰는 디코더입니다. T5는 인코더와 디코더를 모두 갖고 모든 작업을 글에서 글로 바꾸는 문제로 다룹니다.",
				"GPT는 자기회귀 방식으로 글을 만들고, BERT는 가려진 토큰으로 학습해 글을 인코딩하며, T5는 모든 작업을 글 입력, 글 출력으로 다루는 seq2seq 모델입니다.",
			},
			enKeywords: []string{"bert", "gpt", "t5"},
			koKeywords: []string{"BERT", "GPT", "T5"},
		},
		{
			key: "domain-specific",
			en:  []string{"a domain-specific model", "domain-specific language models"},
			ko:  []string{"도메인 특화 모델", "특정 분야 언어 모델"},
			enAnswer: []string{
				"A domain-specific model is trained or fine-tuned on text from one field, such as medicine, law or code, so it knows that field's words and facts better than a general model.",
				"Domain-specific language models focus on one area. They are often smaller than general models but more accurate inside their domain.",
			},
			koAnswer: []string{
				"도메인 특화 모델은 의학, 법, 코드처럼 한 분야의 글로 학습하거나 파인튜닝한 모델입니다. 그래서 일반 모델보다 그 분야의 말과 지식을 잘 압니다.",
				"특정 분야 언어 모델은 한 영역에 집중합니다. 일반 모델보다 작은 경우가 많지만 자기 분야 안에서는 더 정확합니다.",
			},
			enKeywords: []string{"domain", "field", "area"},
			koKeywords: []string{"분야", "도메인", "영역"},
		},
		{
			key: "vector search",
			en:  []string{"vector search", "a vector database", "semantic search"},
			ko:  []string{"벡터 검색", "벡터 데이터베이스", "의미 검색"},
			enAnswer: []string{
				"Vector search finds items whose embeddings are closest to the embedding of a query. It finds text with a similar meaning even when the words differ.",
				"A vector database stores embeddings and quickly returns the nearest ones to a query vector. Chatbots use it to look up relevant documents.",
			},
			koAnswer: []string{
				"벡터 검색은 질문의 임베딩과 가장 가까운 임베딩을 가진 항목을 찾습니다. 단어가 달라도 뜻이 비슷한 글을 찾을 수 있습니다.",
				"벡터 데이터베이스는 임베딩을 저장하고 질문 벡터와 가장 가까운 것을 빠르게 돌려줍니다. 챗봇은 이것으로 관련 문서를 찾습니다.",
			},
			enKeywords: []string{"embedding", "vector", "nearest", "closest"},
			koKeywords: []string{"임베딩", "벡터", "가까운"},
		},
		{
			key: "chatbot",
			en:  []string{"a chatbot", "chatbots"},
			ko:  []string{"챗봇"},
			enAnswer: []string{
				"A chatbot is a program that talks with people in natural language. Modern chatbots use a language model to write each reply from the conversation so far.",
				"Chatbots answer messages in a conversation. A language-model chatbot reads the whole dialogue and predicts a reply token by token.",
			},
			koAnswer: []string{
				"챗봇은 사람과 자연어로 대화하는 프로그램입니다. 요즘 챗봇은 언어 모델로 지금까지의 대화를 보고 답을 씁니다.",
				"챗봇은 대화에서 메시지에 답합니다. 언어 모델 챗봇은 대화 전체를 읽고 답을 토큰 하나씩 예측합니다.",
			},
			enKeywords: []string{"conversation", "talk", "reply", "dialogue"},
			koKeywords: []string{"대화", "답"},
		},
		{
			key: "language model",
			en:  []string{"a language model", "a large language model", "an LLM"},
			ko:  []string{"언어 모델", "대규모 언어 모델", "LLM"},
			enAnswer: []string{
				"A language model assigns probabilities to text. Given some words, it predicts which token is likely to come next, and by repeating that it can write.",
				"A large language model is a big neural network, usually a transformer, trained on lots of text to predict the next token. It can answer questions, write and translate.",
			},
			koAnswer: []string{
				"언어 모델은 글에 확률을 매깁니다. 몇 단어가 주어지면 다음에 올 토큰을 예측하고, 이를 되풀이해 글을 씁니다.",
				"대규모 언어 모델은 많은 글로 다음 토큰을 예측하도록 학습한 큰 신경망이며, 보통 트랜스포머입니다. 질문에 답하고 글을 쓰고 번역할 수 있습니다.",
			},
			enKeywords: []string{"predict", "token", "probabilit", "text"},
			koKeywords: []string{"예측", "토큰", "확률", "글"},
		},
	}
}

// Topic is the public view of one explained idea: its key and the
// keywords that mark a reply as on topic.
type Topic struct {
	Key                    string
	EnKeywords, KoKeywords []string
}

// Topics lists the ideas the corpus explains.
func Topics() []Topic {
	var out []Topic
	for _, t := range topics() {
		out = append(out, Topic{Key: t.key, EnKeywords: t.enKeywords, KoKeywords: t.koKeywords})
	}
	return out
}
