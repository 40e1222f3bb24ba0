"""Wrong types anywhere in a config, a baseline or an image scan report are errors naming the file, never a crash.

Seeded like tests/test_fuzz.py: each case puts values of random types at random fields of a
valid file and reads it.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import IMAGE_REPORTS, MINIMAL_POD, scan_objects
from kharden.baseline import baseline_json, load_baseline
from kharden.config import load_config
from kharden.errors import ConfigError, InputError
from kharden.sources.imagescan import parse_image_report
from test_fuzz import VALUES, _pointers, _set

CONFIG: dict[str, Any] = {
    "rules": {"include": ["pod.*", "image.*"], "exclude": ["image.not-minimal"]},
    "severity": {"image.not-pinned": "medium"},
    "ignore": [{"rule": "pod.privileged", "kind": "DaemonSet", "namespace": "x", "name": "y", "reason": "r"}],
    "fail-on": "high",
    "baseline": "b.json",
}


def _mutations(base: Any, seed: str, count: int = 200) -> list[Any]:
    rng = random.Random(seed)  # noqa: S311 - a seeded, repeatable test input
    pointers = _pointers(base)
    found = []
    for _ in range(count):
        data = copy.deepcopy(base)
        for _ in range(rng.randint(1, 3)):
            _set(data, rng.choice(pointers), copy.deepcopy(rng.choice(VALUES)))
        found.append(data)
    return found


def test_configs(tmp_path: Path) -> None:
    path = tmp_path / ".kharden.yaml"
    messages = []
    for data in _mutations(CONFIG, "kharden-config"):
        path.write_text(yaml.safe_dump(data))
        try:
            load_config(str(path))
        except ConfigError as e:
            messages.append(str(e))
    assert messages
    assert [m for m in messages if not m.startswith(f"{path}:") or "\n" in m] == []


def test_baselines(tmp_path: Path) -> None:
    bad = scan_objects(MINIMAL_POD | {"spec": {"hostPID": True, **MINIMAL_POD["spec"]}})
    base = json.loads(baseline_json(bad.findings))
    path = tmp_path / "b.json"
    messages = []
    for data in _mutations(base, "kharden-baseline"):
        path.write_text(json.dumps(data))
        try:
            load_baseline(str(path))
        except ConfigError as e:
            messages.append(str(e))
    assert messages
    assert [m for m in messages if not m.startswith(f"{path}:")] == []


@pytest.mark.parametrize("name", ["trivy-nginx-1.25.4.json", "grype-redis-7.2.json"])
def test_image_reports(name: str) -> None:
    base = json.loads((IMAGE_REPORTS / name).read_text())
    messages = []
    for data in _mutations(base, f"kharden-{name}", 150):
        try:
            parse_image_report(json.dumps(data).encode(), name)
        except InputError as e:
            messages.append(str(e))
    assert messages
    assert [m for m in messages if not m.startswith(f"{name}: ")] == []
