"""``kharden generate psa --from-psp``: PodSecurityPolicies migrated (work in progress)."""

from __future__ import annotations

from collections.abc import Sequence

from ..analysis.context import ScanContext
from .model import Generated

__all__ = ["generate_psa"]


def generate_psa(context: ScanContext, files: Sequence[str]) -> Generated:
    del context, files
    return Generated("psa")
