"""A small OpenAI-compatible HTTP server on top of any `RolloutEngine` (127.0.0.1 by default).

Why: distillation and endpoint evaluation speak the OpenAI API; this lets them run against a local
model (HF or vLLM engine) without `vllm serve`, e.g. in tests and on machines without a hub.
Implements `GET /v1/models`, `POST /v1/chat/completions` and `POST /v1/completions`; `stream=true`
answers in server-sent events (each choice's text in one chunk: the engine generates it whole).

Every request is checked before the engine sees it, as vLLM's server does: a field of the wrong type
or out of range, a prompt plus `max_tokens` longer than the model's context, more than
`MAX_SEQUENCES` completions, an unknown model name or a body over `MAX_BODY_BYTES` is a 4xx with an
OpenAI error object (`{"error": {"message", "type", "param", "code"}}`) naming the field; nothing a
client sends can make the server answer 500, run without end, or end the process.
"""

import json
import math
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from rl.inference.engines import RolloutEngine, SamplingConfig, render_prompts

MAX_BODY_BYTES = 16 << 20  # a request body; larger is 413 before it is read whole
MAX_SEQUENCES = 256  # n x prompts of one request
MAX_STOP = 64  # stop strings of one request (OpenAI allows 4)
MAX_STOP_CHARS = 1000
DEFAULT_MAX_TOKENS = 256


class RequestError(Exception):
    """A request the server refuses: `status` and one message naming `param`."""

    def __init__(self, message: str, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.param, self.status = message, param, status


def error_body(message: str, status: int, param: str | None = None) -> dict[str, Any]:
    kind = {400: "BadRequestError", 404: "NotFoundError", 413: "RequestTooLargeError"}.get(
        status, "InternalServerError")
    return {"error": {"message": message, "type": kind, "param": param, "code": status}}


# -- field checks (the types and ranges OpenAI documents; bool is not a number) -----------------------

def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int_field(body: dict[str, Any], name: str, lo: int, hi: int) -> int | None:
    v = body.get(name)
    if v is None:
        return None
    if not _is_int(v):
        raise RequestError(f"'{name}' must be an integer, got {json.dumps(v)[:80]}", name)
    if not lo <= v <= hi:
        raise RequestError(f"'{name}' must be in {lo}..{hi}, got {v}", name)
    return v


def _float_field(body: dict[str, Any], name: str, default: float, lo: float, hi: float,
                 lo_open: bool = False) -> float:
    v = body.get(name)
    if v is None:
        return default
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
        raise RequestError(f"'{name}' must be a finite number, got {json.dumps(v)[:80]}", name)
    if not ((lo < v) if lo_open else (lo <= v)) or v > hi:
        raise RequestError(f"'{name}' must be in {'(' if lo_open else '['}{lo}, {hi}], got {v}", name)
    return float(v)


def _unicode(text: str, where: str) -> str:
    """JSON can carry a lone UTF-16 surrogate ("\\ud800"); no tokenizer can (a 500 in its encoder)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(f"'{where}' is not valid Unicode (a lone surrogate)", where) from None
    return text


def _stop(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    stop = [stop] if isinstance(stop, str) else stop
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise RequestError("'stop' must be a string or a list of strings", "stop")
    if len(stop) > MAX_STOP or any(len(s) > MAX_STOP_CHARS for s in stop):
        raise RequestError(f"'stop' takes at most {MAX_STOP} strings of at most {MAX_STOP_CHARS} characters",
                           "stop")
    return [_unicode(s, "stop") for s in stop]


def _messages(body: dict[str, Any]) -> list[dict[str, str]]:
    """Chat messages as the engines take them: content parts of type text are joined (as vLLM does)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list", "messages")
    out = []
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise RequestError(f"'{where}' must be an object with a string 'role'", where)
        content = m.get("content")
        if content is None and m["role"] == "assistant":  # an assistant turn of tool calls only
            content = ""
        if isinstance(content, list):
            if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
                       for p in content):
                raise RequestError(f"'{where}.content': only text parts are supported "
                                   "({\"type\": \"text\", \"text\": ...})", f"{where}.content")
            content = "".join(p["text"] for p in content)
        if not isinstance(content, str):
            raise RequestError(f"'{where}.content' must be a string or a list of text parts", f"{where}.content")
        out.append({"role": _unicode(m["role"], f"{where}.role"), "content": _unicode(content, f"{where}.content")})
    return out


def _text_prompts(body: dict[str, Any]) -> list[str]:
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise RequestError("'prompt' must be a string or a non-empty list of strings (token ids are not "
                           "supported)", "prompt")
    return [_unicode(p, "prompt") for p in prompts]


def _model_limits(engine: RolloutEngine) -> tuple[Any, int | None]:
    """The engine's tokenizer and context length (None, None for an engine without a local model)."""
    tokenizer = getattr(engine, "tokenizer", None)
    context = None
    model = getattr(engine, "model", None)
    if model is not None and hasattr(model, "config"):  # HFEngine
        context = getattr(model.config, "max_position_embeddings", None)
    llm = getattr(engine, "llm", None)
    if llm is not None:  # VLLMEngine (LLMEngine.model_config in V1; vllm_config.model_config as well)
        core = getattr(llm, "llm_engine", None)
        config = getattr(core, "model_config", None) or getattr(getattr(core, "vllm_config", None), "model_config", None)
        context = getattr(config, "max_model_len", None)
    return tokenizer, context


# Options this server cannot honour, with the values that ask nothing of it: any other value is refused
# rather than ignored (a client asking for logprobs, JSON output or tools would silently get none).
_UNSUPPORTED: dict[str, tuple[Any, ...]] = {
    "logprobs": (None, False, 0), "top_logprobs": (None, 0), "echo": (None, False), "best_of": (None, 1),
    "logit_bias": (None, {}), "suffix": (None, ""), "tools": (None, []), "functions": (None, []),
    "tool_choice": (None, "none", "auto"), "response_format": (None, {"type": "text"}),
    "presence_penalty": (None, 0, 0.0), "frequency_penalty": (None, 0, 0.0), "prompt_logprobs": (None, 0),
}


def _check_unsupported(body: dict[str, Any]) -> None:
    for name, neutral in _UNSUPPORTED.items():
        value = body.get(name)
        if not any(value == v and type(value) is type(v) or (v is None and value is None) for v in neutral):
            raise RequestError(f"'{name}' = {json.dumps(value)[:80]} is not supported by this server "
                               f"(it would be ignored)", name)


def _sampling(body: dict[str, Any], n_prompts: int, prompt_tokens: list[int], context: int | None
              ) -> SamplingConfig:
    _check_unsupported(body)
    n = _int_field(body, "n", 1, MAX_SEQUENCES) or 1
    if n * n_prompts > MAX_SEQUENCES:
        raise RequestError(f"at most {MAX_SEQUENCES} completions per request (prompts x n), "
                           f"got {n_prompts} x {n}", "n")
    room = context - max(prompt_tokens, default=0) if context else None
    limits = {name: _int_field(body, name, 1, context or 2**31 - 1)  # both checked; vLLM's precedence
              for name in ("max_tokens", "max_completion_tokens")}
    name = "max_completion_tokens" if limits["max_completion_tokens"] is not None else "max_tokens"
    max_tokens = limits[name]
    if room is not None and room < (max_tokens or 1):
        raise RequestError(
            f"This model's maximum context length is {context} tokens. However, you requested "
            f"{max(prompt_tokens) + (max_tokens or 1)} tokens ({max(prompt_tokens)} in the prompt, "
            f"{max_tokens or 1} in the completion). Please reduce the length of the prompt or completion.",
            name if max_tokens else "messages")
    if max_tokens is None:
        max_tokens = min(DEFAULT_MAX_TOKENS, room) if room is not None else DEFAULT_MAX_TOKENS
    if body.get("stream") is not None and not isinstance(body.get("stream"), bool):
        raise RequestError("'stream' must be true or false", "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise RequestError("'stream_options' must be an object", "stream_options")
    return SamplingConfig(
        max_tokens=max_tokens,
        temperature=_float_field(body, "temperature", 1.0, 0.0, 1e6),
        top_p=_float_field(body, "top_p", 1.0, 0.0, 1.0, lo_open=True),
        n=n,
        seed=_int_field(body, "seed", 0, 2**62),
        stop=_stop(body),
    )


class _BodyLimit:
    """ASGI middleware: a body over `limit` bytes is 413 (uvicorn reads any size into memory)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                from starlette.responses import JSONResponse

                reply = JSONResponse(error_body(f"request body over {self.limit} bytes", 413), status_code=413)
                return await reply(scope, receive, send)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def build_app(engine: RolloutEngine, model_name: str):
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool

    app = FastAPI(title="cfcode OpenAI-compatible server")
    app.add_middleware(_BodyLimit, limit=MAX_BODY_BYTES)
    lock = threading.Lock()  # engines (and their tokenizers) are not re-entrant
    tokenizer, context = _model_limits(engine)

    @app.exception_handler(RequestError)
    async def refused(_: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse(error_body(exc.message, exc.status, exc.param), status_code=exc.status)

    @app.exception_handler(Exception)
    async def failed(_: Request, exc: Exception) -> JSONResponse:  # the engine's own failure: still JSON
        return JSONResponse(error_body(f"{type(exc).__name__}: {exc}"[:1000], 500), status_code=500)

    async def read_body(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body())
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise RequestError(f"the request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise RequestError("the request body must be a JSON object")
        model = body.get("model")
        if model is not None and model != model_name:
            raise RequestError(f"The model `{str(model)[:200]}` does not exist.", "model", status=404)
        return body

    def run(prompts: list, body: dict[str, Any]):
        with lock:
            prompt_tokens = [0] * len(prompts)
            if tokenizer is not None:
                try:
                    texts = render_prompts(tokenizer, prompts)
                except Exception as exc:  # the chat template refused the messages (a role it does not know)
                    raise RequestError(f"the chat template refused the messages: {exc}"[:500], "messages") from None
                prompt_tokens = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
            sampling = _sampling(body, len(prompts), prompt_tokens, context)
            try:
                groups = engine.generate(prompts, sampling)
            except (TypeError, ValueError) as exc:  # an engine's own check (a remote endpoint's 4xx)
                raise RequestError(str(exc)[:500]) from None
        return groups, sum(prompt_tokens)  # as OpenAI counts them: once per prompt, whatever n

    def response(id_prefix: str, kind: str, choices: list[dict[str, Any]], groups, prompt_tokens: int
                 ) -> dict[str, Any]:
        """The OpenAI response envelope shared by chat and text completions."""
        tokens = sum(c.n_tokens for g in groups for c in g)
        return {"id": f"{id_prefix}-{time.time_ns()}", "object": kind, "created": int(time.time()),
                "model": model_name, "choices": choices,
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": tokens,
                          "total_tokens": prompt_tokens + tokens}}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "cfcode"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await read_body(request)
        messages = _messages(body)
        groups, prompt_tokens = await run_in_threadpool(run, [messages], body)
        choices = [
            {
                "index": i,
                "finish_reason": c.finish_reason,
                "message": {"role": "assistant", "content": c.text},
            }
            for i, c in enumerate(groups[0])
        ]
        return _maybe_stream(body, response("chatcmpl", "chat.completion", choices, groups, prompt_tokens))

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        body = await read_body(request)
        prompts = _text_prompts(body)
        groups, prompt_tokens = await run_in_threadpool(run, prompts, body)
        choices = [
            {"index": i * len(g) + j, "text": c.text, "finish_reason": c.finish_reason, "logprobs": None}
            for i, g in enumerate(groups)
            for j, c in enumerate(g)
        ]
        return _maybe_stream(body, response("cmpl", "text_completion", choices, groups, prompt_tokens))

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
