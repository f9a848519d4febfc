"""A real small model (Qwen2.5-Coder-1.5B-Instruct on llama.cpp, from the package registries; bench/llama.py), with
no proxy in between, as the user simulator, the task agent and the critic, alone and all together. What must hold
for any model: no episode fails on output parsing, every accepted example agrees with the world, every judged score
agrees with its pass flag, and the tokens Goldsmith counts equal the server's own counts."""

import os

import pytest

from bench.llama import Unavailable, serve
from bench.real_model import evaluate, run


@pytest.fixture(scope="module")
def base_url():
    if os.environ.get("GOLDSMITH_REAL_MODEL") != "1":  # CI sets it (.ci/run)
        pytest.skip("the real small model runs with GOLDSMITH_REAL_MODEL=1 (1.2 GB download, minutes per episode)")
    try:
        with serve() as url:
            yield url
    except Unavailable as exc:
        pytest.skip(f"no real model here: {exc}")


@pytest.mark.slow
@pytest.mark.parametrize("roles", ["user", "task", "critic", "all"])
def test_the_real_model_plays_each_role(base_url, roles, tmp_path):
    outcome = run(roles, base_url, count=1, domain="kyc", out=str(tmp_path))
    assert outcome.episodes == 1 and outcome.calls > 0
    assert outcome.parse_failures == 0, outcome.reasons
    assert outcome.problems == [], outcome.problems
    assert outcome.counted == outcome.server


@pytest.mark.slow
def test_the_real_model_as_an_evaluate_candidate(base_url, tmp_path):
    outcome = evaluate(base_url, goldens=1, domain="kyc", out=str(tmp_path))
    assert outcome.episodes == 1 and outcome.calls > 0
    assert outcome.parse_failures == 0, outcome.reasons
    assert outcome.problems == [], outcome.problems
    assert outcome.counted == outcome.server
