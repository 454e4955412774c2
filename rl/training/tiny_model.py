"""A tiny Qwen2-architecture causal LM with random weights, built locally (no model hub reachable).

It exercises the real training/rollout stack on CPU: vLLM and transformers both load it, its
tokenizer is a byte-level BPE trained on the fly on problem prompts and gold traces (so every string
round-trips), and it carries a ChatML chat template like Qwen2.5-Instruct. head_dim is 64 because
vLLM's CPU attention kernels support only a few head sizes.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from generators import generate

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


@dataclass(frozen=True)
class TinyModelSpec:
    vocab_size: int = 1024  # BPE target; the real size is whatever the trainer reaches (<= this)
    hidden_size: int = 128
    num_attention_heads: int = 2  # head_dim = 64
    num_key_value_heads: int = 2
    num_hidden_layers: int = 2
    intermediate_size: int = 256
    max_position_embeddings: int = 4096


def default_corpus(n_problems: int = 200, seed: int = 0) -> list[str]:
    """Prompts and gold traces of generated training problems: the text the tiny model will see."""
    texts: list[str] = []
    for mode in ("counterfactual", "interventional"):
        for p in generate("if_else", mode, n_problems // 2, seed):
            texts.append(p.prompt)
            texts.append(p.gold_trace)
    return texts


def train_tokenizer(corpus: list[str], vocab_size: int):
    """Byte-level BPE (GPT-2/Qwen style) with ChatML specials; deterministic for a given corpus."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if not corpus or not any(t.strip() for t in corpus):
        raise ValueError("the tokenizer corpus is empty")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   unk_token=None, chat_template=CHAT_TEMPLATE, model_max_length=4096,
                                   clean_up_tokenization_spaces=False)


def build_tiny_model(out_dir: str | Path, corpus: list[str] | None = None, seed: int = 0,
                     spec: TinyModelSpec = TinyModelSpec()) -> Path:
    """Write a loadable tiny Qwen2 model + tokenizer to `out_dir`; returns the directory."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(corpus if corpus is not None else default_corpus(seed=seed), spec.vocab_size)
    eos_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    pad_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers, num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads, max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=True, bos_token_id=pad_id, eos_token_id=eos_id, pad_token_id=pad_id,
        rope_theta=10000.0, torch_dtype="float32",
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(eos_token_id=eos_id, pad_token_id=pad_id, bos_token_id=pad_id)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    (out / "tiny_model_spec.json").write_text(json.dumps({**asdict(spec), "seed": seed}, sort_keys=True))
    return out
