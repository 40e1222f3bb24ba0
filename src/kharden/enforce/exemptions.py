"""Image exemptions, as the admission policies (in CEL) and the webhook (in Python) apply them.

An exemption is an image glob: ``*`` any text (``/`` included), ``?`` one character, every other
character itself. A container whose image matches one passes every container test of every rule; a
pod whose containers all match passes the pod-level tests too (a node agent's host network, volumes,
sysctls). The policies read the globs from the exemptions ConfigMap and turn them into the same
regular expressions in CEL (``policies.EXEMPT_IMAGES``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from ..analysis.podspec import EffectivePod

__all__ = ["GLOB_SPECIALS", "exempt", "image_glob_regex"]

GLOB_SPECIALS = "\\.+()[]{}|^$"
"""Characters of a glob that are themselves, escaped for RE2 (backslash first)."""


def image_glob_regex(glob: str) -> str:
    """The anchored regular expression (RE2 and Python alike) of an image glob."""
    text = glob.strip()
    for special in GLOB_SPECIALS:
        text = text.replace(special, "\\" + special)
    return "^" + text.replace("*", ".*").replace("?", ".") + "$"


def exempt(pod: EffectivePod, globs: Sequence[str]) -> EffectivePod | None:
    """``pod`` without its exempted containers; ``None`` when every container is exempted."""
    if not globs:
        return pod
    patterns = [re.compile(image_glob_regex(g)) for g in globs if g.strip()]

    def exempted(image: str | None) -> bool:
        return image is not None and any(p.search(image) for p in patterns)

    kept = tuple(c for c in pod.containers if not exempted(c.image.value))
    if pod.containers and not kept:
        return None
    return pod if len(kept) == len(pod.containers) else dataclasses.replace(pod, containers=kept)
