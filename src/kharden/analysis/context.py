"""What whole-inventory rules see: the inventory and the analysis engines, each built once per scan."""

from __future__ import annotations

from functools import cached_property

from ..errors import InputError
from ..inventory import Inventory
from ..model import ClusterInfo
from .podspec import EffectivePod, effective_pod
from .runtime import Runtime

__all__ = ["ScanContext"]


class ScanContext:
    """The inventory of one scan plus lazily computed analyses (engines are added here)."""

    def __init__(
        self, inventory: Inventory, evidence: frozenset[str], *, cluster: ClusterInfo | None = None
    ) -> None:
        self.inventory = inventory
        self.evidence = evidence
        """Kinds of evidence present: ``M`` manifests, ``C`` cluster, ``N`` node files."""
        self.cluster = cluster
        """The cluster read (``--cluster`` or ``--snapshot``): context, server URL, version; else ``None``."""
        self.errors: list[InputError] = []
        """Objects whose fields have the wrong type for an analysis; reported, then skipped."""

    @cached_property
    def pods(self) -> list[EffectivePod]:
        """The effective pod of every workload, once per workload; malformed ones go to ``errors``."""
        pods = []
        for obj, path in self.inventory.pod_templates():
            try:
                pods.append(effective_pod(obj, path))
            except InputError as e:
                self.errors.append(e)
        return pods

    @cached_property
    def runtime(self) -> Runtime:
        """Nodes, running Pods and their owners (empty unless the scan read a cluster or a snapshot)."""
        return Runtime(self.inventory)
