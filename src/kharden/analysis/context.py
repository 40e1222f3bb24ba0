"""What whole-inventory rules see: the inventory and the analysis engines, each built once per scan."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Protocol, TypeVar

from ..errors import InputError
from ..inventory import Inventory
from ..model import ClusterInfo, ImageScan
from . import admission, cni
from .controlplane import ControlPlane
from .netpol import Network, build_network
from .podspec import EffectivePod, effective_pod
from .rbac import BINDING_KINDS, ROLE_KINDS, Rbac
from .runtime import Runtime
from .serviceaccounts import ServiceAccounts
from .services import Services
from .staticpods import is_static_pod
from .vulns import ImageVulnerabilities

if TYPE_CHECKING:
    from ..model import Hit, Unevaluated


T = TypeVar("T")


class InventoryRule(Protocol):
    """A whole-inventory rule as the context asks it (``rules.Rule``: analyses do not import the rules)."""

    @property
    def id(self) -> str: ...

    @property
    def check(self) -> Callable[..., Iterable[Hit | Unevaluated]]: ...


__all__ = ["ASKED_AGAIN", "InventoryRule", "ScanContext"]

ASKED_AGAIN = frozenset(
    {"netpol.dashboard", "netpol.tiller", "encryption.secrets-at-rest", "admission.pod-security"}
)
"""The whole-inventory rules whose hits the attack-path count of a scan reads (paths/build.py)."""


class ScanContext:
    """The inventory of one scan plus lazily computed analyses (engines are added here)."""

    def __init__(
        self,
        inventory: Inventory,
        evidence: frozenset[str],
        *,
        kube_version: tuple[int, int] | None = None,
        image_scans: Sequence[ImageScan] = (),
        cluster: ClusterInfo | None = None,
        whole_pods: bool = False,
    ) -> None:
        self.inventory = inventory
        self.whole_pods = whole_pods
        """Build every effective pod whole at once (pod rules will read all their fields), not lazily."""
        self.evidence = evidence
        """Kinds of evidence present: ``M`` manifests, ``C`` cluster, ``N`` node files."""
        self.kube_version = kube_version
        """The Kubernetes version the user stated (``--kube-version``), if any."""
        self.image_scans = tuple(image_scans)
        """Image scan reports (Trivy, Grype) given to the scan."""
        self.cluster = cluster
        """The cluster read (``--cluster`` or ``--snapshot``): context, server URL, version; else ``None``."""
        self.errors: list[InputError] = []
        """Objects whose fields have the wrong type for an analysis; reported, then skipped."""
        self._answers: dict[str, list[Hit | Unevaluated]] = {}
        self.pod_answers: dict[int, dict[str, list[Hit | Unevaluated]]] = {}
        """``id`` of an effective pod -> pod rule -> what it found there, where the attack-path count asked
        before the scan's runner (the escape rules, ``paths/escape.py``): the runner takes them rather than
        ask again (manifests-100k: four rules on 30,000 pods)."""

    def answer(self, rule: InventoryRule) -> Iterable[Hit | Unevaluated]:
        """What a whole-inventory rule finds in this scan. The hits of the rules the attack-path count rests
        on are worked out once and kept (``netpol.dashboard`` alone compared every Service with each
        Dashboard pod, in the scan and again in the count); the others' are made as they are read."""
        if rule.id not in ASKED_AGAIN:
            return rule.check(self)
        found = self._answers.get(rule.id)
        if found is None:
            found = self._answers[rule.id] = list(rule.check(self))
        return found

    def pod_answer(self, rule: InventoryRule, pod: EffectivePod) -> list[Hit | Unevaluated]:
        """What a pod rule finds on ``pod`` (one of :attr:`pods`), kept in :attr:`pod_answers`."""
        known = self.pod_answers.get(id(pod))
        if known is None:
            known = self.pod_answers[id(pod)] = {}
        found = known.get(rule.id)
        if found is None:
            found = known[rule.id] = list(rule.check(pod))
        return found

    def unless_errors(self, work: Callable[[ScanContext], T]) -> T | None:
        """``work(self)``, unless it reported an input error: then ``None``, and what it built here (engines,
        kept answers) is forgotten with its errors, to be built again where next asked, so that errors come
        in the order they come without it (the attack-path count, worked out before the rules)."""
        errors = len(self.errors)
        before = set(self.built())
        answers = dict(self._answers)
        done = work(self)
        if len(self.errors) == errors:
            return done
        del self.errors[errors:]
        for name in self.built():
            if name not in before:
                delattr(self, name)
        self._answers = answers
        return None

    def built(self) -> list[str]:
        """The engines (the analyses each built once: ``rbac``, ``network``, ...) built so far, in the order
        they were built."""
        return [name for name in vars(self) if isinstance(getattr(type(self), name, None), cached_property)]

    @cached_property
    def pods(self) -> list[EffectivePod]:
        """The effective pod of every workload, once per workload; malformed ones go to ``errors``."""
        pods = []
        for obj, path in self.inventory.pod_templates():
            try:
                pods.append(effective_pod(obj, path, lazy=not self.whole_pods))
            except InputError as e:
                self.errors.append(e)
        return pods

    @cached_property
    def runtime(self) -> Runtime:
        """Nodes, running Pods and their owners (empty unless the scan read a cluster or a snapshot)."""
        return Runtime(self.inventory)

    @cached_property
    def image_vulnerabilities(self) -> ImageVulnerabilities:
        """The image scan reports, indexed by the images they describe."""
        return ImageVulnerabilities(self.image_scans)

    @cached_property
    def control_plane(self) -> ControlPlane:
        """Control-plane components and kubelets with their effective flags, and the node files."""
        version = self.cluster.version if self.cluster is not None else None
        plane = ControlPlane(self.inventory, self.kube_version, version)
        self.errors.extend(plane.errors)
        return plane

    @property
    def assumptions(self) -> list[str]:
        """What rules decided on an assumed Kubernetes version (empty when no rule needed the version)."""
        plane = self.__dict__.get("control_plane")
        return list(plane.assumptions) if isinstance(plane, ControlPlane) else []

    @cached_property
    def cni_plugins(self) -> list[cni.Plugin]:
        return cni.plugins(self.inventory)

    @cached_property
    def meshes(self) -> list[cni.Mesh]:
        return cni.meshes(self.inventory)

    @cached_property
    def pod_security_engines(self) -> list[admission.Engine]:
        return admission.engines_for(self.inventory)

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

    @cached_property
    def network(self) -> Network:
        """NetworkPolicy reachability over the scan's pods (static pods aside); policies the API server
        would refuse go to ``errors``."""
        # Static pods belong to their node, not to the cluster's workloads (analysis/staticpods.py).
        workloads = [pod for pod in self.pods if not is_static_pod(pod.obj)]
        network, errors = build_network(self.inventory, workloads)
        self.errors.extend(errors)
        return network
