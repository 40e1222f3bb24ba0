"""Shared by the ``kharden generate`` tests: running it, scanning its output, validating its objects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from kharden.model import Report
from kharden.scan import ScanOptions, scan

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
