"""What whole-inventory rules see: the inventory and the analysis engines, each built once per scan."""

from __future__ import annotations

from functools import cached_property

from ..errors import InputError
from ..inventory import Inventory
from .podspec import EffectivePod, effective_pod
from .rbac import BINDING_KINDS, ROLE_KINDS, Rbac
from .serviceaccounts import ServiceAccounts
from .services import Services

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
    def rbac(self) -> Rbac:
        """Roles and bindings resolved: effective permissions, aggregation, who can do what."""
        engine = Rbac(self.inventory.of_kind(*ROLE_KINDS, *BINDING_KINDS))
        self.errors.extend(engine.errors)
        return engine

    @cached_property
    def service_accounts(self) -> ServiceAccounts:
        """The ServiceAccount of every workload, and whether its token is mounted."""
        accounts = ServiceAccounts(self.inventory.of_kind("ServiceAccount"), self.pods)
        self.errors.extend(accounts.errors)
        return accounts

    @cached_property
    def services(self) -> Services:
        """Services and Ingresses: which pods they expose, and how."""
        services = Services(self.inventory.of_kind("Service", "Ingress"))
        self.errors.extend(services.errors)
        return services
