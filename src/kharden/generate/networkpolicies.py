"""``kharden generate networkpolicies``: isolate every namespace, then allow what the manifests show.

Per namespace with pods (the system namespaces only with ``include_system``):

- ``kharden-default-deny``: every pod isolated for ingress and egress;
- egress to the cluster DNS (the pods of Service ``kube-system/kube-dns``, else ``k8s-app: kube-dns`` in
  kube-system) on its ports (53/UDP and 53/TCP), for every pod;
- the Services of the namespace: their pods accept, and every pod of the namespace may send, traffic on
  the Services' target ports;
- across namespaces, only where a reason shows: a workload whose env values, command, args or ConfigMaps
  name a Service (``http://api.shop.svc:8080``, ``api.shop``) may reach that Service's pods on the port
  named (all its ports when none is); the ingress controller's pods reach the Services an Ingress routes
  to; clients outside the cluster reach the pods of LoadBalancer and NodePort Services (from the
  ``loadBalancerSourceRanges`` when set); workloads marked ``--internet`` (or annotated
  ``kharden.io/internet-egress: "true"``) reach ``0.0.0.0/0`` and ``::/0`` but the metadata API;
  with ``--api-server``, workloads whose ServiceAccount RBAC grants something reach the API server.

Every rule carries its reason (``kharden.io/reason.ingress.N`` annotations). Policies already in force
are kept, and nothing generated widens what they deny: pods an existing policy isolates in a direction
get no generated allow rule in that direction (the report names them). Policies kharden generated before
(annotated ``kharden.io/generated-by``) are replaced, so a second run gives the same output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..analysis.context import ScanContext
from ..analysis.imageref import parse_image
from ..analysis.netpol import EGRESS, INGRESS, NAME_LABEL, Network, build_network
from ..analysis.services import Service
from ..errors import UsageError
from ..inventory import Inventory
from ..model import Obj, ObjRef, Origin
from ._references import Mention, mentions, texts_of
from ._workloads import Selector, Workload, workloads_of
from .model import GENERATED_BY, REASON, Generated, Item

__all__ = [
    "INTERNET_ANNOTATION",
    "SYSTEM_NAMESPACES",
    "Need",
    "Options",
    "Party",
    "Plan",
    "generate_networkpolicies",
    "plan_networkpolicies",
]

SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
INTERNET_ANNOTATION = "kharden.io/internet-egress"
RULE_REASON = "kharden.io/reason.{direction}.{index}"
MANAGED = {"app.kubernetes.io/managed-by": "kharden"}
DNS_SERVICE = ("kube-system", "kube-dns")
DNS_LABELS = (("k8s-app", "kube-dns"),)
INTERNET_BLOCKS = (("0.0.0.0/0", ("169.254.169.254/32",)), ("::/0", ("fd00:ec2::254/128",)))
EVERYWHERE = (("0.0.0.0/0", ()), ("::/0", ()))
API_SERVER_PORTS = (443, 6443)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

# Ingress controllers by the last part of their image repository (and the label their charts set).
_CONTROLLER_IMAGES = re.compile(
    r"^(ingress-nginx/controller|nginx-ingress-controller|nginx/nginx-ingress|nginx-ingress|traefik"
    r"|haproxy-ingress|haproxytech/kubernetes-ingress|kong/kubernetes-ingress-controller|contour"
    r"|emissary|skipper)$"
)
_CONTROLLER_NAMES = frozenset(
    {"ingress-nginx", "nginx-ingress", "traefik", "haproxy-ingress", "kong", "contour"}
)
_DEFAULT_CONTROLLER = ("ingress-nginx", (("app.kubernetes.io/name", "ingress-nginx"),))


@dataclass(frozen=True)
class Options:
    internet: tuple[str, ...] = ()
    """Workloads allowed to reach the Internet: ``NAMESPACE/NAME`` or ``NAMESPACE/KIND/NAME``."""
    include_system: bool = False
    """Generate for kube-system, kube-public and kube-node-lease too."""
    ingress_controller: str | None = None
    """``NAMESPACE/KEY=VALUE[,KEY=VALUE]``: the ingress controller's pods, when the scan lacks them."""
    api_server: tuple[str, ...] = ()
    """CIDRs of the API server (its endpoints, not the ``kubernetes`` Service's ClusterIP)."""


@dataclass(frozen=True, slots=True)
class Port:
    protocol: str
    port: int | str

    def as_dict(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "port": self.port}

    def __str__(self) -> str:
        return f"{self.port}/{self.protocol}"


@dataclass(eq=False)
class Party:
    """Pods on one side of a need: a workload, a Service's pods, or every pod of a namespace."""

    namespace: str
    selector: Selector | None
    """``None``: every pod of the namespace."""
    bits: int
    """Their classes in the scan (0: none in the scan)."""
    text: str
    workload: Workload | None = None
    service: Service | None = None


@dataclass(eq=False)
class Need:
    """Traffic the manifests show must flow, and why."""

    kind: str
    """``dns``, ``service``, ``names``, ``ingress``, ``clients``, ``internet``, ``api-server``."""
    source: Party | None
    target: Party | None
    reason: str
    ports: tuple[Port, ...] | None = None
    """``None``: every port."""
    blocks: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """The addresses of the side that is not pods: ``(cidr, except)``."""


@dataclass(eq=False)
class _Draft:
    namespace: str
    name: str
    selector: Selector | None
    bits: int
    why: str
    types: list[str] = field(default_factory=list)
    rules: dict[str, list[tuple[dict[str, Any], list[str], list[Need]]]] = field(
        default_factory=lambda: {INGRESS: [], EGRESS: []}
    )

    def add(self, direction: str, rule: dict[str, Any], need: Need) -> None:
        if direction not in self.types:
            self.types.append(direction)
        for written, reasons, needs in self.rules[direction]:
            if written == rule:
                if need.reason not in reasons:
                    reasons.append(need.reason)
                needs.append(need)
                return
        self.rules[direction].append((rule, [need.reason], [need]))

    def manifest(self) -> dict[str, Any]:
        annotations = {GENERATED_BY: "kharden generate networkpolicies", REASON: self.why}
        spec: dict[str, Any] = {"podSelector": self.selector.as_dict() if self.selector else {}}
        spec["policyTypes"] = [t for t in (INGRESS, EGRESS) if t in self.types]
        for direction, key in ((INGRESS, "ingress"), (EGRESS, "egress")):
            if direction in self.types and self.rules[direction]:
                spec[key] = []
                for index, (rule, reasons, _) in enumerate(self.rules[direction]):
                    annotations[RULE_REASON.format(direction=key, index=index)] = "; ".join(reasons)
                    spec[key].append(rule)
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": dict(MANAGED),
                "annotations": annotations,
            },
            "spec": spec,
        }


@dataclass
class Plan:
    """The needs, the policies drafted for them, and the networks before and after."""

    generated: Generated
    needs: list[Need]
    scope: list[str]
    workloads: list[Workload]
    before: Network
    drafts: list[_Draft]
    kept: list[Obj]
    """The scan's objects without the NetworkPolicies an earlier run generated."""
    context: ScanContext

    def after(self) -> tuple[Network, list[Obj]]:
        """The network with the generated policies added to those in force."""
        objects = [_as_obj(d.manifest()) for d in self.drafts]
        network, _ = build_network(Inventory([*self.kept, *objects]), self.context.pods)
        return network, objects

    def baseline(self) -> Network:
        """The network with only the generated default-deny policies added (what isolation alone allows)."""
        deny = [_as_obj(d.manifest()) for d in self.drafts if d.name == "kharden-default-deny"]
        network, _ = build_network(Inventory([*self.kept, *deny]), self.context.pods)
        return network


def _as_obj(raw: dict[str, Any]) -> Obj:
    metadata = raw["metadata"]
    ref = ObjRef(raw["kind"], metadata.get("namespace"), metadata["name"], raw["apiVersion"])
    return Obj(raw=raw, ref=ref, origin=Origin(file=f"<generated {raw['kind']} {metadata['name']}>"))


def generate_networkpolicies(context: ScanContext, options: Options | None = None) -> Plan:
    """Plan the policies for the scan (see the module's documentation); the proof is :mod:`.proof`'s."""
    return plan_networkpolicies(context, options or Options())


def plan_networkpolicies(context: ScanContext, options: Options) -> Plan:
    generated = Generated("networkpolicies")
    kept = [o for o in context.inventory.objects if not _generated_before(o)]
    before, errors = build_network(Inventory(kept), context.pods)
    context.errors.extend(errors)
    workloads = workloads_of(before)
    scope = [
        ns
        for ns in before.namespaces
        if any(not c.host_network for c in before.classes_of(ns))
        and (options.include_system or ns not in SYSTEM_NAMESPACES)
    ]
    planner = _Planner(context, before, workloads, set(scope), options, generated)
    needs = planner.needs()
    drafts = planner.drafts(needs, scope)
    for draft in drafts:
        generated.items.append(_item(draft))
    return Plan(generated, needs, scope, workloads, before, drafts, kept, context)


def _generated_before(obj: Obj) -> bool:
    return obj.ref.kind == "NetworkPolicy" and GENERATED_BY in obj.annotations


def _item(draft: _Draft) -> Item:
    return Item(draft.manifest(), draft.why)


def _name(party: Party) -> str:
    return party.service.name if party.service is not None else str(party.selector)


class _Planner:
    def __init__(
        self,
        context: ScanContext,
        network: Network,
        workloads: list[Workload],
        scope: set[str],
        options: Options,
        generated: Generated,
    ) -> None:
        self.context = context
        self.network = network
        self.workloads = workloads
        self.scope = scope
        self.options = options
        self.out = generated
        self.by_namespace: dict[str, list[Workload]] = {}
        for workload in workloads:
            self.by_namespace.setdefault(workload.namespace, []).append(workload)
        self.slugs: dict[int, str] = {}
        for members in self.by_namespace.values():
            names = [w.name for w in members]
            for w in members:
                self.slugs[id(w)] = w.name if names.count(w.name) == 1 else f"{w.kind.lower()}-{w.name}"
        self.ns_bits: dict[str, int] = {}
        for name in network.namespaces:
            bits = 0
            for cls in network.classes_of(name):
                if not cls.host_network:
                    bits |= 1 << cls.index
            self.ns_bits[name] = bits
        self.targets: dict[tuple[str, str], Party] = {}
        self._skipped: set[tuple[str, str]] = set()

    # -- the needs -------------------------------------------------------------------------------

    def needs(self) -> list[Need]:
        services = self.context.services
        for service in services.services:
            party = self._service_party(service)
            if party is not None:
                self.targets.setdefault((party.namespace, service.name), party)
        self.context.errors.extend(services.errors)
        found: list[Need] = []
        found += self._dns()
        found += self._same_namespace()
        found += self._named()
        found += self._ingresses()
        found += self._clients()
        found += self._internet()
        found += self._api_server()
        self._unserved(found)
        return found

    def _service_party(self, service: Service) -> Party | None:
        if service.selector.selects_nothing or service.type.value == "ExternalName":
            return None
        raw = service.obj.raw.get("spec", {}).get("selector")
        labels = tuple(sorted((str(k), v) for k, v in raw.items() if isinstance(v, str)))
        namespace = service.obj.ref.namespace or "default"
        bits = 0
        for cls in self.network.classes_of(namespace):
            if not cls.host_network and service.selector.matches(cls.labels):
                bits |= 1 << cls.index
        return Party(
            namespace,
            Selector(labels),
            bits,
            f"the pods of Service {namespace}/{service.name}",
            service=service,
        )

    @staticmethod
    def _service_ports(service: Service) -> tuple[Port, ...]:
        ports = []
        for port in service.ports:
            target = port.target if port.target is not None else port.port
            if target is not None and target != 0:
                ports.append(Port(port.protocol, target))
        return tuple(dict.fromkeys(ports))

    def _namespace_party(self, namespace: str) -> Party:
        return Party(namespace, None, self.ns_bits.get(namespace, 0), f"every pod of namespace {namespace}")

    def _workload_party(self, workload: Workload) -> Party:
        return Party(workload.namespace, workload.selector, workload.bits, str(workload), workload=workload)

    def _dns(self) -> list[Need]:
        dns = self.targets.get(DNS_SERVICE)
        if dns is not None and dns.service is not None:
            ports = self._service_ports(dns.service) or (Port("UDP", 53), Port("TCP", 53))
            where = "the pods of Service kube-system/kube-dns"
        else:
            selector = Selector(DNS_LABELS)
            bits = 0
            for cls in self.network.classes_of(DNS_SERVICE[0]):
                if not cls.host_network and selector.parsed().matches(cls.labels):
                    bits |= 1 << cls.index
            dns = Party(DNS_SERVICE[0], selector, bits, "the cluster DNS (k8s-app=kube-dns in kube-system)")
            ports = (Port("UDP", 53), Port("TCP", 53))
            where = "the cluster DNS pods (k8s-app: kube-dns in kube-system)"
        return [
            Need(
                "dns",
                self._namespace_party(ns),
                dns,
                f"every pod resolves names through {where}",
                ports,
            )
            for ns in sorted(self.scope)
        ]

    def _same_namespace(self) -> list[Need]:
        found = []
        for (namespace, name), target in self.targets.items():
            if namespace not in self.scope or not target.bits or target.service is None:
                continue
            ports = self._service_ports(target.service)
            if not ports:
                continue
            shown = ", ".join(str(p) for p in ports)
            found.append(
                Need(
                    "service",
                    self._namespace_party(namespace),
                    target,
                    f"Service {namespace}/{name} serves the pods of its namespace on {shown}",
                    ports,
                )
            )
        return found

    def _named(self) -> list[Need]:
        found: dict[tuple[int, int, tuple[Port, ...] | None], Need] = {}
        for workload in self.workloads:
            for text in texts_of(workload.pods[0], self.context.inventory):
                for mention in mentions(text):
                    resolved = self._resolve(mention, workload.namespace)
                    if resolved is None:
                        continue
                    target, ports = resolved
                    if target.namespace == workload.namespace:
                        continue  # the namespace's own Services are open to all its pods
                    if workload.selector is None:
                        self._unselectable(workload, target, mention)
                        continue
                    key = (id(workload), id(target), ports)
                    if key in found:
                        continue
                    service_name = _name(target)
                    found[key] = Need(
                        "names",
                        self._workload_party(workload),
                        target,
                        f"{text.where} of {workload} names Service {target.namespace}/{service_name}"
                        f" ({mention.written})",
                        ports,
                    )
        return list(found.values())

    def _unselectable(self, workload: Workload, target: Party, mention: Mention) -> None:
        if workload.host_network:
            why = "runs on the host network: its traffic comes from a node address, which no rule admits"
        else:
            why = (
                f"no selector tells its pods from those of {', '.join(workload.twins)}: no rule is generated"
            )
        self.out.warn(
            f"{workload} names Service {target.namespace}/{_name(target)} ({mention.written}), but {why}"
        )

    def _resolve(self, mention: Mention, namespace: str) -> tuple[Party, tuple[Port, ...]] | None:
        labels = mention.labels
        candidates: list[tuple[str, str, bool]] = []  # (service, namespace, addressed to one pod)
        if mention.qualified:
            if len(labels) >= 2:
                candidates.append((labels[-2], labels[-1], len(labels) > 2))
        elif len(labels) == 1:
            candidates.append((labels[0], namespace, False))
        elif len(labels) == 2:
            candidates += [(labels[0], labels[1], False), (labels[1], namespace, True)]
        elif len(labels) == 3:
            candidates.append((labels[1], labels[2], True))
        for name, ns, one_pod in candidates:
            target = self.targets.get((ns, name))
            if target is None or target.service is None:
                continue
            headless = target.service.obj.raw.get("spec", {}).get("clusterIP") == "None"
            if one_pod and not headless:
                continue
            return target, self._ports_for(target.service, mention, headless)
        return None

    def _ports_for(self, service: Service, mention: Mention, headless: bool) -> tuple[Port, ...]:
        every = self._service_ports(service)
        wanted = mention.default_port
        if wanted is None:
            return every
        for port in service.ports:
            if port.port == wanted:
                target = port.target if port.target is not None else port.port
                if target is not None:
                    return (Port(port.protocol, target),)
        if headless and mention.port is not None:
            return (Port("TCP", mention.port),)  # a headless Service's pods are reached directly
        return every

    def _ingresses(self) -> list[Need]:
        ingresses = [
            o
            for o in self.context.inventory.of_kind("Ingress")
            if o.ref.group in {"networking.k8s.io", "extensions"}
        ]
        if not ingresses:
            return []
        controllers = self._controllers()
        found = []
        for ingress in ingresses:
            namespace = ingress.ref.namespace or "default"
            for service_name, port_ref in _ingress_backends(ingress):
                target = self.targets.get((namespace, service_name))
                if target is None or target.service is None:
                    self.out.warn(
                        f"Ingress {namespace}/{ingress.ref.name} routes to Service {service_name!r}, which"
                        " the scan does not hold (or has no selector): no rule is generated for it"
                    )
                    continue
                ports = _referenced_ports(target.service, port_ref) or self._service_ports(target.service)
                for controller in controllers:
                    found.append(
                        Need(
                            "ingress",
                            controller,
                            target,
                            f"Ingress {namespace}/{ingress.ref.name} routes to Service {service_name}:"
                            f" {controller.text} forwards the requests",
                            ports,
                        )
                    )
        return found

    def _controllers(self) -> list[Party]:
        written = self.options.ingress_controller
        if written:
            namespace, _, labels = written.partition("/")
            pairs = []
            for part in labels.split(","):
                key, sep, value = part.partition("=")
                if not sep or not key.strip() or not _LABEL_VALUE.match(value.strip()):
                    raise UsageError(
                        f"--ingress-controller {written!r}: expected NAMESPACE/KEY=VALUE[,KEY=VALUE]"
                        " (e.g. ingress-nginx/app.kubernetes.io/name=ingress-nginx)"
                    )
                pairs.append((key.strip(), value.strip()))
            if not namespace.strip():
                raise UsageError(f"--ingress-controller {written!r}: the namespace is missing")
            selector = Selector(tuple(sorted(pairs)))
            bits = 0
            for cls in self.network.classes_of(namespace.strip()):
                if not cls.host_network and selector.parsed().matches(cls.labels):
                    bits |= 1 << cls.index
            return [
                Party(namespace.strip(), selector, bits, f"the ingress controller ({namespace}/{selector})")
            ]
        found = [self._workload_party(w) for w in self.workloads if _is_controller(w) and w.selector]
        for party in found:
            party.text = f"the ingress controller {party.workload}"
        if found:
            return found
        namespace, default = _DEFAULT_CONTROLLER
        selector = Selector(default)
        self.out.warn(
            "no ingress controller in the scan: its pods are assumed to be ingress-nginx's"
            f" ({namespace}/{selector}); --ingress-controller NAMESPACE/KEY=VALUE names yours"
        )
        return [Party(namespace, selector, 0, f"the ingress controller (assumed: {namespace}/{selector})")]

    def _clients(self) -> list[Need]:
        found = []
        served: int = 0
        for (namespace, name), target in self.targets.items():
            service = target.service
            assert service is not None
            kind = service.type.value
            exposed = kind in {"LoadBalancer", "NodePort"} or service.external_ips
            if not exposed or not target.bits:
                continue
            served |= target.bits
            ranges = [f.value for f in service.source_ranges if f.value] if kind == "LoadBalancer" else []
            blocks = tuple((cidr, ()) for cidr in ranges) if ranges else EVERYWHERE
            how = f"from {', '.join(ranges)}" if ranges else "from any address"
            what = f"{kind} Service" if kind in {"LoadBalancer", "NodePort"} else "Service (externalIPs)"
            found.append(
                Need(
                    "clients",
                    None,
                    target,
                    f"{what} {namespace}/{name} exposes these pods to clients outside the cluster ({how})",
                    self._service_ports(service) or None,
                    blocks,
                )
            )
        for workload in self.workloads:
            if not _is_controller(workload) or workload.bits & served or not workload.selector:
                continue
            ports = _controller_ports(workload)
            found.append(
                Need(
                    "clients",
                    None,
                    self._workload_party(workload),
                    f"{workload} is an ingress controller: it receives the requests of clients outside the"
                    " cluster (no LoadBalancer or NodePort Service of the scan selects it)",
                    ports,
                    EVERYWHERE,
                )
            )
        return found

    def _internet(self) -> list[Need]:
        asked = {text.strip(): text for text in self.options.internet}
        found = []
        for workload in self.workloads:
            names = {
                f"{workload.namespace}/{workload.name}",
                f"{workload.namespace}/{workload.kind}/{workload.name}",
            }
            names |= {n.lower() for n in names}
            by_flag = [a for a in asked if a in names or a.lower() in names]
            annotated = _annotated(workload)
            if not by_flag and not annotated:
                continue
            for a in by_flag:
                asked.pop(a, None)
            how = f"--internet {by_flag[0]}" if by_flag else f'annotation {INTERNET_ANNOTATION}: "true"'
            found.append(
                Need(
                    "internet",
                    self._workload_party(workload),
                    None,
                    f"{workload} may reach the Internet ({how}), never the metadata API",
                    None,
                    INTERNET_BLOCKS,
                )
            )
        if asked:
            raise UsageError(
                f"--internet {', '.join(sorted(asked))}: no such workload in the scan"
                " (write NAMESPACE/NAME or NAMESPACE/KIND/NAME)"
            )
        return found

    def _api_server(self) -> list[Need]:
        callers = []
        rbac = self.context.rbac
        accounts = self.context.service_accounts
        by_pod = {id(w.pod): w for w in accounts.workloads}
        for workload in self.workloads:
            account = next((by_pod[id(p)] for p in workload.pods if id(p) in by_pod), None)
            if account is None or not account.token_mounted or not workload.selector:
                continue
            if any(not binding.stock for binding, _, _ in rbac.bindings_of(account.account)):
                callers.append((workload, account.account))
        if not callers:
            return []
        if not self.options.api_server:
            shown = ", ".join(str(w) for w, _ in callers[:4]) + (
                f" and {len(callers) - 4} more" if len(callers) > 4 else ""
            )
            self.out.warn(
                f"{shown}: RBAC grants their ServiceAccounts permissions, so they probably call the API"
                " server, whose addresses the manifests do not show: give --api-server CIDR to allow it"
            )
            return []
        blocks = tuple((cidr, ()) for cidr in self.options.api_server)
        ports = tuple(Port("TCP", p) for p in API_SERVER_PORTS)
        return [
            Need(
                "api-server",
                self._workload_party(workload),
                None,
                f"RBAC grants {account} permissions: {workload} calls the API server",
                ports,
                blocks,
            )
            for workload, account in callers
        ]

    def _unserved(self, needs: list[Need]) -> None:
        """Report the workloads that will accept no ingress: no Service selects them and nothing else does."""
        reached = 0
        for need in needs:
            if need.target is not None and need.kind != "dns":
                reached |= need.target.bits
        for namespace in sorted(self.scope):
            lonely = [w for w in self.by_namespace.get(namespace, []) if w.classes and not w.bits & reached]
            if lonely:
                names = ", ".join(f"{w.kind} {w.name}" for w in lonely)
                self.out.warn(
                    f"namespace {namespace}: no Service selects the pods of {names}: they accept no ingress"
                    " (nothing in the manifests shows who must reach them)",
                    "unserved",
                )

    # -- the policies ----------------------------------------------------------------------------

    def drafts(self, needs: list[Need], scope: list[str]) -> list[_Draft]:
        drafts: dict[tuple[str, str], _Draft] = {}
        for namespace in scope:
            drafts[(namespace, "kharden-default-deny")] = _Draft(
                namespace,
                "kharden-default-deny",
                None,
                self.ns_bits[namespace],
                "isolates every pod of the namespace for ingress and egress; the other kharden-* policies"
                " allow what the manifests show is needed",
                [INGRESS, EGRESS],
            )
        for need in needs:
            if need.target is not None:
                for subject, name, why in self._subjects(need.target, INGRESS):
                    draft = self._draft(drafts, need.target.namespace, name, subject, why)
                    draft.add(INGRESS, _rule(INGRESS, need, need.target.namespace), need)
            if need.source is not None:
                for subject, name, why in self._subjects(need.source, EGRESS):
                    draft = self._draft(drafts, need.source.namespace, name, subject, why)
                    draft.add(EGRESS, _rule(EGRESS, need, need.source.namespace), need)
        return sorted(drafts.values(), key=lambda d: (d.namespace, d.name != "kharden-default-deny", d.name))

    def _draft(
        self, drafts: dict[tuple[str, str], _Draft], namespace: str, name: str, subject: Party, why: str
    ) -> _Draft:
        draft = drafts.get((namespace, name))
        if draft is None:
            draft = drafts[(namespace, name)] = _Draft(namespace, name, subject.selector, subject.bits, why)
        return draft

    def _subjects(self, party: Party, direction: str) -> Iterator[tuple[Party, str, str]]:
        """The pods of ``party`` a generated policy may select for ``direction``: none that a policy in force
        already isolates for it (a generated rule would widen what that policy denies)."""
        namespace = party.namespace
        if namespace not in self.scope or not party.bits:
            return
        isolated = self.network.isolated_bits[direction] & party.bits
        verb = "ingress" if direction == INGRESS else "egress"
        if not isolated:
            if party.selector is None:
                yield (
                    party,
                    "kharden-egress",
                    "what every pod of the namespace may send: DNS, the namespace's Services",
                )
            elif party.workload is not None:
                yield (
                    party,
                    f"kharden-{verb}-{self.slugs[id(party.workload)]}",
                    f"the {verb} {party.workload} needs",
                )
            elif party.service is not None:
                yield party, f"kharden-service-{party.service.name}", f"the ingress of {party.text}"
            return
        for workload in self.by_namespace.get(namespace, []):
            if not workload.bits & party.bits:
                continue
            if workload.bits & isolated:
                self._skip(workload, direction)
                continue
            if workload.selector is None:
                continue
            yield (
                self._workload_party(workload),
                f"kharden-{verb}-{self.slugs[id(workload)]}",
                f"the {verb} {workload} needs",
            )

    def _skip(self, workload: Workload, direction: str) -> None:
        key = (str(workload), direction)
        if key in self._skipped:
            return
        self._skipped.add(key)
        names = sorted({str(p) for c in workload.classes for p in c.policies(direction)})
        self.out.warn(
            f"{workload} is already isolated for {direction.lower()} by {', '.join(names)}: kharden adds no"
            f" {direction.lower()} rule for it (one would widen what that policy denies)",
            "isolated",
        )


def _rule(direction: str, need: Need, namespace: str) -> dict[str, Any]:
    other = need.source if direction == INGRESS else need.target
    if other is None:
        peers = [
            {"ipBlock": {"cidr": cidr, "except": list(excepts)} if excepts else {"cidr": cidr}}
            for cidr, excepts in need.blocks
        ]
    else:
        peers = [_peer(other, namespace)]
    rule: dict[str, Any] = {"from" if direction == INGRESS else "to": peers}
    if need.ports is not None:
        rule["ports"] = [p.as_dict() for p in need.ports]
    return rule


def _peer(party: Party, namespace: str) -> dict[str, Any]:
    pods = party.selector.as_dict() if party.selector is not None else None
    if party.namespace == namespace:
        return {"podSelector": pods or {}}
    peer: dict[str, Any] = {"namespaceSelector": {"matchLabels": {NAME_LABEL: party.namespace}}}
    if pods is not None:
        peer["podSelector"] = pods
    return peer


def _referenced_ports(service: Service, ref: int | str | None) -> tuple[Port, ...]:
    """The target port of the Service port an Ingress backend names (by number or name); ``()`` if none."""
    if ref is None:
        return ()
    raw_ports = service.obj.raw.get("spec", {}).get("ports") or []
    found = []
    for port, raw in zip(service.ports, raw_ports, strict=False):
        name = raw.get("name") if isinstance(raw, Mapping) else None
        target = port.target if port.target is not None else port.port
        if target is not None and (port.port == ref or (isinstance(ref, str) and name == ref)):
            found.append(Port(port.protocol, target))
    return tuple(found)


def _ingress_backends(ingress: Obj) -> Iterable[tuple[str, int | str | None]]:
    """``(Service name, port number or name)`` of every backend of an Ingress, the default one included."""
    spec = ingress.raw.get("spec")
    if not isinstance(spec, Mapping):
        return []
    backends: list[Any] = [spec.get("defaultBackend"), spec.get("backend")]
    rules = spec.get("rules")
    for rule in rules if isinstance(rules, list) else ():
        http = rule.get("http") if isinstance(rule, Mapping) else None
        paths = http.get("paths") if isinstance(http, Mapping) else None
        for path in paths if isinstance(paths, list) else ():
            if isinstance(path, Mapping):
                backends.append(path.get("backend"))
    found: list[tuple[str, int | str | None]] = []
    for backend in backends:
        if not isinstance(backend, Mapping):
            continue
        service = backend.get("service")
        if isinstance(service, Mapping) and isinstance(service.get("name"), str):
            port = service.get("port")
            ref = None
            if isinstance(port, Mapping):
                ref = port.get("number") if isinstance(port.get("number"), int) else port.get("name")
            found.append((service["name"], ref if isinstance(ref, int | str) else None))
        elif isinstance(backend.get("serviceName"), str):
            port = backend.get("servicePort")
            found.append((backend["serviceName"], port if isinstance(port, int | str) else None))
    return list(dict.fromkeys(found))


def _is_controller(workload: Workload) -> bool:
    for pod in workload.pods:
        if (
            pod.labels.get("app.kubernetes.io/name") in _CONTROLLER_NAMES
            and pod.labels.get("app.kubernetes.io/component", "controller") == "controller"
        ):
            return True
        for container in pod.containers:
            image = parse_image(container.image.value or "")
            if image is None:
                continue
            tail = "/".join(image.repository.split("/")[-2:])
            if _CONTROLLER_IMAGES.match(tail) or _CONTROLLER_IMAGES.match(image.name):
                return True
    return False


def _controller_ports(workload: Workload) -> tuple[Port, ...]:
    ports = []
    for pod in workload.pods:
        for container in pod.containers:
            for port in container.ports:
                if port.container_port and (
                    port.name in {"http", "https"} or port.container_port in {80, 443, 8080, 8443}
                ):
                    ports.append(Port(port.protocol, port.container_port))
    return tuple(dict.fromkeys(ports)) or (Port("TCP", 80), Port("TCP", 443))


def _annotated(workload: Workload) -> bool:
    for pod in workload.pods:
        if (
            pod.annotations.get(INTERNET_ANNOTATION) == "true"
            or pod.obj.annotations.get(INTERNET_ANNOTATION) == "true"
        ):
            return True
    return False
