"""Which CNI plugins a cluster runs, whether each enforces NetworkPolicy and encrypts pod traffic.

Evidence comes from two places, judged apart:

- **each node root**: the node's *active* CNI configuration. The container runtime uses the first
  file, in lexical order, of its configuration directory (containerd's go-cni ``loadFromConfDir``:
  "the first network configuration in the sorted list of network conf files as the default network";
  CRI-O's ocicni does the same): a leftover ``10-flannel.conflist`` before ``99-calico.conflist``
  means pods get flannel's network, whatever calico's file says. The directory is
  ``/etc/cni/net.d``, or ``/var/lib/rancher/k3s/agent/etc/cni/net.d`` on a k3s node that runs its
  flannel (k3s ``pkg/agent/config``: the CNI conf dir moves there unless ``flannel-backend: none``).
  k3s runs its own network policy controller unless ``disable-network-policy``; RKE2 runs canal unless
  ``cni`` says otherwise (both as k3s merges its configuration, :mod:`.distribution`). One plugin per
  node, so that a cluster where one node ignores NetworkPolicies is seen as such.
- **the cluster**: the kube-system DaemonSets of a manifest or cluster scan, one entry per plugin.

Encryption settings: Cilium ``enable-wireguard``/``enable-ipsec`` in the ``cilium-config``
ConfigMap, Calico ``wireguardEnabled`` in a FelixConfiguration, flannel's ``wireguard``/``ipsec``
backends (``kube-flannel-cfg``, k3s ``flannel-backend``), Weave's ``WEAVE_PASSWORD``, Antrea's
``trafficEncryptionMode``.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .. import _pointer
from ..inventory import Inventory
from ..model import Obj
from .distribution import Distribution, distributions
from .podspec import EffectivePod

__all__ = ["ENFORCES", "POLICY_ADDONS", "Mesh", "Plugin", "meshes", "plugins"]

NODE_API = "node.kharden.io/v1alpha1"

# Plugin -> whether it enforces NetworkPolicy on its own.
ENFORCES = {
    "calico": True,
    "cilium": True,
    "canal": True,
    "weave": True,
    "antrea": True,
    "kube-router": True,
    "flannel": False,
    "kubenet": False,
    "aws-vpc-cni": False,
    "azure-cni": False,
    "bridge": False,
    "ovn-kubernetes": True,
}
# CNI config "type" -> plugin (chained helpers such as portmap, bandwidth, tuning are not plugins).
_CNI_TYPES = {
    "calico": "calico",
    "cilium-cni": "cilium",
    "flannel": "flannel",
    "weave-net": "weave",
    "weave-plugin-2.8.1": "weave",
    "antrea": "antrea",
    "aws-cni": "aws-vpc-cni",
    "azure-vnet": "azure-cni",
    "ovn-k8s-cni-overlay": "ovn-kubernetes",
    "bridge": "bridge",
}
# DaemonSet name -> plugin (kube-system, or the plugin's own namespace).
_DAEMONSETS = {
    "calico-node": "calico",
    "cilium": "cilium",
    "canal": "canal",
    "kube-flannel-ds": "flannel",
    "kube-flannel": "flannel",
    "weave-net": "weave",
    "antrea-agent": "antrea",
    "kube-router": "kube-router",
    "aws-node": "aws-vpc-cni",
    "azure-cni": "azure-cni",
    "ovnkube-node": "ovn-kubernetes",
}


@dataclass(frozen=True, slots=True)
class Plugin:
    name: str
    enforces: bool
    encrypts: bool
    obj: Obj
    path: str
    why: str
    """What decided enforcement, for messages (``its network policy agent is enabled``)."""
    encryption: str = ""
    """What decided encryption (``enable-wireguard: "true"``)."""
    node: str | None = None
    """The node root whose active CNI this is; ``None`` for a plugin the cluster's DaemonSets show."""


# Plugins that enforce NetworkPolicy beside another CNI (kube-router as a policy-only DaemonSet).
POLICY_ADDONS = frozenset({"kube-router"})
K3S_CNI_DIR = "/var/lib/rancher/k3s/agent/etc/cni/net.d"
CNI_DIR = "/etc/cni/net.d"


def plugins(inventory: Inventory) -> list[Plugin]:
    """The active CNI plugin of every node root, then the plugins the cluster's DaemonSets show (one
    entry per name)."""
    found: dict[str, Plugin] = {}
    for plugin in _from_daemonsets(inventory):
        found.setdefault(plugin.name, plugin)
    if "canal" in found:  # canal is calico's policy engine over flannel: one plugin
        found.pop("flannel", None)
        found.pop("calico", None)
    return [*_node_plugins(inventory), *found.values()]


def _plugin(name: str, obj: Obj, path: str, inventory: Inventory, why: str = "") -> Plugin:
    encrypts, how = _encryption(name, obj, inventory)
    return Plugin(name, ENFORCES.get(name, False), encrypts, obj, path, why, how)


def _node_plugins(inventory: Inventory) -> Iterator[Plugin]:
    """The plugin of each node root: its active CNI configuration, with what k3s or RKE2 adds."""
    configs: dict[str, dict[str, list[Obj]]] = {}
    for obj in inventory.of_kind("CNIConfig"):
        if obj.ref.api_version == NODE_API and obj.origin.node is not None:
            directory = str(obj.raw.get("directory") or CNI_DIR)
            configs.setdefault(obj.origin.node, {}).setdefault(directory, []).append(obj)
    by_node = {d.node: d for d in distributions(inventory) if d.node is not None}
    for node in sorted(set(configs) | set(by_node)):
        directories = configs.get(node, {})
        dist = by_node.get(node)
        if dist is not None and dist.name == "k3s":
            plugin = _k3s_plugin(dist, directories, inventory)
        else:
            active = _active(directories.get(CNI_DIR) or next(iter(directories.values()), []))
            plugin = _from_config(*active, inventory) if active else None
            if plugin is None and dist is not None:  # RKE2 before its CNI wrote its configuration
                cni = dist.last("cni")
                first = cni.value if cni is not None else "canal"
                if isinstance(first, str) and first not in {"none", "multus"}:
                    plugin = _plugin(first, cni.obj if cni else dist.anchor, dist.path_of("cni"), inventory)
        if plugin is not None:
            yield dataclasses.replace(plugin, node=node)


def _k3s_plugin(dist: Distribution, directories: dict[str, list[Obj]], inventory: Inventory) -> Plugin | None:
    """k3s: its flannel (configuration in its agent directory) unless ``flannel-backend: none``, and its
    network policy controller unless ``disable-network-policy`` (whatever the CNI)."""
    backend = dist.string("flannel-backend", "vxlan")
    disabled = dist.enabled("disable-network-policy")
    if backend == "none":
        active = _active(directories.get(CNI_DIR, []))
        plugin = _from_config(*active, inventory) if active else None
        if plugin is None or plugin.enforces or disabled is not None:
            return plugin
        return dataclasses.replace(plugin, enforces=True, why="k3s runs its network policy controller")
    encrypts = backend in ("wireguard-native", "wireguard", "ipsec")
    where = dist.last("flannel-backend")
    return Plugin(
        "flannel",
        disabled is None,
        encrypts,
        disabled.obj if disabled is not None else where.obj if where is not None else dist.anchor,
        disabled.path if disabled is not None else "/config" if dist.configs else "/args",
        "k3s runs its network policy controller" if disabled is None else "k3s' disable-network-policy: true",
        f"flannel-backend: {backend}" if encrypts else "",
    )


def _active(files: list[Obj]) -> tuple[Obj, list[Obj]] | tuple[()]:
    """The configuration the runtime uses (the first valid file in name order) and the files after it."""
    ordered = sorted(files, key=lambda o: o.ref.name)
    for index, obj in enumerate(ordered):
        config = obj.raw.get("config")
        if isinstance(config, Mapping) and (config.get("type") or config.get("plugins")):
            return obj, ordered[index + 1 :]
    return ()


def _from_config(obj: Obj, ignored: list[Obj], inventory: Inventory) -> Plugin | None:
    """The plugin of a CNI configuration: the enforcing plugin of a chain (cilium chained after the
    AWS VPC CNI or flannel), else its first known plugin."""
    config = obj.raw.get("config")
    if not isinstance(config, Mapping):
        return None
    entries = config.get("plugins")
    items = (
        [(f"/config/plugins/{i}", p) for i, p in enumerate(entries)]
        if isinstance(entries, list)
        else [("/config", config)]
    )
    known = [
        (path, _CNI_TYPES[str(p.get("type"))])
        for path, p in items
        if isinstance(p, Mapping) and str(p.get("type")) in _CNI_TYPES
    ]
    if not known:
        return None
    path, name = next(((p, n) for p, n in known if ENFORCES.get(n)), known[0])
    file = str(obj.raw.get("file") or obj.ref.name)
    if name == "calico" and ("canal" in file or "flannel" in json.dumps(config)):
        name = "canal"
    why = ""
    if ignored:
        others = ", ".join(o.ref.name for o in ignored)
        why = f"{obj.ref.name} comes first in {posixpath.dirname(file)}, so the runtime ignores {others}"
    return _plugin(name, obj, f"{path}/type", inventory, why)


def _from_daemonsets(inventory: Inventory) -> Iterator[Plugin]:
    for ds in inventory.of_kind("DaemonSet"):
        name = _DAEMONSETS.get(ds.ref.name)
        if name is None:  # in any namespace: calico-system, kube-flannel, cilium's own are common
            continue
        if name == "aws-vpc-cni":
            agent = _aws_policy_agent(ds)
            plugin = _plugin(name, ds, "/spec/template/spec/containers", inventory)
            yield Plugin(
                name,
                agent,
                plugin.encrypts,
                ds,
                "/spec/template/spec/containers",
                "its network policy agent is enabled"
                if agent
                else "no aws-network-policy-agent container with --enable-network-policy=true",
            )
            continue
        if name == "kube-router" and any("--run-firewall=false" in a for a in _args(ds)):
            yield Plugin(name, False, False, ds, "/spec/template/spec/containers", "--run-firewall=false")
            continue
        plugin = _plugin(name, ds, "/metadata/name", inventory)
        if name == "weave" and "weave-npc" not in _container_names(ds):
            plugin = _without_policy(plugin, "no weave-npc container (Weave's network policy controller)")
        if name == "cilium" and _configmap(inventory, "cilium-config").get("enable-policy") == "never":
            plugin = _without_policy(plugin, 'enable-policy: "never" in ConfigMap kube-system/cilium-config')
        yield plugin


def _without_policy(plugin: Plugin, why: str) -> Plugin:
    return Plugin(plugin.name, False, plugin.encrypts, plugin.obj, plugin.path, why, plugin.encryption)


def _containers(ds: Obj) -> list[Mapping[str, Any]]:
    """The containers of a DaemonSet's pod template (wrong types read as none)."""
    node: Any = ds.raw
    for key in ("spec", "template", "spec", "containers"):
        node = node.get(key) if isinstance(node, Mapping) else None
    return [c for c in node if isinstance(c, Mapping)] if isinstance(node, list) else []


def _container_names(ds: Obj) -> list[str]:
    return [str(c.get("name")) for c in _containers(ds)]


def _words(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _args(ds: Obj) -> list[str]:
    return [a for c in _containers(ds) for a in _words(c.get("args")) + _words(c.get("command"))]


def _aws_policy_agent(ds: Obj) -> bool:
    for container in _containers(ds):
        if container.get("name") == "aws-network-policy-agent":
            return "--enable-network-policy=true" in _words(container.get("args"))
    return False


def _configmap(inventory: Inventory, name: str) -> Mapping[str, Any]:
    obj = inventory.get("ConfigMap", "kube-system", name)
    data = obj.raw.get("data") if obj is not None else None
    return data if isinstance(data, Mapping) else {}


def _encryption(name: str, obj: Obj, inventory: Inventory) -> tuple[bool, str]:
    if name == "cilium":
        data = _configmap(inventory, "cilium-config")
        for key in ("enable-wireguard", "enable-ipsec"):
            if str(data.get(key)).lower() == "true":
                return True, f'{key}: "true" in ConfigMap kube-system/cilium-config'
    if name in {"calico", "canal"}:
        for felix in inventory.of_kind("FelixConfiguration"):
            spec = felix.raw.get("spec")
            if isinstance(spec, Mapping) and (
                spec.get("wireguardEnabled") is True or spec.get("wireguardEnabledV6") is True
            ):
                return True, f"wireguardEnabled: true in FelixConfiguration {felix.ref.name}"
    if name in {"flannel", "canal"}:
        for cm in ("kube-flannel-cfg", "canal-config"):
            text = _configmap(inventory, cm).get("net-conf.json")
            if isinstance(text, str) and re.search(r'"Type"\s*:\s*"(wireguard|ipsec)"', text, re.IGNORECASE):
                return True, f"a wireguard/ipsec backend in ConfigMap kube-system/{cm}"
    if (
        name == "weave"
        and obj.ref.kind == "DaemonSet"
        and "WEAVE_PASSWORD" in json.dumps(obj.raw.get("spec"))
    ):
        return True, "WEAVE_PASSWORD is set on weave-net"
    if name == "antrea":
        text = _configmap(inventory, "antrea-config").get("antrea-agent.conf")
        if isinstance(text, str) and re.search(
            r"trafficEncryptionMode:\s*['\"]?(wireGuard|ipsec)", text, re.I
        ):
            return True, "trafficEncryptionMode in ConfigMap kube-system/antrea-config"
    return False, ""


# --- service meshes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mesh:
    name: str
    """``istio`` or ``linkerd``."""
    obj: Obj
    strict: bool
    """Mutual TLS is required mesh-wide (Linkerd always; Istio with a mesh-wide STRICT PeerAuthentication)."""


def meshes(inventory: Inventory) -> list[Mesh]:
    found: list[Mesh] = []
    istiod = [d for d in inventory.of_kind("Deployment") if d.ref.name.startswith("istiod")]
    peer = [p for p in inventory.of_kind("PeerAuthentication") if p.ref.group.endswith("istio.io")]
    if istiod or peer:
        root = [p for p in peer if p.ref.namespace == "istio-system" and not _selector(p)]
        strict = any(_mtls_mode(p) == "STRICT" for p in root)
        found.append(Mesh("istio", (istiod or peer)[0], strict))
    linkerd = [
        d
        for d in inventory.of_kind("Deployment")
        if d.ref.name in {"linkerd-destination", "linkerd-identity"}
    ]
    if linkerd:
        found.append(Mesh("linkerd", linkerd[0], True))
    return found


def _selector(obj: Obj) -> bool:
    spec = obj.raw.get("spec")
    selector = spec.get("selector") if isinstance(spec, Mapping) else None
    return isinstance(selector, Mapping) and bool(
        selector.get("matchLabels") or selector.get("matchExpressions")
    )


def _mtls_mode(obj: Obj) -> str | None:
    spec = obj.raw.get("spec")
    mtls = spec.get("mtls") if isinstance(spec, Mapping) else None
    mode = mtls.get("mode") if isinstance(mtls, Mapping) else None
    return mode if isinstance(mode, str) else None


def plaintext_peers(inventory: Inventory) -> list[tuple[Obj, str, str, str]]:
    """``(PeerAuthentication, pointer, mode, port)`` of every PERMISSIVE or DISABLE mTLS mode (port ``""``
    for the whole workload)."""
    found: list[tuple[Obj, str, str, str]] = []
    for peer in inventory.of_kind("PeerAuthentication"):
        spec = peer.raw.get("spec")
        spec = spec if isinstance(spec, Mapping) else {}
        mode = _mtls_mode(peer)
        if mode in ("PERMISSIVE", "DISABLE"):
            found.append((peer, "/spec/mtls/mode", mode, ""))
        ports = spec.get("portLevelMtls")
        for port, setting in ports.items() if isinstance(ports, Mapping) else []:
            port_mode = setting.get("mode") if isinstance(setting, Mapping) else None
            if port_mode in ("PERMISSIVE", "DISABLE"):
                path = _pointer.join("/spec/portLevelMtls", port, "mode")
                found.append((peer, path, str(port_mode), str(port)))
    return found


def mesh_enrolled(namespace: Obj, names: set[str]) -> bool:
    """Whether a mesh of ``names`` injects (or, Istio ambient, captures) the namespace's pods."""
    labels, annotations = namespace.labels, namespace.annotations
    istio = (
        labels.get("istio-injection") == "enabled"
        or "istio.io/rev" in labels
        or labels.get("istio.io/dataplane-mode") == "ambient"
    )
    linkerd = annotations.get("linkerd.io/inject") == "enabled"
    return ("istio" in names and istio) or ("linkerd" in names and linkerd)


def mesh_opt_outs(pod: EffectivePod) -> list[tuple[str, str]]:
    """The pod template's ``sidecar.istio.io/inject: "false"`` or ``linkerd.io/inject: disabled``."""
    opts = (("sidecar.istio.io/inject", "false"), ("linkerd.io/inject", "disabled"))
    return [(key, value) for key, value in opts if pod.annotations.get(key) == value]
