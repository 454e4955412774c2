"""A small OpenAI-compatible HTTP server on top of any `RolloutEngine` (127.0.0.1 by default).

Why: distillation and endpoint evaluation speak the OpenAI API; this lets them run against a local
model (HF or vLLM engine) without `vllm serve`, e.g. in tests and on machines without a hub.
Implements `GET /v1/models`, `POST /v1/chat/completions` and `POST /v1/completions`; `stream=true`
answers in server-sent events (each choice's text in one chunk: the engine generates it whole).
"""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from rl.inference.engines import RolloutEngine, SamplingConfig


def _sampling(body: dict[str, Any]) -> SamplingConfig:
    stop = body.get("stop") or []
    return SamplingConfig(
        max_tokens=int(body.get("max_tokens") or body.get("max_completion_tokens") or 256),
        temperature=float(body.get("temperature", 1.0)),
        top_p=float(body.get("top_p", 1.0)),
        n=int(body.get("n", 1)),
        seed=body.get("seed"),
        stop=[stop] if isinstance(stop, str) else list(stop),
    )


def build_app(engine: RolloutEngine, model_name: str):
    from fastapi import FastAPI, HTTPException

    app = FastAPI(title="cfcode OpenAI-compatible server")
    lock = threading.Lock()  # engines are not re-entrant

    def run(prompts: list, body: dict[str, Any]):
        try:
            sampling = _sampling(body)
        except (TypeError, ValueError) as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        with lock:
            return engine.generate(prompts, sampling)

    def response(id_prefix: str, kind: str, choices: list[dict[str, Any]], groups) -> dict[str, Any]:
        """The OpenAI response envelope shared by chat and text completions."""
        tokens = sum(c.n_tokens for g in groups for c in g)
        return {"id": f"{id_prefix}-{time.time_ns()}", "object": kind, "created": int(time.time()),
                "model": model_name, "choices": choices,
                "usage": {"prompt_tokens": 0, "completion_tokens": tokens, "total_tokens": tokens}}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "cfcode"}]}

    @app.post("/v1/chat/completions")
    def chat(body: dict[str, Any]) -> Any:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise HTTPException(status_code=400, detail="'messages' must be a non-empty list")
        groups = run([messages], body)
        choices = [
            {
                "index": i,
                "finish_reason": c.finish_reason,
                "message": {"role": "assistant", "content": c.text},
            }
            for i, c in enumerate(groups[0])
        ]
        return _maybe_stream(body, response("chatcmpl", "chat.completion", choices, groups))

    @app.post("/v1/completions")
    def completions(body: dict[str, Any]) -> Any:
        prompt = body.get("prompt")
        prompts = [prompt] if isinstance(prompt, str) else prompt
        if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
            raise HTTPException(status_code=400, detail="'prompt' must be a string or a list of strings")
        groups = run(prompts, body)
        choices = [
            {"index": i * len(g) + j, "text": c.text, "finish_reason": c.finish_reason, "logprobs": None}
            for i, g in enumerate(groups)
            for j, c in enumerate(g)
        ]
        return _maybe_stream(body, response("cmpl", "text_completion", choices, groups))

    return app


# -- stream=true: the finished response replayed as OpenAI's server-sent events ----------------------

def _maybe_stream(body: dict[str, Any], response: dict[str, Any]) -> Any:
    """`response` itself, or (`stream=true`) an SSE stream of it: per choice a content chunk and a
    finish chunk, a usage chunk if `stream_options.include_usage`, then `data: [DONE]`."""
    if not body.get("stream"):
        return response
    from fastapi.responses import StreamingResponse

    options = body.get("stream_options") or {}
    include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
    events = [f"data: {json.dumps(chunk)}\n\n" for chunk in stream_chunks(response, include_usage)]
    return StreamingResponse(iter(events + ["data: [DONE]\n\n"]), media_type="text/event-stream")


def stream_chunks(response: dict[str, Any], include_usage: bool = False) -> list[dict[str, Any]]:
    """The chunk objects of a chat or text completion response (as OpenAI's streaming API sends)."""
    chat = response["object"] == "chat.completion"
    head = {"id": response["id"], "object": "chat.completion.chunk" if chat else "text_completion",
            "created": response["created"], "model": response["model"]}
    chunks = []
    for c in response["choices"]:
        if chat:
            delta = {"role": "assistant", "content": c["message"]["content"]}
            chunks.append({**head, "choices": [{"index": c["index"], "delta": delta, "finish_reason": None}]})
            chunks.append({**head, "choices": [{"index": c["index"], "delta": {},
                                                "finish_reason": c["finish_reason"]}]})
        else:
            chunks.append({**head, "choices": [{"index": c["index"], "text": c["text"], "finish_reason": None,
                                                "logprobs": None}]})
            chunks.append({**head, "choices": [{"index": c["index"], "text": "",
                                                "finish_reason": c["finish_reason"], "logprobs": None}]})
    if include_usage:
        chunks.append({**head, "choices": [], "usage": response["usage"]})
    return chunks


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class RunningServer:
    url: str  # base URL including /v1, as OpenAI clients expect
    model_name: str
    _server: Any
    _thread: threading.Thread

    def engine_spec(self) -> str:
        return f"openai:{self.url}#{self.model_name}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> "RunningServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(
    engine: RolloutEngine,
    model_name: str = "local",
    host: str = "127.0.0.1",
    port: int | None = None,
    start_timeout_s: float = 30.0,
) -> RunningServer:
    """Start the server in a background thread; returns once it accepts connections."""
    import uvicorn

    port = port or free_port(host)
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(engine, model_name), host=host, port=port, log_level="warning", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, name="cfcode-openai-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the OpenAI-compatible server did not start on {host}:{port}")
        time.sleep(0.05)
    return RunningServer(
        url=f"http://{host}:{port}/v1", model_name=model_name, _server=server, _thread=thread
    )


def serve_forever(engine: RolloutEngine, model_name: str, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(build_app(engine, model_name), host=host, port=port, log_level="info")
