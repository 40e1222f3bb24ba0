"""The rule catalog as ``kharden rules`` and ``kharden explain`` print it, rendered ahead of time.

Importing the rule registry imports every rule and the analyses they run on: most of the start-up of a
scan, and ten times what ``kharden rules`` needs. ``make docs`` (``python -m kharden._catalog``) renders
the registry once into ``catalog.json`` beside this module: the table, Markdown and JSON catalogs and
each rule's explanation, with a fingerprint of the sources they are rendered from (the rule modules and
the catalog renderer). The commands print from it when the fingerprint matches the installed sources,
and render from the registry otherwise; a test checks that the file is current (``make docs``).
"""

from __future__ import annotations

import hashlib
import json
import os

from . import TYPE_CHECKING, __version__

if TYPE_CHECKING:
    from typing import Any

__all__ = ["explain_text", "fingerprint", "rules_text", "write"]

_HERE = os.path.dirname(os.path.abspath(__file__))
CATALOG = os.path.join(_HERE, "catalog.json")
_SOURCES = (os.path.join(_HERE, "rules"), os.path.join(_HERE, "report", "catalog.py"))
FORMATS = ("table", "md", "json")


def fingerprint() -> str:
    """The version and a digest of the sources the catalog is rendered from."""
    digest = hashlib.sha256(__version__.encode())
    files = [_SOURCES[1]]
    files += sorted(
        os.path.join(_SOURCES[0], name) for name in os.listdir(_SOURCES[0]) if name.endswith(".py")
    )
    for path in files:
        with open(path, "rb") as handle:
            digest.update(os.path.basename(path).encode() + b"\0" + handle.read())
    return digest.hexdigest()


def _load() -> dict[str, Any] | None:
    try:
        with open(CATALOG, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("fingerprint") != fingerprint():
        return None
    return data


def rules_text(form: str) -> str:
    """``kharden rules --format FORM`` (``table``, ``md`` or ``json``)."""
    data = _load()
    text = data.get(form) if data is not None else None
    if isinstance(text, str):
        return text
    from .report import catalog  # noqa: PLC0415 - the slow way: the catalog file is not current
    from .rules import REGISTRY  # noqa: PLC0415

    renderers = {"table": catalog.rules_table, "md": catalog.rules_markdown, "json": catalog.rules_json}
    return renderers[form](REGISTRY)


def explain_text(rule_id: str) -> str:
    """``kharden explain RULE_ID``; :class:`~kharden.errors.UsageError` for an unknown rule."""
    data = _load()
    explained = data.get("explain") if data is not None else None
    text = explained.get(rule_id) if isinstance(explained, dict) else None
    if isinstance(text, str):
        return text
    from .report import catalog  # noqa: PLC0415 - unknown rules are named with their neighbours by get()
    from .rules import get  # noqa: PLC0415

    return catalog.explain(get(rule_id))


def render() -> dict[str, Any]:
    """What ``catalog.json`` holds, rendered from the registry."""
    from .report import catalog  # noqa: PLC0415 - the registry is what this module spares the commands
    from .rules import REGISTRY  # noqa: PLC0415

    return {
        "fingerprint": fingerprint(),
        "table": catalog.rules_table(REGISTRY),
        "md": catalog.rules_markdown(REGISTRY),
        "json": catalog.rules_json(REGISTRY),
        "explain": {rule.id: catalog.explain(rule) for rule in REGISTRY},
    }


def write() -> None:
    with open(CATALOG, "w", encoding="utf-8") as handle:
        json.dump(render(), handle, indent=1, sort_keys=True)
        handle.write("\n")


if __name__ == "__main__":
    write()
