"""Every object of a scan, indexed, with owners resolved and each pod template exposed once."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from .analysis.podspec import pod_template_path
from .model import Obj, ObjRef

__all__ = ["Inventory"]


class Inventory:
    """Objects by kind/namespace/name. Built once per scan; read-only afterwards."""

    def __init__(self, objects: Iterable[Obj]) -> None:
        items = list(objects)
        scopes = _crd_scopes(items)
        if scopes:
            items = [_rescope(obj, scopes) for obj in items]
        self.objects: tuple[Obj, ...] = tuple(items)
        self._by_key: dict[tuple[str, str | None, str], list[Obj]] = {}
        self._by_kind: dict[str, list[Obj]] = {}
        for obj in self.objects:
            ref = obj.ref
            self._by_key.setdefault((ref.kind, ref.namespace, ref.name), []).append(obj)
            self._by_kind.setdefault(ref.kind, []).append(obj)

    def __len__(self) -> int:
        return len(self.objects)

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        found = self._by_key.get((kind, namespace, name))
        return found[0] if found else None

    def of_kind(self, *kinds: str) -> list[Obj]:
        return [obj for kind in kinds for obj in self._by_kind.get(kind, ())]

    def controller(self, obj: Obj) -> Obj | None:
        """The object's controller (its ownerReference with ``controller: true``) when it is in the scan."""
        owners = obj.metadata.get("ownerReferences")
        if not isinstance(owners, list):
            return None
        for owner in owners:
            if isinstance(owner, Mapping) and owner.get("controller") is True:
                kind, name = owner.get("kind"), owner.get("name")
                if isinstance(kind, str) and isinstance(name, str):
                    return self.get(kind, obj.ref.namespace, name)
        return None

    def pod_templates(self) -> list[tuple[Obj, str]]:
        """``(object, template pointer)`` for every workload, once per workload.

        A Pod or ReplicaSet whose controller (a ReplicaSet, Deployment, Job, ...) is also in
        the scan is reported through that controller's template, not again on its own.
        """
        found = []
        for obj in self.objects:
            path = pod_template_path(obj)
            if path is None:
                continue
            owner = self.controller(obj)
            if owner is not None and pod_template_path(owner) is not None:
                continue
            found.append((obj, path))
        return found


def _crd_scopes(objects: list[Obj]) -> dict[tuple[str, str], bool]:
    """``(group, kind) -> cluster-scoped?`` from the CustomResourceDefinitions in the scan."""
    scopes = {}
    for obj in objects:
        if obj.ref.kind != "CustomResourceDefinition":
            continue
        spec: Any = obj.raw.get("spec")
        if not isinstance(spec, Mapping):
            continue
        names = spec.get("names")
        group, scope = spec.get("group"), spec.get("scope")
        if isinstance(names, Mapping) and isinstance(group, str) and scope in {"Cluster", "Namespaced"}:
            kind = names.get("kind")
            if isinstance(kind, str):
                scopes[(group, kind)] = scope == "Cluster"
    return scopes


def _rescope(obj: Obj, scopes: dict[tuple[str, str], bool]) -> Obj:
    cluster_scoped = scopes.get((obj.ref.group, obj.ref.kind))
    if cluster_scoped is None:
        return obj
    written = obj.metadata.get("namespace")
    namespace = None if cluster_scoped else (written if isinstance(written, str) and written else "default")
    if namespace == obj.ref.namespace:
        return obj
    return dataclasses.replace(obj, ref=ObjRef(obj.ref.kind, namespace, obj.ref.name, obj.ref.api_version))
