"""Services and Ingresses: how pods are exposed, read with the types the API server insists on.

- A Service's ``type`` defaults to ``ClusterIP``; it selects the pods of its own namespace whose
  labels match every pair of its ``selector`` (none when the selector is absent or empty).
- The source ranges of a LoadBalancer are ``spec.loadBalancerSourceRanges`` when it is not empty,
  else the comma-separated ``service.beta.kubernetes.io/load-balancer-source-ranges`` annotation
  (``GetLoadBalancerSourceRanges`` in Kubernetes' service helpers).
- An Ingress routes to Services of its own namespace: ``backend.service.name`` in
  ``networking.k8s.io/v1``, ``backend.serviceName`` in the older ``v1beta1`` and ``extensions``.

https://kubernetes.io/docs/concepts/services-networking/service/
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .. import _pointer
from ..errors import InputError
from ..model import Obj
from .podspec import EffectivePod, Field, FieldReader
from .selectors import LabelSelector, parse_set_selector

__all__ = ["SOURCE_RANGES_ANNOTATION", "Ingress", "Service", "ServicePort", "Services", "read_service"]

SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"


@dataclass(frozen=True, slots=True)
class ServicePort:
    path: str
    port: int | None
    target: int | str | None
    """``targetPort``: a number, a container port name, or (unset) the same as ``port``."""
    node_port: int | None
    protocol: str


@dataclass(frozen=True, slots=True)
class Service:
    obj: Obj
    type: Field[str]
    """``spec.type``; its value is ``ClusterIP`` when unset."""
    selector: LabelSelector
    source_ranges: tuple[Field[str], ...]
    """The effective LoadBalancer source ranges: the spec field's entries, else the annotation's."""
    external_ips: tuple[Field[str], ...]
    load_balancer_class: str | None
    """``spec.loadBalancerClass``: which controller implements the load balancer (the cloud's when unset)."""
    ports: tuple[ServicePort, ...] = ()

    @property
    def name(self) -> str:
        return self.obj.ref.name

    def selects(self, pod: EffectivePod) -> bool:
        return pod.obj.ref.namespace == self.obj.ref.namespace and self.selector.matches(pod.labels)


@dataclass(frozen=True, slots=True)
class Ingress:
    obj: Obj
    backends: tuple[tuple[str, str], ...]
    """``(Service name, pointer)`` of every backend, the default backend included."""


def read_service(obj: Obj) -> Service:
    """Raises :class:`InputError` when a field has the wrong type."""
    read = FieldReader(obj)
    spec = read.mapping(obj.raw, "", "spec")
    kind = read.string(spec, "/spec", "type", "service")
    try:
        selector = parse_set_selector(spec.get("selector"))
    except ValueError as e:
        location = obj.locate("/spec/selector")
        raise InputError(f"{obj.ref}: {e} (/spec/selector)", file=location.file, line=location.line) from e
    ranges = read.strings(spec, "/spec", "loadBalancerSourceRanges", "service")
    annotation = obj.annotations.get(SOURCE_RANGES_ANNOTATION)
    if not ranges and annotation is not None:
        path = _pointer.join("/metadata/annotations", SOURCE_RANGES_ANNOTATION)
        ranges = tuple(
            Field(part.strip(), path, "annotation") for part in annotation.split(",") if part.strip()
        )
    return Service(
        obj=obj,
        type=Field(kind.value or "ClusterIP", kind.path, kind.source),
        selector=selector,
        source_ranges=ranges,
        external_ips=read.strings(spec, "/spec", "externalIPs", "service"),
        load_balancer_class=read.string(spec, "/spec", "loadBalancerClass", "service").value,
        ports=tuple(_port(read, at, raw) for at, raw in read.mappings(spec, "/spec", "ports")),
    )


def _port(read: FieldReader, at: str, raw: Mapping[str, Any]) -> ServicePort:
    target = raw.get("targetPort")
    if not isinstance(target, str):
        target = read.integer(raw, at, "targetPort", "service").value
    return ServicePort(
        path=at,
        port=read.integer(raw, at, "port", "service").value,
        target=target,
        node_port=read.integer(raw, at, "nodePort", "service").value,
        protocol=read.string(raw, at, "protocol", "service").value or "TCP",
    )


def _read_ingress(obj: Obj) -> Ingress:
    read = FieldReader(obj)
    spec = read.mapping(obj.raw, "", "spec")
    backends: list[tuple[str, str]] = []

    def backend(parent: Mapping[str, Any], at: str, key: str) -> None:
        raw = read.mapping(parent, at, key)
        at = f"{at}/{key}"
        service = read.mapping(raw, at, "service")
        name = read.string(service, f"{at}/service", "name", "ingress")
        legacy = read.string(raw, at, "serviceName", "ingress")
        for found in (name, legacy):
            if found.value:
                backends.append((found.value, found.path))

    backend(spec, "/spec", "defaultBackend")
    backend(spec, "/spec", "backend")
    for rule_at, rule in read.mappings(spec, "/spec", "rules"):
        http = read.mapping(rule, rule_at, "http")
        for path_at, path in read.mappings(http, f"{rule_at}/http", "paths"):
            backend(path, path_at, "backend")
    return Ingress(obj, tuple(backends))


class Services:
    """The Services and Ingresses of a scan."""

    def __init__(self, objects: Iterable[Obj]) -> None:
        self.errors: list[InputError] = []
        self.services: list[Service] = []
        self.ingresses: list[Ingress] = []
        for obj in objects:
            try:
                if obj.ref.kind == "Service" and obj.ref.group == "":
                    self.services.append(read_service(obj))
                elif obj.ref.kind == "Ingress" and obj.ref.group in {"networking.k8s.io", "extensions"}:
                    self.ingresses.append(_read_ingress(obj))
            except InputError as e:
                self.errors.append(e)

    def selecting(self, pod: EffectivePod) -> list[Service]:
        """The Services whose selector selects ``pod``'s template (in the order of ``services``)."""
        unindexed, by_label = self._by_label
        namespace = pod.obj.ref.namespace
        candidates = [*unindexed.get(namespace, ())]
        for item in pod.labels.items():
            candidates += by_label.get((namespace, *item), ())
        services = self.services
        return [services[i] for i in sorted(candidates) if services[i].selects(pod)]

    @cached_property
    def _by_label(self) -> tuple[dict[str | None, list[int]], dict[tuple[str | None, str, str], list[int]]]:
        """The positions of the Services of each namespace that select no pod without a given label (by that
        label: the first equality of their selector), and those of the others: a pod is compared only with
        the Services indexed under one of its labels and the unindexed ones, not with every Service."""
        unindexed: dict[str | None, list[int]] = {}
        by_label: dict[tuple[str | None, str, str], list[int]] = {}
        for position, service in enumerate(self.services):
            namespace = service.obj.ref.namespace
            key = service.selector.index_key
            if key is None:
                unindexed.setdefault(namespace, []).append(position)
            else:
                by_label.setdefault((namespace, *key), []).append(position)
        return unindexed, by_label

    def ingresses_to(self, service: Service) -> list[tuple[Ingress, str]]:
        """``(Ingress, pointer of the backend)`` for every Ingress routing to ``service``."""
        return list(self._routes.get((service.obj.ref.namespace, service.name), ()))

    @cached_property
    def _routes(self) -> dict[tuple[str | None, str], list[tuple[Ingress, str]]]:
        """(namespace, Service name) -> ``(Ingress, pointer of the backend)``, in ``ingresses`` order."""
        found: dict[tuple[str | None, str], list[tuple[Ingress, str]]] = {}
        for ingress in self.ingresses:
            for name, path in ingress.backends:
                found.setdefault((ingress.obj.ref.namespace, name), []).append((ingress, path))
        return found
