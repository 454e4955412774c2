"""Training (vLLM-backed GRPO, SFT), evaluation and the SFT-vs-RL comparison."""
