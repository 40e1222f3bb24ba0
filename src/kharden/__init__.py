"""kharden: audit Kubernetes manifests, charts and clusters against a hardening checklist.

>>> from kharden import scan, Severity
>>> report = scan(["k8s/"])                          # doctest: +SKIP
>>> [f.rule for f in report.active if f.severity >= Severity.HIGH]   # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from .baseline import Baseline, load_baseline
from .config import Config, find_config, load_config
from .errors import ClusterError, ConfigError, InputError, KhardenError, UsageError
from .model import Finding, Location, ObjRef, Report, Severity
from .scan import ScanOptions, scan

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
