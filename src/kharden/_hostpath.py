"""Where a path inside a static pod's container lies on the node: through its hostPath mounts.

Shared by the node source (to read the files a component's flags point to) and the control-plane
analysis (to tell which file a flag means, and whether two components share one). A container
path is on the node when the volumeMount with the longest ``mountPath`` that contains it belongs
to a ``hostPath`` volume; ``subPath`` is appended to the host path. Paths covered by another volume
type (configMap, secret, emptyDir, ...) or by no mount at all are not on the node.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Resolved", "resolve"]


@dataclass(frozen=True, slots=True)
class Resolved:
    """``host`` is the node path, or ``None`` with ``reason`` saying why the file is not on the node."""

    host: str | None
    reason: str = ""


def resolve(pod_spec: Mapping[str, Any], container: Mapping[str, Any], path: str) -> Resolved:
    """The node path of ``path`` as seen by ``container`` of the pod whose spec is ``pod_spec``."""
    target = posixpath.normpath(posixpath.join(_text(container.get("workingDir")) or "/", path))
    best: tuple[str, Mapping[str, Any]] | None = None
    mounts = container.get("volumeMounts")
    for mount in mounts if isinstance(mounts, list) else []:
        if not isinstance(mount, Mapping):
            continue
        mount_path = _text(mount.get("mountPath"))
        if not mount_path:
            continue
        mount_path = posixpath.normpath(mount_path)
        inside = target == mount_path or target.startswith(mount_path.rstrip("/") + "/")
        if inside and (best is None or len(mount_path) > len(best[0])):
            best = (mount_path, mount)
    if best is None:
        return Resolved(None, "no volume of the pod is mounted there (the file would be in the image)")
    mount_path, mount = best
    name = _text(mount.get("name"))
    volume = _volume(pod_spec, name)
    if volume is None:
        return Resolved(None, f"volumeMount {name!r} names no volume of the pod")
    host = volume.get("hostPath")
    if not isinstance(host, Mapping) or not _text(host.get("path")):
        kind = next((k for k in volume if k != "name"), "unknown")
        return Resolved(None, f"it is mounted from a {kind} volume {name!r}, not from the node")
    base = _text(host.get("path"))
    sub = _text(mount.get("subPath"))
    if sub:
        base = posixpath.join(base, sub)
    remainder = target[len(mount_path) :].lstrip("/")
    return Resolved(
        posixpath.normpath(posixpath.join(base, remainder)) if remainder else posixpath.normpath(base)
    )


def _volume(pod_spec: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    volumes = pod_spec.get("volumes")
    for volume in volumes if isinstance(volumes, list) else []:
        if isinstance(volume, Mapping) and volume.get("name") == name:
            return volume
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
