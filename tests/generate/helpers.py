"""Shared by the ``kharden generate`` tests: running it, scanning its output, validating its objects."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from cel_expr_python import cel
from cel_expr_python.ext import ext_strings

from kharden.analysis.podspec import EffectivePod, effective_pod
from kharden.model import Origin, Report
from kharden.scan import ScanOptions, scan
from kharden.sources.documents import Collected

KUBE_VERSION = "1.33"


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def schema_errors(obj: dict[str, Any]) -> list[str]:
    """What the Kubernetes OpenAPI schema of the object's kind refuses in it (strict: no unknown field)."""
    try:
        kubernetes_validate.validate(json.loads(json.dumps(obj)), KUBE_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{'/'.join(str(p) for p in e.path)}: {e.message}"]
    return []


def scan_with(paths: list[str], generated: str, tmp_path: Path, rules: tuple[str, ...]) -> Report:
    """Scan ``paths`` plus the generated manifests, for ``rules``."""
    out = tmp_path / "generated.yaml"
    out.write_text(generated, encoding="utf-8")
    return scan([*paths, str(out)], ScanOptions(rules=rules))


# The rules NetworkPolicies decide (netpol.dashboard and netpol.tiller are about what is deployed).
NETWORK_RULES = (
    "netpol.ingress-open",
    "netpol.egress-open",
    "netpol.internet-egress",
    "netpol.selects-nothing",
    "netpol.host-network",
    "exposure.metadata-api",
)


CEL_ENV = cel.NewEnv(
    variables={"variables": cel.Type.DYN, "object": cel.Type.DYN}, extensions=[ext_strings.ExtStrings()]
)
"""CEL as the API server compiles a ValidatingAdmissionPolicy: Kubernetes' strings extension on."""


class AdmissionPolicy:
    """A ValidatingAdmissionPolicy evaluated as the API server would: variables, then every validation."""

    def __init__(self, policy: dict[str, Any]) -> None:
        spec = policy["spec"]
        self.variables = [(v["name"], CEL_ENV.compile(v["expression"])) for v in spec["variables"]]
        self.validations = [(v["message"], CEL_ENV.compile(v["expression"])) for v in spec["validations"]]
        for _, program in self.validations:
            assert program.return_type() == cel.Type.BOOL

    def denials(self, pod: dict[str, Any]) -> list[str]:
        values: dict[str, Any] = {}
        for name, program in self.variables:
            values[name] = program.eval(data={"object": pod, "variables": values}).plain_value()
        data = {"object": pod, "variables": values}
        return [
            message for message, program in self.validations if program.eval(data=data).value() is not True
        ]


def effective(pod: dict[str, Any]) -> EffectivePod:
    """The effective pod of a Pod manifest (what the Python checks judge)."""
    collected = Collected()
    collected.add_raw(pod, Origin(None))
    return effective_pod(collected.objects[0], "")


DELETE = object()
"""A value for :func:`changed`: remove the key."""


def changed(base: dict[str, Any], *changes: tuple[tuple[Any, ...], Any]) -> dict[str, Any]:
    """A copy of ``base`` with each ``(path, value)`` set (mappings created on the way), or removed."""
    pod = copy.deepcopy(base)
    for path, value in changes:
        node: Any = pod
        for key in path[:-1]:
            node = node[key] if isinstance(node, list) else node.setdefault(key, {})
        if value is DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return pod
