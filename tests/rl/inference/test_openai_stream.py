"""`stream=true` on the local OpenAI-compatible server (`cfcode model serve`): the official client's
streamed text equals the non-streamed text, for chat and text completions (verifiers' v1 and other
clients relay in SSE)."""
from __future__ import annotations

import json

import pytest

from rl.inference.engines import HFEngine
from rl.inference.openai_server import serve_in_thread


@pytest.fixture(scope="module")
def client(tiny_model):
    from openai import OpenAI

    engine = HFEngine(tiny_model, batch_size=4)
    with serve_in_thread(engine, model_name="tiny") as server:
        yield OpenAI(base_url=server.url, api_key="none")
    engine.close()


def test_chat_stream_equals_non_stream(client):
    kw = {"model": "tiny", "messages": [{"role": "user", "content": "f(x=1) returned 3."}], "max_tokens": 8,
          "temperature": 1.0, "seed": 5, "n": 2}
    whole = client.chat.completions.create(**kw)
    chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kw))
    texts = {0: "", 1: ""}
    finish = {}
    for chunk in chunks:
        for c in chunk.choices:
            texts[c.index] += c.delta.content or ""
            if c.finish_reason:
                finish[c.index] = c.finish_reason
    assert texts == {c.index: c.message.content for c in whole.choices}
    assert finish == {c.index: c.finish_reason for c in whole.choices}
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens and not chunks[-1].choices


def test_text_completion_stream_equals_non_stream(client):
    kw = {"model": "tiny", "prompt": "def f(x):", "max_tokens": 8, "temperature": 1.0, "seed": 2}
    whole = client.completions.create(**kw)
    streamed = "".join(c.choices[0].text for c in client.completions.create(stream=True, **kw) if c.choices)
    assert streamed == whole.choices[0].text


# -- requests a real OpenAI/vLLM server refuses with a 4xx: never a 500, a hang or a dead server ----------

@pytest.fixture(scope="module")
def server(tiny_model):
    engine = HFEngine(tiny_model, batch_size=4, timeout_s=60)
    with serve_in_thread(engine, model_name="tiny") as running:
        yield running
    engine.close()


_M = [{"role": "user", "content": "f(x=1) returned 3."}]
_BAD_CHAT = {
    "n_huge": {"n": 10**9}, "n_zero": {"n": 0}, "n_string": {"n": "2"},
    "max_tokens_huge": {"max_tokens": 10**12}, "max_tokens_negative": {"max_tokens": -1},
    "max_tokens_zero": {"max_tokens": 0}, "max_tokens_string": {"max_tokens": "abc"},
    "max_tokens_fraction": {"max_tokens": 1.5}, "max_tokens_bool": {"max_tokens": True},
    "max_completion_tokens_huge": {"max_completion_tokens": 10**12},
    "temperature_hot": {"temperature": "hot"}, "temperature_inf": {"temperature": "1e999"},
    "temperature_negative": {"temperature": -1}, "top_p_zero": {"top_p": 0}, "top_p_string": {"top_p": "1"},
    "stop_ints": {"stop": [1, 2]}, "stop_dict": {"stop": {"a": 1}}, "stop_million": {"stop": ["x"] * 10**6},
    "seed_string": {"seed": "x"}, "seed_huge": {"seed": 10**30}, "seed_fraction": {"seed": 1.5},
    "messages_numbers": {"messages": [1]}, "message_without_content": {"messages": [{"role": "user"}]},
    "message_content_none": {"messages": [{"role": "user", "content": None}]},
    "message_content_number": {"messages": [{"role": "user", "content": 5}]},
    "message_role_number": {"messages": [{"role": 3, "content": "x"}]},
    "message_image_part": {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
    "prompt_over_context": {"messages": [{"role": "user", "content": "a b " * 20000}]},
    "stream_string": {"stream": "yes"}, "stream_options_list": {"stream": True, "stream_options": [1]},
    # options the server cannot honour are refused, not ignored
    "logprobs": {"logprobs": True}, "top_logprobs": {"top_logprobs": 5}, "best_of": {"best_of": 3},
    "json_mode": {"response_format": {"type": "json_object"}}, "logit_bias": {"logit_bias": {"5": 100}},
    "tools": {"tools": [{"type": "function", "function": {"name": "f"}}]},
    "presence_penalty": {"presence_penalty": 1.5},
}


@pytest.mark.parametrize("name", sorted(_BAD_CHAT))
def test_bad_chat_request_is_a_400_naming_the_field(server, name):
    import httpx

    body = {"model": "tiny", "messages": _M, "max_tokens": 4, **_BAD_CHAT[name]}
    raw = json.dumps(body).replace('"1e999"', "1e999")  # JSON text Python reads as infinity
    r = httpx.post(f"{server.url}/chat/completions", content=raw, headers={"content-type": "application/json"},
                   timeout=120)
    assert r.status_code == 400, (r.status_code, r.text[:300])
    error = r.json()["error"]
    assert error["type"] == "BadRequestError" and error["message"]
    # the server still answers a good request afterwards
    ok = httpx.post(f"{server.url}/chat/completions", json={"model": "tiny", "messages": _M, "max_tokens": 2})
    assert ok.status_code == 200


def test_bad_request_bodies_and_unknown_models(server):
    import httpx

    nested = b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    surrogate = b'{"messages": [{"role": "user", "content": "x\\ud800y"}], "max_tokens": 2}'
    for raw in (b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe{", nested, surrogate,
                b'{"prompt": "a\\udfffb", "max_tokens": 2}', b'{"messages": [{"role": "user", "content": "x"}], '
                b'"stop": ["\\ud800"], "max_tokens": 2}'):
        path = "/completions" if b'"prompt"' in raw else "/chat/completions"
        r = httpx.post(f"{server.url}{path}", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["message"], (raw[:80], r.status_code, r.text[:200])
    r = httpx.post(f"{server.url}/chat/completions", json={"model": "gpt-4", "messages": _M, "max_tokens": 2})
    assert r.status_code == 404 and "gpt-4" in r.json()["error"]["message"]
    for prompt in ([[1, 2, 3]], [], None, "x" * 10, ["ok", 5]):
        r = httpx.post(f"{server.url}/completions", json={"model": "tiny", "prompt": prompt, "max_tokens": 10**9})
        assert r.status_code == 400, (prompt, r.status_code, r.text[:200])
    r = httpx.post(f"{server.url}/completions", content=b"x" * (20 << 20),
                   headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_text_parts_and_usage_are_served_as_openai_does(server):
    import httpx

    parts = [{"role": "user", "content": [{"type": "text", "text": "f(x=1) "}, {"type": "text", "text": "returned 3."}]}]
    a = httpx.post(f"{server.url}/chat/completions", json={"model": "tiny", "messages": parts, "max_tokens": 4,
                                                          "temperature": 0}).json()
    b = httpx.post(f"{server.url}/chat/completions", json={"model": "tiny", "messages": _M, "max_tokens": 4,
                                                          "temperature": 0}).json()
    assert a["choices"][0]["message"]["content"] == b["choices"][0]["message"]["content"]
    assert b["usage"]["prompt_tokens"] > 0
    assert b["usage"]["total_tokens"] == b["usage"]["prompt_tokens"] + b["usage"]["completion_tokens"]


def test_greedy_n_gives_n_identical_completions(server):
    """OpenAI and vLLM answer n > 1 at temperature 0 with n (identical) choices; the HF engine passed
    num_return_sequences=n to greedy generate, which transformers refuses (and `cfcode eval --samples 4`
    with an hf: model died after loading it)."""
    import httpx

    r = httpx.post(f"{server.url}/chat/completions", json={"model": "tiny", "messages": _M, "max_tokens": 4,
                                                          "temperature": 0, "n": 3})
    assert r.status_code == 200, r.text[:300]
    one = httpx.post(f"{server.url}/chat/completions", json={"model": "tiny", "messages": _M, "max_tokens": 4,
                                                            "temperature": 0}).json()
    texts = [c["message"]["content"] for c in r.json()["choices"]]
    assert texts == [one["choices"][0]["message"]["content"]] * 3
    assert [c["index"] for c in r.json()["choices"]] == [0, 1, 2]
