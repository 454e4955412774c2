"""`stream=true` on the local OpenAI-compatible server (`cfcode model serve`): the official client's
streamed text equals the non-streamed text, for chat and text completions (verifiers' v1 and other
clients relay in SSE)."""
from __future__ import annotations

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
