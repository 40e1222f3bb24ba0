"""k3s and RKE2 settings as k3s itself merges them: config.yaml, its drop-ins, the unit's command line.

k3s (and RKE2, which uses the same parser) reads its configuration like this
(k3s ``pkg/configfilearg/parser.go``, ``readConfigFile`` and ``Parse``):

- ``config.yaml`` first, then every ``config.yaml.d/*.yaml`` (and ``*.yml``) in file-name order;
- the files are merged **by key**: a later file's ``key:`` replaces the value of every earlier file,
  while ``key+:`` appends to it (a scalar counts as a one-item list);
- the merged keys become flags (``--key=value``, one per list item) inserted right after the
  ``server``/``agent`` subcommand, **before** the flags of the command line itself; so a flag on the
  unit's ``ExecStart`` wins over the files for a single-valued key, and a repeatable one
  (``--kube-apiserver-arg``) adds its values after theirs (urfave/cli appends to a string slice);
- boolean settings are parsed as Go's ``strconv.ParseBool`` does: ``true``, ``"true"``, ``1``,
  ``t`` and ``TRUE`` all enable ``secrets-encryption``.

A :class:`Distribution` is that merged view for one node; ``values(key)`` lists what each key
ends up with, each value pointing at the file (or the command line) that wrote it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import _flags, _pointer
from ..inventory import Inventory
from ..model import Obj

__all__ = ["NODE_API", "Distribution", "Value", "component_args", "distributions", "parse_bool"]

NODE_API = "node.kharden.io/v1alpha1"

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})


def parse_bool(value: Any) -> bool:
    """Go's ``strconv.ParseBool`` on a value as k3s turns it into a flag (``None``: a bare flag)."""
    if value is None or value is True:
        return True
    return isinstance(value, str) and value in _TRUE


@dataclass(frozen=True, slots=True)
class Value:
    """One value a key ends up with, and where it was written."""

    value: Any
    obj: Obj
    path: str
    """Pointer into ``obj``: ``/config/kube-apiserver-arg+/0`` of a drop-in, ``/args/3`` of the unit."""
    cli: bool = False

    @property
    def text(self) -> str:
        if self.value is None or isinstance(self.value, bool):
            return "true" if self.value in (None, True) else "false"
        return str(self.value)


@dataclass
class Distribution:
    """The k3s or RKE2 configuration of one node, merged as k3s merges it."""

    name: str
    """``k3s`` or ``rke2``."""
    node: str | None
    configs: list[Obj]
    """The DistributionConfig objects, config.yaml first, then the drop-ins in name order."""
    cli: list[Obj]
    """The ComponentArgs pieces of the unit's command line, in order."""
    merged: dict[str, list[Value]] = field(default_factory=dict)

    @property
    def anchor(self) -> Obj:
        """Where a setting that is written nowhere would go: the last config file, else the unit."""
        return self.configs[-1] if self.configs else self.cli[0]

    @property
    def role(self) -> str:
        """``server`` or ``agent``: the subcommand of the unit's command line (a server by default)."""
        for piece in self.cli:
            words = _words(piece.raw.get("args"))
            if words[:1] == ["agent"]:
                return "agent"
        return "server"

    def values(self, key: str) -> list[Value]:
        return self.merged.get(key, [])

    def last(self, key: str) -> Value | None:
        """The value of a single-valued key: its last occurrence wins."""
        found = self.values(key)
        return found[-1] if found else None

    def enabled(self, key: str) -> Value | None:
        """The value that turns a boolean key on, or ``None`` when it is off or unset."""
        value = self.last(key)
        return value if value is not None and parse_bool(value.value) else None

    def string(self, key: str, default: str = "") -> str:
        value = self.last(key)
        return value.text if value is not None else default

    def path_of(self, key: str) -> str:
        """Where ``key`` is written, or where it would be written (the anchor's config)."""
        value = self.last(key)
        return value.path if value is not None else "/config" if self.configs else "/args"


def distributions(inventory: Inventory) -> list[Distribution]:
    """The k3s and RKE2 configuration of every node root of the scan, merged."""
    found: dict[tuple[str | None, str], Distribution] = {}
    for obj in inventory.of_kind("DistributionConfig", "ComponentArgs"):
        if obj.ref.api_version != NODE_API:
            continue
        name = obj.raw.get("distribution") or obj.raw.get("component")
        if name not in ("k3s", "rke2"):
            continue
        key = (obj.origin.node, str(name))
        entry = found.setdefault(key, Distribution(str(name), obj.origin.node, [], []))
        (entry.configs if obj.ref.kind == "DistributionConfig" else entry.cli).append(obj)
    for entry in found.values():
        entry.configs.sort(key=_position)
        entry.cli.sort(key=_position)
        entry.merged = _merge(entry.configs, entry.cli)
    return list(found.values())


def _merge(configs: list[Obj], cli: list[Obj]) -> dict[str, list[Value]]:
    merged: dict[str, list[Value]] = {}
    for config in configs:
        raw = config.raw.get("config")
        for written, value in raw.items() if isinstance(raw, Mapping) else []:
            if not isinstance(written, str):
                continue
            key = written.removesuffix("+")
            base = _pointer.join("/config", written)
            items = (
                [Value(v, config, f"{base}/{i}") for i, v in enumerate(value)]
                if isinstance(value, list)
                else [Value(value, config, base)]
            )
            if written.endswith("+") and key in merged:
                merged[key] = [*merged[key], *items]
            else:
                merged[key] = items
    for piece in cli:
        for arg in _flags.parse_args(_words(piece.raw.get("args")), _flags.K3S_BOOLEAN_FLAGS):
            merged.setdefault(arg.name, []).append(Value(arg.value, piece, f"/args/{arg.index}", cli=True))
    return merged


def _position(obj: Obj) -> int:
    position = obj.raw.get("position")
    return position if isinstance(position, int) else 0


def _words(value: Any) -> list[str]:
    return [v if isinstance(v, str) else str(v) for v in value] if isinstance(value, list) else []


def component_args(distribution: Distribution, key: str) -> Iterator[tuple[str, str | None, Value, str]]:
    """``(flag, value, where, mode)`` of each ``key`` entry (``kube-apiserver-arg``): the flags k3s
    passes the component, in order. ``mode`` is ``+`` for ``flag+=value`` (added after k3s' own value
    of the flag), ``-`` for ``flag-=value`` (added before it), ``""`` for ``flag=value`` (replaces it):
    k3s ``pkg/util/args.go``, ``GetArgs``."""
    for value in distribution.values(key):
        if not isinstance(value.value, str):
            continue
        name, equals, text = value.value.lstrip("-").partition("=")
        mode = name[-1] if name.endswith(("+", "-")) else ""
        yield name.rstrip("+-"), text if equals else None, value, mode
