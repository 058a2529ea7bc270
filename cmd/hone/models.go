package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/hone-ai/hone/feedback"
	"github.com/hone-ai/hone/model"
)

// runModels is `hone models`: the policy registry.
func runModels(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("models", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	asJSON := fs.Bool("json", false, "JSON output")
	out := fs.String("o", "", "export: output GGUF file")
	tok := fs.String("tokenizer", "", "export: tokenizer.bin when the policy is a llama2.c checkpoint")
	adapter := fs.Bool("adapter", false, "export: the LoRA adapter (over the parent policy) instead of the whole model")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: hone models [list | show V | promote V | rollback | export V -o FILE.gguf [--adapter]] [--json]")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	sub := "list"
	if len(pos) > 0 {
		sub, pos = pos[0], pos[1:]
	}
	version := func() (int64, error) {
		if len(pos) != 1 {
			return 0, usageError("models %s: give one policy version", sub)
		}
		v, err := strconv.ParseInt(pos[0], 10, 64)
		if err != nil || v <= 0 {
			return 0, usageError("models %s: version %q is not a positive number", sub, pos[0])
		}
		return v, nil
	}
	switch sub {
	case "list", "show", "promote", "rollback", "export":
	default:
		return usageError("models: unknown subcommand %q (list, show, promote, rollback, export)", sub)
	}
	if (sub == "list" || sub == "rollback") && len(pos) > 0 {
		return usageError("models %s: unexpected argument %q", sub, pos[0])
	}
	var v int64
	if sub == "show" || sub == "promote" || sub == "export" {
		if v, err = version(); err != nil {
			return err
		}
	}
	if sub == "export" && *out == "" {
		return usageError("models export: -o FILE.gguf is required")
	}
	st, err := feedback.Open(ctx, e.db)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	defer st.Close()
	switch sub {
	case "list":
		ps, err := st.Policies(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(e.stdout).Encode(policiesJSON(ps))
		}
		if len(ps) == 0 {
			fmt.Fprintln(e.stdout, "no policies yet: `hone train -m MODEL` registers the base model")
			return nil
		}
		printPolicies(e.stdout, ps)
	case "show":
		p, err := st.Policy(ctx, v)
		if err != nil {
			return fmt.Errorf("models show: %w", err)
		}
		lin, err := st.Lineage(ctx, v)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(e.stdout).Encode(map[string]any{"policy": policyJSON(p), "lineage": policiesJSON(lin)})
		}
		showPolicy(e.stdout, p, lin)
	case "promote":
		if err := st.Promote(ctx, v); err != nil {
			return fmt.Errorf("models promote: %w", err)
		}
		fmt.Fprintf(e.stdout, "policy %d is active\n", v)
	case "rollback":
		p, err := st.Rollback(ctx)
		if err != nil {
			return fmt.Errorf("models rollback: %w", err)
		}
		fmt.Fprintf(e.stdout, "rolled back: policy %d is active\n", p.Version)
	case "export":
		p, err := st.Policy(ctx, v)
		if err != nil {
			return fmt.Errorf("models export: %w", err)
		}
		tk := *tok
		var pm struct {
			Tokenizer string `json:"tokenizer"`
			Adapter   string `json:"adapter"`
		}
		_ = json.Unmarshal(p.Metrics, &pm)
		if tk == "" {
			tk = pm.Tokenizer
		}
		if *adapter {
			if pm.Adapter == "" {
				return fmt.Errorf("models export: policy %d has no adapter (it is a %s model)", v, p.Algorithm)
			}
			b, err := os.ReadFile(pm.Adapter)
			if err != nil {
				return fmt.Errorf("models export: %w", err)
			}
			if err := writeFileSynced(*out, b); err != nil {
				return fmt.Errorf("models export: %w", err)
			}
			fmt.Fprintf(e.stdout, "adapter of policy %d (over policy %d) written to %s\n", v, p.ParentVersion, *out)
			return nil
		}
		m, err := model.Load(p.Path, model.LoadOptions{Tokenizer: tk})
		if err != nil {
			return fmt.Errorf("models export: policy %d: %w", v, err)
		}
		defer m.Close()
		abs, _ := filepath.Abs(*out)
		if err := m.SaveGGUF(abs, model.SaveOptions{Name: fmt.Sprintf("hone policy %d", v)}); err != nil {
			return fmt.Errorf("models export: %w", err)
		}
		fmt.Fprintf(e.stdout, "policy %d written to %s\n", v, abs)
	}
	return nil
}

type policyOut struct {
	Version   int64           `json:"version"`
	Name      string          `json:"name"`
	Status    string          `json:"status"`
	Algorithm string          `json:"algorithm"`
	Parent    int64           `json:"parent,omitempty"`
	Base      string          `json:"base"`
	Path      string          `json:"path"`
	Metrics   json.RawMessage `json:"metrics,omitempty"`
	Created   time.Time       `json:"created_at"`
	Promoted  *time.Time      `json:"promoted_at,omitempty"`
}

func policyJSON(p feedback.Policy) policyOut {
	o := policyOut{Version: p.Version, Name: p.Name, Status: string(p.Status), Algorithm: p.Algorithm, Parent: p.ParentVersion,
		Base: p.Base, Path: p.Path, Metrics: p.Metrics, Created: p.CreatedAt}
	if !p.PromotedAt.IsZero() {
		t := p.PromotedAt
		o.Promoted = &t
	}
	return o
}

func policiesJSON(ps []feedback.Policy) []policyOut {
	out := make([]policyOut, len(ps))
	for i, p := range ps {
		out[i] = policyJSON(p)
	}
	return out
}

// keyMetrics are the figures list shows from a policy's metrics.
type keyMetrics struct {
	KL          *float64 `json:"kl"`
	RewardRef   *float64 `json:"reward_ref"`
	RewardTuned *float64 `json:"reward_tuned"`
	LMRef       *float64 `json:"lm_loss_ref"`
	LMTuned     *float64 `json:"lm_loss_tuned"`
	Examples    int      `json:"examples"`
	Pairs       int      `json:"pairs"`
	RewardModel *struct {
		PairAccuracy float64 `json:"pair_accuracy"`
	} `json:"reward_model"`
}

func (k keyMetrics) summary() string {
	if k.KL == nil {
		return ""
	}
	s := fmt.Sprintf("KL %.2f", *k.KL)
	if k.RewardRef != nil && k.RewardTuned != nil {
		s += fmt.Sprintf("  reward %+.3f", *k.RewardTuned-*k.RewardRef)
	}
	if k.LMRef != nil && k.LMTuned != nil && *k.LMRef != 0 {
		s += fmt.Sprintf("  LM loss %+.1f%%", 100*(*k.LMTuned-*k.LMRef) / *k.LMRef)
	}
	if k.RewardModel != nil {
		s += fmt.Sprintf("  RM acc %.0f%%", 100*k.RewardModel.PairAccuracy)
	}
	return s + fmt.Sprintf("  data %d+%dp", k.Examples, k.Pairs)
}

func printPolicies(w io.Writer, ps []feedback.Policy) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATUS\tALGO\tPARENT\tCREATED\tMETRICS")
	for _, p := range ps {
		var k keyMetrics
		_ = json.Unmarshal(p.Metrics, &k)
		parent := "-"
		if p.ParentVersion > 0 {
			parent = fmt.Sprint(p.ParentVersion)
		}
		mark := ""
		if p.Status == feedback.PolicyActive {
			mark = " *"
		}
		fmt.Fprintf(tw, "%d%s\t%s\t%s\t%s\t%s\t%s\n", p.Version, mark, p.Status, p.Algorithm, parent, p.CreatedAt.Local().Format("2006-01-02 15:04"), k.summary())
	}
	tw.Flush()
}

func showPolicy(w io.Writer, p feedback.Policy, lineage []feedback.Policy) {
	fmt.Fprintf(w, "policy %d (%s) %s\n", p.Version, p.Name, p.Status)
	fmt.Fprintf(w, "algorithm: %s\nfile: %s\nbase: %s\ncreated: %s\n", p.Algorithm, p.Path, p.Base, p.CreatedAt.Local().Format(time.RFC3339))
	if !p.PromotedAt.IsZero() {
		fmt.Fprintf(w, "promoted: %s\n", p.PromotedAt.Local().Format(time.RFC3339))
	}
	fmt.Fprint(w, "lineage:")
	for _, l := range lineage {
		fmt.Fprintf(w, " %d(%s)", l.Version, l.Algorithm)
	}
	fmt.Fprintln(w)
	if len(p.Metrics) > 0 {
		var v any
		if json.Unmarshal(p.Metrics, &v) == nil {
			b, _ := json.MarshalIndent(v, "", "  ")
			fmt.Fprintf(w, "metrics: %s\n", b)
		}
	}
	if _, err := os.Stat(p.Path); err != nil {
		fmt.Fprintf(w, "warning: %v\n", err)
	}
}

// writeFileSynced writes b to path through a synced temporary file and a
// rename.
func writeFileSynced(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
