"""What whole-inventory rules see: the inventory and the analysis engines, each built once per scan."""

from __future__ import annotations

from functools import cached_property

from ..errors import InputError
from ..inventory import Inventory
from .netpol import Network, build_network
from .podspec import EffectivePod, effective_pod

__all__ = ["ScanContext"]


class ScanContext:
    """The inventory of one scan plus lazily computed analyses (engines are added here)."""

    def __init__(self, inventory: Inventory, evidence: frozenset[str]) -> None:
        self.inventory = inventory
        self.evidence = evidence
        """Kinds of evidence present: ``M`` manifests, ``C`` cluster, ``N`` node files."""
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
    def network(self) -> Network:
        """NetworkPolicy reachability over the scan's pods; policies the API server would refuse go to
        ``errors``."""
        network, errors = build_network(self.inventory, self.pods)
        self.errors.extend(errors)
        return network
