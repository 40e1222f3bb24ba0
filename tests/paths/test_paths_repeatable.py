"""``kharden paths`` gives the same answer in every run: ties between paths and between fixes must not be
broken by the order of sets, which changes with each process's hash seed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import EXAMPLES

INSECURE = str(EXAMPLES / "insecure")

# Exact (minimum cut) and greedy choke points of the insecure example, in JSON, through the library.
_ANALYSIS = """
import functools, sys
from kharden.attack_paths import load
from kharden.paths import search
from kharden.report.paths import json as paths_json
search.choke_points = functools.partial(search.choke_points, exact_limit=int(sys.argv[2]))
sys.stdout.write(paths_json.render(load([sys.argv[1]], sources=["any"]).analysis))
"""


def _run(seed: int, *args: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, check=False, timeout=120
    )
    assert done.returncode in (0, 1), done.stderr
    assert done.stdout
    return done.stdout


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_the_same_paths_and_choke_points_whatever_the_hash_seed(fmt: str) -> None:
    runs = {
        _run(seed, "-m", "kharden", "paths", INSECURE, "--from", "any", "-f", fmt) for seed in (0, 1, 2, 3)
    }
    assert len(runs) == 1


@pytest.mark.parametrize("exact_limit", [200_000, 0])
def test_the_same_cut_whatever_the_hash_seed_by_minimum_cut_or_greedy(exact_limit: int) -> None:
    runs = {_run(seed, "-c", _ANALYSIS, INSECURE, str(exact_limit)) for seed in (0, 1, 2, 3)}
    assert len(runs) == 1
    method = "minimum cut" if exact_limit else "greedy"
    assert f'"method": "{method}"' in runs.pop()
