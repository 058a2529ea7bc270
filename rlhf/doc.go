// Package rlhf turns ratings into a better policy: datasets from the
// feedback store, the reward model, KTO/DPO/RLOO policy updates on LoRA
// adapters, evaluation gates, the policy registry, the scheduled train job
// and the lab that closes the loop with a simulated annotator.
package rlhf
