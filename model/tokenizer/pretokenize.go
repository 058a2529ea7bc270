package tokenizer

// PreTokenize splits text into the words that merges never cross, with the
// pre-tokenizer that a tokenizer.ggml.pre value names. Tokenizer trainers
// use it so their merges match what this package will do at run time.
func PreTokenize(pre, text string) ([]string, error) {
	p, err := newPreTokenizer(pre)
	if err != nil {
		return nil, err
	}
	spans := p.split(text)
	words := make([]string, len(spans))
	for i, s := range spans {
		words[i] = text[s[0]:s[1]]
	}
	return words, nil
}
