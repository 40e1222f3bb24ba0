"""Which Services a workload names: in its env values, its command and args, and the ConfigMaps it reads.

A workload that names a Service talks to it: ``http://api.shop.svc:8080``, ``api.shop``,
``api.shop.svc.cluster.local``, ``redis-0.redis.shop.svc.cluster.local:6379`` (a pod of a
headless Service) or, in its own namespace, ``api:8080`` and ``http://api``. A bare word (``api``)
counts only as the whole value of a variable or ConfigMap key whose name says it holds an address
(``API_HOST``, ``BACKEND_URL``, ...): ``MODE=api`` names nothing.

Only what the scan holds is read: Secrets' values never are (kharden reads Secrets as metadata).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .. import _pointer
from ..analysis.podspec import CONTAINER_LISTS, EffectivePod
from ..inventory import Inventory

__all__ = ["Mention", "Text", "mentions", "texts_of"]

_HOST = re.compile(
    r"(?<![A-Za-z0-9_.-])(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?:[^@/\s]*@)?)?"
    r"(?P<host>[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)"
    r"(?::(?P<port>[0-9]{1,5}))?(?![A-Za-z0-9_-]|\.[A-Za-z0-9])"
)
_ADDRESS_NAME = re.compile(r"(HOST|HOSTNAME|ADDR|ADDRESS|SERVER|SERVICE|ENDPOINT|URL|URI|UPSTREAM|BACKEND)$")
_SCHEME_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "grpc": 80}


@dataclass(frozen=True, slots=True)
class Text:
    """A string a workload reads, and where: ``env DB_HOST of container 'api'``."""

    value: str
    variable: str
    """The variable or ConfigMap key it is the value of (``""`` for command and args)."""
    where: str


@dataclass(frozen=True, slots=True)
class Mention:
    """A host name in a text, split as cluster DNS names are: ``[pod.]service[.namespace[.svc...]]``."""

    labels: tuple[str, ...]
    """The DNS labels before ``svc`` (all of them when there is none), lower case."""
    qualified: bool
    """The name ends in ``.svc`` or ``.svc.<cluster domain>``."""
    port: int | None
    scheme: str | None
    written: str
    text: Text

    @property
    def default_port(self) -> int | None:
        return self.port if self.port is not None else _SCHEME_PORTS.get(self.scheme or "")


def mentions(text: Text) -> Iterator[Mention]:
    """The host names of ``text`` that may name a Service."""
    whole = text.value.strip()
    for match in _HOST.finditer(text.value):
        host = match["host"].lower().rstrip(".")
        labels = tuple(host.split("."))
        qualified = "svc" in labels[1:]
        if qualified:
            labels = labels[: labels.index("svc", 1)]
        port = int(match["port"]) if match["port"] else None
        scheme = match["scheme"].lower() if match["scheme"] else None
        bare = len(labels) == 1 and not qualified and port is None and scheme is None
        # A bare word counts only as the whole value of a variable named like an address.
        if bare and (
            match.group(0) != whole or not _ADDRESS_NAME.search(text.variable.upper().replace("-", "_"))
        ):
            continue
        if port is not None and not 1 <= port <= 65535:
            continue
        yield Mention(labels, qualified, port, scheme, match.group(0), text)


def texts_of(pod: EffectivePod, inventory: Inventory) -> list[Text]:
    """Every string the pod's containers are configured with, and the ConfigMaps they read."""
    template: Any = pod.obj.raw
    for token in _pointer.split(pod.template_path):
        template = template.get(token) if isinstance(template, Mapping) else None
    spec = template.get("spec") if isinstance(template, Mapping) else None
    if not isinstance(spec, Mapping):
        return []
    namespace = pod.obj.ref.namespace or "default"
    found: list[Text] = []
    config_maps: dict[str, set[str] | None] = {}  # name -> keys read (None: every key)

    def read_all(name: Any) -> None:
        if isinstance(name, str):
            config_maps[name] = None

    for list_name in CONTAINER_LISTS:
        containers = spec.get(list_name)
        for container in containers if isinstance(containers, list) else ():
            if not isinstance(container, Mapping):
                continue
            label = f"container {container.get('name')!r}"
            for key in ("command", "args"):
                words = container.get(key)
                for word in words if isinstance(words, list) else ():
                    if isinstance(word, str):
                        found.append(Text(word, "", f"{key} of {label}"))
            env = container.get("env")
            for variable in env if isinstance(env, list) else ():
                if not isinstance(variable, Mapping) or not isinstance(variable.get("name"), str):
                    continue
                value = variable.get("value")
                if isinstance(value, str) and value:
                    found.append(Text(value, variable["name"], f"env {variable['name']} of {label}"))
                source = variable.get("valueFrom")
                ref = source.get("configMapKeyRef") if isinstance(source, Mapping) else None
                if isinstance(ref, Mapping) and isinstance(ref.get("name"), str):
                    keys = config_maps.setdefault(ref["name"], set())
                    if keys is not None and isinstance(ref.get("key"), str):
                        keys.add(ref["key"])
            env_from = container.get("envFrom")
            for source in env_from if isinstance(env_from, list) else ():
                ref = source.get("configMapRef") if isinstance(source, Mapping) else None
                if isinstance(ref, Mapping):
                    read_all(ref.get("name"))
    volumes = spec.get("volumes")
    for volume in volumes if isinstance(volumes, list) else ():
        if not isinstance(volume, Mapping):
            continue
        ref = volume.get("configMap")
        if isinstance(ref, Mapping):
            read_all(ref.get("name"))
        projected = volume.get("projected")
        sources = projected.get("sources") if isinstance(projected, Mapping) else None
        for source in sources if isinstance(sources, list) else ():
            ref = source.get("configMap") if isinstance(source, Mapping) else None
            if isinstance(ref, Mapping):
                read_all(ref.get("name"))
    for name in sorted(config_maps):
        found.extend(_config_map_texts(inventory, namespace, name, config_maps[name]))
    return found


def _config_map_texts(
    inventory: Inventory, namespace: str, name: str, keys: set[str] | None
) -> Iterator[Text]:
    config_map = inventory.get("ConfigMap", namespace, name)
    data = config_map.raw.get("data") if config_map is not None else None
    if not isinstance(data, Mapping):
        return
    for key, value in data.items():
        if isinstance(key, str) and isinstance(value, str) and (keys is None or key in keys):
            yield Text(value, key, f"ConfigMap {name!r} key {key}")
