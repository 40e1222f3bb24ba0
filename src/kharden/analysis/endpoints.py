"""Where the API server can be reached: the address it advertises, the servers of the kubeconfigs on
its nodes, and LoadBalancer Services in front of its pods."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .. import _pointer
from ..inventory import Inventory
from ..model import Obj
from .controlplane import APISERVER, ControlPlane
from .distribution import distributions

__all__ = ["KUBECONFIGS", "Endpoint", "api_endpoints"]

# Kubeconfigs whose server is the cluster's API endpoint (kubeadm, k3s, RKE2); not audit or webhook ones.
KUBECONFIGS = frozenset(
    {
        "admin.conf", "super-admin.conf", "kubelet.conf", "controller-manager.conf", "scheduler.conf",
        "k3s.yaml", "rke2.yaml",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Endpoint:
    address: str
    """As written: an IP, or a URL (``https://10.0.0.10:6443``)."""
    obj: Obj
    path: str
    source: str
    """``advertise-address``, ``kubeconfig`` or ``load balancer``."""
    written: str


def api_endpoints(inventory: Inventory, plane: ControlPlane) -> list[Endpoint]:
    return [*_advertised(inventory, plane), *_kubeconfigs(inventory), *_load_balancers(inventory, plane)]


def _advertised(inventory: Inventory, plane: ControlPlane) -> Iterator[Endpoint]:
    for component in plane.of(APISERVER):
        setting = component.setting("advertise-address")
        if setting.is_set and setting.value:
            yield Endpoint(setting.value, setting.obj, setting.path, "advertise-address", setting.written)
    for dist in distributions(inventory):  # config.yaml, its drop-ins and the unit, as k3s merges them
        address = dist.last("advertise-address")
        if address is not None and isinstance(address.value, str) and address.value:
            yield Endpoint(
                address.value,
                address.obj,
                address.path,
                "advertise-address",
                f"advertise-address: {address.value}",
            )


def _kubeconfigs(inventory: Inventory) -> Iterator[Endpoint]:
    for kubeconfig in inventory.of_kind("Config"):
        if (
            kubeconfig.origin.node is None
            or posixpath.basename(kubeconfig.origin.file or "") not in KUBECONFIGS
        ):
            continue
        clusters = kubeconfig.raw.get("clusters")
        for index, entry in enumerate(clusters if isinstance(clusters, list) else []):
            cluster = entry.get("cluster") if isinstance(entry, Mapping) else None
            server = cluster.get("server") if isinstance(cluster, Mapping) else None
            if isinstance(server, str) and server:
                path = f"/clusters/{index}/cluster/server"
                yield Endpoint(server, kubeconfig, path, "kubeconfig", f"server: {server}")


def _load_balancers(inventory: Inventory, plane: ControlPlane) -> Iterator[Endpoint]:
    """LoadBalancer Services whose selector matches the apiserver pods (or kubeadm's component label)."""
    pods = [c.obj.labels for c in plane.of(APISERVER) if c.obj.ref.kind == "Pod"]
    for service in inventory.of_kind("Service"):
        spec = service.raw.get("spec")
        if not isinstance(spec, Mapping) or spec.get("type") != "LoadBalancer":
            continue
        selector = spec.get("selector")
        if not isinstance(selector, Mapping) or not selector:
            continue
        fronts = selector.get("component") == APISERVER or any(
            all(labels.get(k) == v for k, v in selector.items()) for labels in pods
        )
        if not fronts:
            continue
        address = spec.get("loadBalancerIP")
        if isinstance(address, str) and address:
            yield Endpoint(
                address, service, "/spec/loadBalancerIP", "load balancer", f"loadBalancerIP: {address}"
            )
        status = service.raw.get("status")
        balancer = status.get("loadBalancer") if isinstance(status, Mapping) else None
        ingress = balancer.get("ingress") if isinstance(balancer, Mapping) else None
        for index, item in enumerate(ingress if isinstance(ingress, list) else []):
            ip = item.get("ip") if isinstance(item, Mapping) else None
            if isinstance(ip, str) and ip:
                path = _pointer.join("/status/loadBalancer/ingress", index, "ip")
                yield Endpoint(
                    ip, service, path, "load balancer", f"status.loadBalancer.ingress[{index}].ip: {ip}"
                )
