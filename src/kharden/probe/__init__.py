"""``kharden probe``: send a few chosen connections through a live cluster and compare each outcome
with what its NetworkPolicies say.

>>> from kharden.probe import load, make_plan                             # doctest: +SKIP
>>> loaded = load([], ScanOptions(cluster=ClusterOptions()))             # doctest: +SKIP
>>> plan = make_plan(loaded.network, loaded.plan_options())              # doctest: +SKIP

- :mod:`.plan` chooses the connections from the NetworkPolicy engine's answers (pure: no I/O);
- :mod:`.pods` writes the probe and listener pods; :mod:`.agent` is the program they run;
- :mod:`.client` is the only code of kharden that writes to a cluster (create and delete pods);
- :mod:`.run` creates the pods, collects what they saw and always deletes them;
- :mod:`.results` turns outcomes into verdicts and findings.

The cluster is read with the same GET-only reader as ``scan --cluster``
(:mod:`kharden.sources.cluster`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..analysis.context import ScanContext
from ..analysis.netpol import Network
from ..inventory import Inventory
from ..model import ErrorRecord, ScanStats
from ..scan import ScanOptions, acyclic_work, collect
from .plan import Address, Plan, PlanOptions, Probe, make_plan, parse_address, pod_addresses
from .pods import PROBE_LABEL, PodSettings

__all__ = [
    "PROBE_LABEL",
    "Address",
    "Loaded",
    "Plan",
    "PlanOptions",
    "PodSettings",
    "Probe",
    "load",
    "make_plan",
    "parse_address",
]


@dataclass(frozen=True)
class Loaded:
    """What a probe needs of the cluster: its network, and facts about its pods and namespaces."""

    network: Network
    stats: ScanStats
    errors: list[ErrorRecord]
    namespace_uids: dict[str, str]
    pod_cidrs: tuple[str, ...]
    pod_ips: tuple[str, ...]
    context: str | None = None

    @property
    def ipv6(self) -> bool:
        return any(":" in ip for ip in self.pod_ips) or any(":" in c for c in self.pod_cidrs)

    def plan_options(self, options: PlanOptions | None = None) -> PlanOptions:
        """``options`` completed with the cluster's pod addresses and IPv6."""
        base = options or PlanOptions()
        return replace(base, pod_addresses=pod_addresses(self.pod_cidrs, self.pod_ips), ipv6=self.ipv6)


def load(paths: Sequence[str], options: ScanOptions) -> Loaded:
    """Read the cluster (or a snapshot, or manifests) as ``scan`` does, leaving out probe pods."""
    with acyclic_work():
        collected = collect(paths, options)
        objects = [o for o in collected.objects if PROBE_LABEL not in o.labels]
        context = ScanContext(Inventory(objects), frozenset(collected.evidence), cluster=collected.cluster)
        network = context.network
    uids: dict[str, str] = {}
    cidrs: list[str] = []
    ips: list[str] = []
    for obj in objects:
        kind = obj.ref.kind
        if kind == "Namespace":
            uid = obj.metadata.get("uid")
            if isinstance(uid, str):
                uids[obj.ref.name] = uid
        elif kind == "Node":
            spec = obj.raw.get("spec")
            found = spec.get("podCIDRs") if isinstance(spec, dict) else None
            cidrs += [c for c in found or () if isinstance(c, str)]
        elif kind == "Pod":
            status = obj.raw.get("status")
            if isinstance(status, dict) and not (obj.raw.get("spec") or {}).get("hostNetwork"):
                ips += [
                    a["ip"]
                    for a in status.get("podIPs") or ()
                    if isinstance(a, dict) and isinstance(a.get("ip"), str)
                ]
    errors = collected.errors + [ErrorRecord(e.file, e.line, e.message) for e in context.errors]
    cluster = collected.cluster
    return Loaded(
        network,
        collected.stats,
        errors,
        uids,
        tuple(dict.fromkeys(cidrs)),
        tuple(dict.fromkeys(ips)),
        cluster.context if cluster is not None else None,
    )
