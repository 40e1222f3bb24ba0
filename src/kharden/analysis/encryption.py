"""EncryptionConfiguration: which provider writes a resource (the first one of the first matching entry).

The API server encrypts a resource with the first provider of the first ``resources`` entry that
matches it; later providers only decrypt. Entries match ``secrets`` (a core resource),
``deployments.apps``, ``*.apps`` (every resource of a group), ``*.`` (the core group) and ``*.*``
(everything); an ``identity`` provider first means the data is written in clear text.
https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/#understanding-the-encryption-at-rest-configuration
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..model import Obj

__all__ = [
    "KINDS",
    "RAW_KEY_PROVIDERS",
    "Provider",
    "ResourceEncryption",
    "all_providers",
    "encryption_for",
    "providers",
]

KINDS = ("EncryptionConfiguration", "EncryptionConfig")
RAW_KEY_PROVIDERS = frozenset({"aescbc", "aesgcm", "secretbox"})


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    """identity, aescbc, aesgcm, secretbox or kms."""
    path: str
    kms_api_version: str | None = None
    """``v1`` or ``v2`` for kms (unset means v1)."""


@dataclass(frozen=True, slots=True)
class ResourceEncryption:
    """How ``resource`` is written: the matching entry (``pattern`` at ``path``) and its providers."""

    obj: Obj
    pattern: str
    path: str
    providers: tuple[Provider, ...]

    @property
    def first(self) -> Provider | None:
        return self.providers[0] if self.providers else None


def _matches(pattern: str, group: str, resource: str) -> bool:
    if pattern == "*.*":
        return True
    name, _, pattern_group = pattern.partition(".")
    if name == "*":
        return pattern_group == group
    return name == resource and pattern_group == group


def encryption_for(config: Obj, resource: str, group: str = "") -> ResourceEncryption | None:
    """The entry of ``config`` that decides how ``resource`` of ``group`` is written, or ``None``."""
    entries = config.raw.get("resources")
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, Mapping):
            continue
        patterns = entry.get("resources")
        for position, pattern in enumerate(patterns if isinstance(patterns, list) else []):
            if isinstance(pattern, str) and _matches(pattern, group, resource):
                return ResourceEncryption(
                    config, pattern, f"/resources/{index}/resources/{position}", providers(entry, index)
                )
    return None


def providers(entry: Mapping[str, Any], index: int) -> tuple[Provider, ...]:
    """The providers of one ``resources`` entry, in order."""
    found = []
    items = entry.get("providers")
    for position, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, Mapping) or not item:
            continue
        name = next(iter(item))
        path = f"/resources/{index}/providers/{position}/{name}"
        version = None
        if name == "kms":
            body = item.get("kms")
            written = body.get("apiVersion") if isinstance(body, Mapping) else None
            version = written if isinstance(written, str) else "v1"
        found.append(Provider(str(name), path, version))
    return tuple(found)


def all_providers(config: Obj) -> list[Provider]:
    """Every provider of every ``resources`` entry, in order."""
    entries = config.raw.get("resources")
    return [
        provider
        for index, entry in enumerate(entries if isinstance(entries, list) else [])
        if isinstance(entry, Mapping)
        for provider in providers(entry, index)
    ]
