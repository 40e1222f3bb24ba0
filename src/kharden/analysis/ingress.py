"""Which hosts of an Ingress are served over TLS: ``spec.tls[*].hosts`` against ``spec.rules[*].host``.

A tls entry covers the hosts it lists (``*.example.com`` covers exactly one more label); an entry
without hosts covers every host the controller serves for the Ingress.
https://kubernetes.io/docs/concepts/services-networking/ingress/#tls
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .. import _pointer
from ..model import Obj

__all__ = ["IngressTLS", "covers", "ingress_tls"]


@dataclass(frozen=True, slots=True)
class IngressTLS:
    has_tls: bool
    hosts: tuple[str, ...]
    """Every host the rules name."""
    uncovered: tuple[tuple[str, str], ...]
    """``(pointer, host)`` of each rule host no tls entry covers (empty without tls: nothing is)."""


def covers(pattern: str, host: str) -> bool:
    if pattern == host:
        return True
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return False


def ingress_tls(obj: Obj) -> IngressTLS:
    spec = obj.raw.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    rules = spec.get("rules")
    hosts = [
        (_pointer.join("/spec/rules", index, "host"), rule.get("host"))
        for index, rule in enumerate(rules if isinstance(rules, list) else [])
        if isinstance(rule, Mapping) and isinstance(rule.get("host"), str)
    ]
    names = tuple(str(host) for _, host in hosts)
    tls = spec.get("tls")
    if not isinstance(tls, list) or not tls:
        return IngressTLS(False, names, ())
    covered: list[str] = []
    for entry in tls:
        listed = entry.get("hosts") if isinstance(entry, Mapping) else None
        if not isinstance(listed, list) or not listed:
            return IngressTLS(True, names, ())
        covered += [h for h in listed if isinstance(h, str)]
    uncovered = tuple(
        (path, str(host)) for path, host in hosts if not any(covers(c, str(host)) for c in covered)
    )
    return IngressTLS(True, names, uncovered)
