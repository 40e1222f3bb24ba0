"""The JSON Schema of ``--format json`` (``kharden schema`` prints it; ``docs/json.md`` is made from it).

The contract: fields may be added, none is renamed or removed. So the schema published here leaves
objects open to new fields; the tests validate every JSON report they produce against a closed copy
of it (:func:`closed`), so that a field the schema does not describe cannot slip in.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ..model import Severity

__all__ = ["SCHEMA", "closed", "markdown", "render"]

_SEVERITY = {"enum": [s.label for s in sorted(Severity, reverse=True)]}
_COUNT = {"type": "integer", "minimum": 0}
_COUNTS = {
    "type": "object",
    "description": "Unsuppressed findings per severity, every severity present.",
    "properties": {s.label: _COUNT for s in sorted(Severity, reverse=True)},
    "required": [s.label for s in sorted(Severity, reverse=True)],
}
_SCORE = {
    "type": ["integer", "null"],
    "minimum": 0,
    "maximum": 100,
    "description": "0 to 100; null (n/a) when no rule examined anything.",
}


def _object(
    description: str, properties: dict[str, Any], *, optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": [name for name in properties if name not in optional],
    }


SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://github.com/kharden/kharden/raw/main/docs/report.schema.json",
    "title": "kharden scan report",
    "description": (
        "The report of 'kharden scan --format json', version 1. Fields may be added in later releases;"
        " none is renamed or removed."
    ),
    **_object(
        "",
        {
            "version": {"const": 1, "description": "The version of this contract."},
            "tool": _object(
                "The program that wrote the report.",
                {"name": {"const": "kharden"}, "version": {"type": "string"}},
            ),
            "findings": {
                "type": "array",
                "description": "Every finding, suppressed ones included, by file, line, column and rule.",
                "items": {"$ref": "#/$defs/finding"},
            },
            "errors": {
                "type": "array",
                "description": "Inputs that could not be read (exit code 2); the others were scanned.",
                "items": _object(
                    "An input error.",
                    {
                        "file": {"type": ["string", "null"], "description": "The file, directory or input."},
                        "line": {"type": ["integer", "null"], "minimum": 1},
                        "message": {"type": "string"},
                    },
                ),
            },
            "not_evaluated": {
                "type": "array",
                "description": "Rules, or objects of a rule, that could not be judged: never a pass.",
                "items": _object(
                    "A rule, and why it could not be evaluated.",
                    {"rule": {"$ref": "#/$defs/rule"}, "reason": {"type": "string"}},
                ),
            },
            "assumptions": {
                "type": "array",
                "description": "What the scan assumed where its inputs did not say (the cluster's version).",
                "items": {"type": "string"},
            },
            "summary": {"$ref": "#/$defs/summary"},
        },
    ),
    "$defs": {
        "rule": {
            "type": "string",
            "pattern": r"^[a-z]+\.[a-z0-9]+(-[a-z0-9]+)*$",
            "description": "A rule ID.",
        },
        "finding": _object(
            "One problem on one object.",
            {
                "rule": {"$ref": "#/$defs/rule"},
                "severity": {**_SEVERITY, "description": "The finding's severity (overrides applied)."},
                "section": {"type": "string", "description": "The checklist section of the rule."},
                "title": {"type": "string", "description": "The rule's title."},
                "object": _object(
                    "The object the finding is about.",
                    {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "namespace": {
                            "type": ["string", "null"],
                            "description": 'As written; "default" for a namespaced kind that does not say;'
                            " null for cluster-scoped kinds.",
                        },
                        "name": {"type": "string"},
                    },
                ),
                "container": {
                    "type": ["string", "null"],
                    "description": "The container, or null when the finding is not about one container.",
                },
                "location": _object(
                    "Where the offending field is.",
                    {
                        "file": {
                            "type": ["string", "null"],
                            "description": "null for a live cluster's objects.",
                        },
                        "line": {"type": ["integer", "null"], "minimum": 1},
                        "column": {"type": ["integer", "null"], "minimum": 1},
                        "path": {
                            "type": "string",
                            "description": (
                                "JSON pointer to the field in the object (for a network finding opened"
                                " by a policy rule, in that NetworkPolicy: the place to change)."
                            ),
                        },
                        "template": {
                            "type": "string",
                            "description": "The template or resource file a rendered object came from.",
                        },
                        "renderer": {
                            "enum": ["helm", "kustomize"],
                            "description": "Set when kharden rendered the input (a chart, a kustomization).",
                        },
                        "rendered": _object(
                            "Rendered input: where the field is in the rendered output (file is the"
                            " directory rendered); file, line and column above are where a person edits it.",
                            {
                                "file": {"type": ["string", "null"]},
                                "line": {"type": ["integer", "null"], "minimum": 1},
                                "column": {"type": ["integer", "null"], "minimum": 1},
                            },
                        ),
                        "edit": _object(
                            "Rendered input: what the place to edit is, when it is known for certain.",
                            {
                                "kind": {
                                    "enum": [
                                        "resource",
                                        "patch",
                                        "json-patch",
                                        "kustomization",
                                        "template",
                                        "values",
                                    ],
                                },
                                "document": {
                                    **_COUNT,
                                    "description": "The YAML document in the file (0-based).",
                                },
                                "pointer": {
                                    "type": ["string", "null"],
                                    "description": "The field's JSON pointer there (null in a template).",
                                },
                                "inline": {
                                    "type": "string",
                                    "description": "Where a patch written in a kustomization is in it.",
                                },
                            },
                            optional=("inline",),
                        ),
                    },
                    optional=("template", "renderer", "rendered", "edit"),
                ),
                "message": {
                    "type": "string",
                    "description": "What is wrong, naming the value (never a secret).",
                },
                "remediation": {"type": "string", "description": "How to fix it."},
                "fingerprint": {
                    "type": "string",
                    "pattern": "^[0-9a-f]{32}$",
                    "description": "Stable across line moves and reformatting; distinct for distinct"
                    " problems.",
                },
                "fix": _object(
                    "What 'kharden fix' can do about the finding.",
                    {
                        "automatic": {"type": "boolean", "description": "kharden fix repairs it."},
                        "unsafe": {
                            "type": "boolean",
                            "description": "Only with --unsafe (it may break the app).",
                        },
                    },
                ),
                "attack_paths": {
                    **_COUNT,
                    "description": "How many of the attack paths 'kharden paths' finds rest on this finding"
                    " (in scans that count them).",
                },
                "suppressed": {
                    "oneOf": [
                        {"type": "null"},
                        _object(
                            "Why the finding does not fail the run.",
                            {
                                "kind": {"enum": ["annotation", "config", "baseline"]},
                                "reason": {"type": "string"},
                            },
                        ),
                    ]
                },
            },
            optional=("attack_paths",),
        ),
        "summary": _object(
            "Counts, scores and what the scan read.",
            {
                "objects": {**_COUNT, "description": "Objects read."},
                "findings": _COUNTS,
                "suppressed": {**_COUNT, "description": "Suppressed findings."},
                "by_section": {
                    "type": "object",
                    "description": "Unsuppressed findings per checklist section.",
                    "additionalProperties": _COUNT,
                },
                "by_section_severity": {
                    "type": "object",
                    "description": "Unsuppressed findings per section and severity.",
                    "additionalProperties": _COUNTS,
                },
                "files": {**_COUNT, "description": "Files read."},
                "skipped_documents": {**_COUNT, "description": "Documents without apiVersion/kind."},
                "kinds": {
                    "type": "object",
                    "description": "Objects read, per kind.",
                    "additionalProperties": _COUNT,
                },
                "rules_run": {**_COUNT, "description": "Rules that ran."},
                "suppressed_by": {
                    "type": "object",
                    "description": "Suppressed findings per kind of suppression.",
                    "additionalProperties": _COUNT,
                },
                "score": {
                    "oneOf": [
                        {"type": "null"},
                        _object(
                            "The scores (docs/reports.md gives the formula).",
                            {
                                "overall": _SCORE,
                                "sections": {
                                    "type": "object",
                                    "additionalProperties": _object(
                                        "One checklist section.",
                                        {
                                            "score": _SCORE,
                                            "rules": {
                                                **_COUNT,
                                                "description": "Rules that examined something.",
                                            },
                                            "failing": {
                                                **_COUNT,
                                                "description": "Of those, rules with findings.",
                                            },
                                            "capped_by": {
                                                "oneOf": [{"type": "null"}, _SEVERITY],
                                                "description": "The severity that capped the score.",
                                            },
                                        },
                                    ),
                                },
                            },
                        ),
                    ]
                },
                "baseline": {
                    "oneOf": [
                        {"type": "null"},
                        _object(
                            "How the baseline was used.",
                            {
                                "file": {"type": "string"},
                                "entries": _COUNT,
                                "matched": {
                                    **_COUNT,
                                    "description": "Entries a finding of this scan matched.",
                                },
                                "fixed": {**_COUNT, "description": "Entries no finding matched."},
                            },
                        ),
                    ]
                },
            },
        ),
    },
}


def render() -> str:
    return json.dumps(SCHEMA, indent=2, ensure_ascii=False) + "\n"


def closed(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of the schema in which objects with listed properties accept no other field."""
    result = copy.deepcopy(SCHEMA if schema is None else schema)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(result)
    return result


def markdown() -> str:
    """``docs/json.md``: every field with its type and meaning, then the schema itself."""
    lines = [
        "# The JSON report",
        "",
        "<!-- Generated by `make docs` from src/kharden/report/schema.py; do not edit. -->",
        "",
        "`kharden scan --format json` writes one JSON object, described below field by field;",
        "`kharden schema` prints its JSON Schema (draft 2020-12, also at the end of this page).",
        "The contract: fields may be added in later releases, none is renamed or removed.",
        "",
        "| field | type | meaning |",
        "|---|---|---|",
    ]
    _fields(SCHEMA, "", lines)
    lines += ["", "## The schema", "", "```json", render().rstrip("\n"), "```", ""]
    return "\n".join(lines)


def _fields(node: dict[str, Any], prefix: str, lines: list[str]) -> None:
    node = _resolve(node)
    for name, written in node.get("properties", {}).items():
        child = _resolve(written)
        path = f"{prefix}{name}"
        required = name in node.get("required", ())
        lines.append(f"| `{path}` | {_type(child)}{'' if required else ', optional'} | {_describe(child)} |")
        if child.get("type") == "array":
            _fields(_resolve(child["items"]), f"{path}[].", lines)
        else:
            inner = _inner(child)
            if inner is not None:
                _fields(inner, f"{path}.", lines)


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str):
        return dict(SCHEMA["$defs"][ref.rsplit("/", 1)[1]])
    return node


def _inner(node: dict[str, Any]) -> dict[str, Any] | None:
    """The object inside ``node``: its properties, the non-null choice of a oneOf, or a map's values."""
    if "properties" in node:
        return node
    for choice in node.get("oneOf", ()):
        if "properties" in choice:
            return dict(choice)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and "properties" in extra:
        return {"properties": {"*": extra}, "required": ["*"]}
    return None


def _type(node: dict[str, Any]) -> str:
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "enum" in node:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in node["enum"])
    if "oneOf" in node:
        return " or ".join(_type(_resolve(choice)) for choice in node["oneOf"])
    kind = node.get("type", "object")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return "object (map)"
    return str(kind)


def _describe(node: dict[str, Any]) -> str:
    text = str(node.get("description", ""))
    for choice in node.get("oneOf", ()):
        text = text or str(choice.get("description", ""))
    return text.replace("|", "\\|")
