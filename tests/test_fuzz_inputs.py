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


# -- node trees and kubeconfigs: every field, every wrong type ------------------------------------

NODE_TREES = ("kubeadm-insecure", "kubeadm-secure", "k3s", "rke2")


def _node_files(tree: Path) -> dict[Path, Any]:
    """The YAML and JSON files of a node tree, parsed (unit and environment files are text, not fuzzed)."""
    found = {}
    for path in sorted(tree.rglob("*")):
        if path.is_file() and path.suffix in {".yaml", ".json", ".conflist", ".conf", ".kubeconfig", ""}:
            try:
                data = yaml.safe_load(path.read_text())
            except yaml.YAMLError:
                continue
            if isinstance(data, dict):
                found[path] = data
    return found


@pytest.mark.parametrize("tree", NODE_TREES)
def test_node_files_with_every_field_of_every_wrong_type(tmp_path: Path, tree: str) -> None:
    """The node source reads static pods' commands, mounts and volumes, the kubelet configuration's
    staticPodPath, admission plugin paths, k3s/RKE2 settings: each field of each file, each wrong
    type; a round mutates one field in every file of the tree at once."""
    import shutil  # noqa: PLC0415

    from conftest import TESTS  # noqa: PLC0415
    from kharden.rules import select  # noqa: PLC0415
    from kharden.scan import evaluate  # noqa: PLC0415
    from kharden.sources.documents import Collected  # noqa: PLC0415
    from kharden.sources.node import read_node  # noqa: PLC0415
    from test_fuzz_kinds import _mutations, _set  # noqa: PLC0415

    source = TESTS / "data" / "nodes" / tree
    files = _node_files(source)
    # What the node source reads itself (the rules' reading of every field is fuzzed in test_fuzz_kinds).
    read_by_source = ("/spec/containers/0/", "/spec/volumes/0/", "/plugins/0/")
    mutations = {
        path: [
            m
            for m in _mutations(data, node_object=False)
            if m[0].count("/") <= 2 or m[0].startswith(read_by_source)
        ]
        for path, data in files.items()
    }
    rules = select()
    root = tmp_path / tree
    shutil.copytree(source, root, symlinks=True)
    for index in range(max(len(m) for m in mutations.values())):
        for path, data in files.items():
            found = mutations[path]
            body = copy.deepcopy(data)
            if index < len(found):
                _set(body, found[index][0], copy.deepcopy(found[index][1]))
            (root / path.relative_to(source)).write_text(json.dumps(body))
        collected = Collected()
        read_node(str(root), collected)
        report = evaluate(collected, rules)
        assert [e for e in [*collected.errors, *report.errors] if "\n" in e.message] == []


KUBECONFIG: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Config",
    "current-context": "c",
    "preferences": {"colors": True},
    "clusters": [
        {
            "name": "k",
            "cluster": {
                "server": "https://127.0.0.1:6443",
                "certificate-authority": "ca.crt",
                "insecure-skip-tls-verify": False,
                "proxy-url": "http://127.0.0.1:3128",
                "tls-server-name": "kubernetes",
                "extensions": [{"name": "x", "extension": {"a": 1}}],
            },
        }
    ],
    "users": [
        {
            "name": "u",
            "user": {
                "token": "t",
                "tokenFile": "token",
                "client-certificate": "ca.crt",
                "client-key": "ca.crt",
                "username": "admin",
                "password": "p",
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "command": "no-such-plugin",
                    "args": ["token"],
                    "env": [{"name": "A", "value": "b"}],
                    "installHint": "install it",
                    "interactiveMode": "Never",
                    "provideClusterInfo": False,
                },
            },
        }
    ],
    "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u", "namespace": "shop"}}],
}


def test_kubeconfigs_with_every_field_of_every_wrong_type(tmp_path: Path) -> None:
    """Each field of a kubeconfig (clusters, users with every kind of credential, contexts), each wrong
    type: the connection is set up or a ClusterError says why, in one line."""

    from kharden.errors import ClusterError  # noqa: PLC0415
    from kharden.sources.kubeconfig import resolve  # noqa: PLC0415
    from test_fuzz_kinds import _mutations, _set  # noqa: PLC0415

    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")  # read and passed on, not parsed here
    (tmp_path / "token").write_text("t")
    path = tmp_path / "config"
    messages = []
    for pointer, value in _mutations(KUBECONFIG, node_object=False):
        data = copy.deepcopy(KUBECONFIG)
        _set(data, pointer, copy.deepcopy(value))
        path.write_text(json.dumps(data))
        try:
            resolve(str(path))
        except ClusterError as e:
            messages.append(str(e))
    assert len(messages) > 50
    assert [m for m in messages if "\n" in m] == []
