"""Fixtures: hand-built problems (answers worked out by hand in the docstrings) and a local sandbox."""
from __future__ import annotations

import pytest
from tests.envs.envs_problems import make_problem

from generators.schema import Problem


@pytest.fixture
def mod_problem() -> Problem:
    """f(x, r) = (x*r) % 6, r in 0..5. Observed f(2, r) = 2 -> r in {1, 4}; at x=5: 5*1%6=5, 5*4%6=2.
    Every output 0..5 is reachable at x=5 for some r, so listing 0..5 ignores the observation."""
    return make_problem("hand:mod:cf")


@pytest.fixture
def mod_interventional() -> Problem:
    """Same program with r = 4 revealed: f(5, 4) = 20 % 6 = 2."""
    return make_problem("hand:mod:iv", mode="interventional", revealed={"r": 4}, answer=[2], meta={})


@pytest.fixture
def two_latent_problem() -> Problem:
    """f(x, a, b) = x*a + b, a in 1..3, b in 0..2. f(1)=4 -> (2,2),(3,1); f(2)=7 -> only (3,1). f(3)=10."""
    return make_problem("hand:two:cf", program="def f(x, a, b):\n    return x * a + b\n",
                        latents={"a": [1, 2, 3], "b": [0, 1, 2]},
                        observations=[{"args": {"x": 1}, "output": 4}, {"args": {"x": 2}, "output": 7}],
                        intervention={"args": {"x": 3}}, answer=[10], meta={"unconditioned_answer_size": 7})


@pytest.fixture
def string_problem() -> Problem:
    """f(x, r) = ["lo", "hi"][(x + r) % 2], r in 0..2. f(0)="hi" -> r=1; f(1, 1) = "lo"."""
    return make_problem("hand:str:cf", program='def f(x, r):\n    return ["lo", "hi"][(x + r) % 2]\n',
                        latents={"r": [0, 1, 2]}, observations=[{"args": {"x": 0}, "output": "hi"}],
                        intervention={"args": {"x": 1}}, answer=["lo"], meta={"unconditioned_answer_size": 2})


@pytest.fixture(scope="session")
def local_sandbox():
    from sandbox import make_sandbox

    sb = make_sandbox("local")
    yield sb
    sb.close()
