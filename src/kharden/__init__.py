"""kharden: audit Kubernetes manifests, charts and clusters against a hardening checklist.

>>> from kharden import scan, Severity
>>> report = scan(["k8s/"])                          # doctest: +SKIP
>>> [f.rule for f in report.active if f.severity >= Severity.HIGH]   # doctest: +SKIP

The names below are imported on first use: ``kharden --version`` and ``kharden rules`` load only what
they need (start-up is most of a small scan's time).
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

__version__ = "0.1.0"

TYPE_CHECKING = False
"""``typing.TYPE_CHECKING`` without importing ``typing`` (type checkers know the name): start-up."""

if TYPE_CHECKING:
    from typing import Any

    from .baseline import Baseline, load_baseline
    from .config import Config, find_config, load_config
    from .errors import ClusterError, ConfigError, InputError, KhardenError, UsageError
    from .model import Finding, Location, ObjRef, Report, Severity
    from .scan import ScanOptions, scan

_PUBLIC = {
    "Baseline": "baseline",
    "load_baseline": "baseline",
    "Config": "config",
    "find_config": "config",
    "load_config": "config",
    "ClusterError": "errors",
    "ConfigError": "errors",
    "InputError": "errors",
    "KhardenError": "errors",
    "UsageError": "errors",
    "Finding": "model",
    "Location": "model",
    "ObjRef": "model",
    "Report": "model",
    "Severity": "model",
    "ScanOptions": "scan",
    "scan": "scan",
}

__all__ = [
    "Baseline",
    "ClusterError",
    "Config",
    "ConfigError",
    "Finding",
    "InputError",
    "KhardenError",
    "Location",
    "ObjRef",
    "Report",
    "ScanOptions",
    "Severity",
    "UsageError",
    "__version__",
    "find_config",
    "load_baseline",
    "load_config",
    "scan",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'kharden' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(ModuleType):
    """The package: ``kharden.scan`` stays the function once the submodule of that name is imported (the
    import system sets the package's attribute to the submodule; ``sys.modules`` keeps the submodule)."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in _PUBLIC and isinstance(value, ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
