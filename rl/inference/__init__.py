"""Inference: rollout engines (vLLM, HF, OpenAI-compatible), the OpenAI-compatible server, stall timeouts, local model resolution (GGUF conversion)."""
