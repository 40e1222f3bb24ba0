"""The pods a probe run creates: a probe pod per source, a listener pod per destination.

Each carries what makes the policies treat it as the pods it stands for, and nothing that
would let anything else treat it so:

- the labels of the pods it stands for that some NetworkPolicy selector reads (selectors look at
  no other key, so every policy selects it exactly as it selects them), and not the others
  (``pod-template-hash`` and the like, which controllers select by), plus
  ``kharden.io/probe=<run id>`` and ``kharden.io/probe-role``;
- its namespace, and the named container ports of the destination (named ports in policies
  resolve on the listener as on the real pods);
- a controller ownerReference to its Namespace, so that no ReplicaSet or DaemonSet whose selector
  matches the labels adopts it (and so deletes a replica of its own);
- a readiness gate that is never set, so that no Service sends traffic to it;
- no service mesh sidecar (Istio and Linkerd injection turned off: the proxy would answer in the
  pod's place);
- the restricted Pod Security profile (non-root, no privilege escalation, every capability
  dropped, RuntimeDefault seccomp, read-only root filesystem), small resource requests and
  limits, no ServiceAccount token, ``activeDeadlineSeconds``. A listener on a port below 1024
  sets the safe sysctl ``net.ipv4.ip_unprivileged_port_start`` instead of a capability.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ..analysis.netpol import Network, PodClass

__all__ = [
    "DEFAULT_IMAGE",
    "PROBE_LABEL",
    "ROLE_LABEL",
    "PodSettings",
    "agent_source",
    "listener_pod",
    "policy_label_keys",
    "probe_pod",
]

PROBE_LABEL = "kharden.io/probe"
ROLE_LABEL = "kharden.io/probe-role"
READINESS_GATE = "kharden.io/never-ready"
DEFAULT_IMAGE = "ghcr.io/kharden/kharden:0.1.0"
USER = 65532


@dataclass(frozen=True)
class PodSettings:
    run_id: str
    image: str = DEFAULT_IMAGE
    timeout: float = 3.0
    """Seconds a probe waits for a connection."""
    delay: float = 2.0
    """Seconds a probe pod waits before connecting, for the network plugin to program its policies."""
    deadline: int = 600
    """``activeDeadlineSeconds``: the pods end by themselves even if kharden cannot delete them."""


@cache
def agent_source() -> str:
    """The probe program, as the pods run it (``python3 -c``)."""
    return (Path(__file__).parent / "agent.py").read_text(encoding="utf-8")


def policy_label_keys(network: Network) -> frozenset[str]:
    """Every label key some NetworkPolicy pod selector of the scan reads."""
    keys: set[str] = set()
    for policy in network.policies:
        keys |= {r.key for r in policy.pod_selector.requirements}
        for direction in ("Ingress", "Egress"):
            for rule in policy.rules(direction):
                for peer in rule.peers or ():
                    if peer.pod_selector is not None:
                        keys |= {r.key for r in peer.pod_selector.requirements}
    return frozenset(keys)


def probe_pod(
    name: str,
    cls: PodClass,
    targets: list[dict[str, Any]],
    settings: PodSettings,
    keys: frozenset[str],
    namespace_uid: str | None,
) -> dict[str, Any]:
    """The pod that connects, from ``cls``'s place, to each target."""
    spec = {"mode": "probe", "delay": settings.delay, "timeout": settings.timeout, "targets": targets}
    return _pod(name, cls, "source", spec, [], settings, keys, namespace_uid)


def listener_pod(
    name: str,
    cls: PodClass,
    ports: list[int],
    token: str,
    settings: PodSettings,
    keys: frozenset[str],
    namespace_uid: str | None,
) -> dict[str, Any]:
    """The pod that accepts connections in ``cls``'s place on ``ports`` and answers with ``token``."""
    spec = {"mode": "listen", "ports": ports, "token": token, "lifetime": settings.deadline}
    declared = []
    names = {
        port: port_name
        for (port_name, protocol), port in (cls.named_ports or {}).items()
        if protocol == "TCP"
    }
    for (port_name, protocol), port in sorted((cls.named_ports or {}).items()):
        declared.append({"name": port_name, "containerPort": port, "protocol": protocol})
    for port in ports:
        if port not in names:
            declared.append({"containerPort": port, "protocol": "TCP"})
    return _pod(name, cls, "listener", spec, declared, settings, keys, namespace_uid)


def _pod(
    name: str,
    cls: PodClass,
    role: str,
    spec: dict[str, Any],
    ports: list[dict[str, Any]],
    settings: PodSettings,
    keys: frozenset[str],
    namespace_uid: str | None,
) -> dict[str, Any]:
    labels = {k: v for k, v in sorted(cls.labels.items()) if k in keys}
    labels[PROBE_LABEL] = settings.run_id
    labels[ROLE_LABEL] = role
    kind, workload = cls.refs()[0]
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": cls.namespace,
        "labels": labels,
        "annotations": {
            "kharden.io/probe-for": f"{kind} {cls.namespace}/{workload}",
            "sidecar.istio.io/inject": "false",
            "linkerd.io/inject": "disabled",
        },
    }
    if namespace_uid:
        metadata["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "name": cls.namespace,
                "uid": namespace_uid,
                "controller": True,
            }
        ]
    security: dict[str, Any] = {
        "runAsNonRoot": True,
        "runAsUser": USER,
        "runAsGroup": USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if any(p["containerPort"] < 1024 for p in ports):
        security["sysctls"] = [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]
    container: dict[str, Any] = {
        "name": "probe",
        "image": settings.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", "-c", agent_source()],
        "args": [json.dumps(spec, sort_keys=True)],
        "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}],
        "resources": {
            "requests": {"cpu": "10m", "memory": "32Mi"},
            "limits": {"cpu": "200m", "memory": "64Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    if ports:
        container["ports"] = ports
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "restartPolicy": "Never",
            "activeDeadlineSeconds": settings.deadline,
            "terminationGracePeriodSeconds": 1,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "readinessGates": [{"conditionType": READINESS_GATE}],
            "securityContext": security,
            "containers": [container],
        },
    }
