"""``.kharden.yaml``: a team's choices, kept beside its manifests.

::

    rules:
      include: ["pod.*", "image.*"]      # run only these (globs; default: all)
      exclude: [image.not-minimal]       # and not these
    severity:                            # findings of these rules take this severity
      image.not-pinned: medium           # (globs; a later entry overrides an earlier one)
    ignore:                              # suppress findings: rule plus object globs, and why
      - rule: pod.privileged
        kind: DaemonSet                  # kind, namespace and name default to '*'
        namespace: logging
        name: "fluent-*"
        reason: the log agent reads every container's logs on the node
    fail-on: medium                      # the default of --fail-on: a severity, or never
    baseline: .kharden-baseline.json     # the default of --baseline, relative to this file

The file is found in the working directory or the nearest parent that has one, or named
with ``--config``. Every key and rule ID is checked: an unknown key, a rule glob that
matches no rule, an ignore without a reason, a wrong type, are errors naming file and
line, never silently ignored (a typo must not turn a CI gate off).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from . import _pointer
from ._files import read_config_documents
from ._yaml import Document
from .baseline import Baseline
from .errors import ConfigError, UsageError
from .model import Severity
from .rules import REGISTRY, Rule
from .rules import get as get_rule
from .suppress import Ignore, Policy

__all__ = ["CONFIG_NAME", "Config", "find_config", "load_config"]

CONFIG_NAME = ".kharden.yaml"
_MAX_BYTES = 4 * 1024 * 1024
_KEYS = ("rules", "severity", "ignore", "fail-on", "baseline")
_RULES_KEYS = ("include", "exclude")
_IGNORE_KEYS = ("rule", "kind", "namespace", "name", "reason")


@dataclass(frozen=True)
class Config:
    file: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    severity: tuple[tuple[str, Severity], ...] = ()
    """``(rule glob, severity)`` in file order."""
    ignores: tuple[Ignore, ...] = ()
    fail_on: str | None = None
    """A severity label or ``never``; ``None`` when the file does not say."""
    baseline: str | None = None
    """The baseline path, relative to the working directory (resolved from the config's directory)."""

    def severities(self, rules: list[Rule]) -> dict[str, Severity]:
        """Rule ID -> overriding severity, for the rules that a ``severity:`` entry matches."""
        found: dict[str, Severity] = {}
        for pattern, severity in self.severity:
            for rule in rules:
                if fnmatchcase(rule.id, pattern):
                    found[rule.id] = severity
        return found

    def policy(self, rules: list[Rule], baseline: Baseline | None = None) -> Policy:
        """The severities and ignores of this config, and ``baseline``."""
        return Policy(severity=self.severities(rules), ignores=self.ignores, baseline=baseline)


def find_config(start: str) -> str | None:
    """``.kharden.yaml`` in ``start`` or the nearest parent directory that has one."""
    directory = os.path.abspath(start)
    while True:
        candidate = os.path.join(directory, CONFIG_NAME)
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def load_config(path: str) -> Config:
    """Read and check a config file; every problem is a :class:`ConfigError` with file and line."""
    documents = read_config_documents(path, _MAX_BYTES, "config")
    if not documents:
        return Config(file=path)
    if len(documents) > 1:
        raise ConfigError("a config file holds one YAML document", file=path, line=documents[1].line)
    return _Reader(path, documents[0]).config()


class _Reader:
    def __init__(self, file: str, document: Document) -> None:
        self.file = file
        self.document = document

    def line(self, pointer: str) -> int:
        found = self.document.positions.locate(self.document.data, pointer)
        return found[0] if found else self.document.line

    def error(self, message: str, pointer: str) -> ConfigError:
        return ConfigError(message, file=self.file, line=self.line(pointer))

    def mapping(self, value: Any, pointer: str, keys: tuple[str, ...], what: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(f"{what} must be a mapping", pointer)
        for key in value:
            if key not in keys:
                near = difflib.get_close_matches(key, keys, n=1)
                hint = f"did you mean '{near[0]}'?" if near else "expected one of: " + ", ".join(keys)
                raise self.error(f"unknown key {key!r} in {what} ({hint})", f"{pointer}/{key}")
        return value

    def string(self, value: Any, pointer: str, what: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"{what} must be a non-empty string", pointer)
        return value.strip()

    def rule_glob(self, value: Any, pointer: str, what: str) -> str:
        pattern = self.string(value, pointer, what)
        if any(fnmatchcase(rule.id, pattern) for rule in REGISTRY):
            return pattern
        if not any(c in pattern for c in "*?["):
            try:
                get_rule(pattern)
            except UsageError as e:
                raise self.error(str(e), pointer) from None
        raise self.error(f"rule glob {pattern!r} matches no rule (see 'kharden rules')", pointer)

    def severity(self, value: Any, pointer: str, *, never: bool = False) -> str:
        text = self.string(value, pointer, "a severity")
        if never and text.lower() == "never":
            return "never"
        try:
            return Severity.parse(text).label
        except UsageError as e:
            raise self.error(str(e), pointer) from None

    def config(self) -> Config:
        data = self.mapping(self.document.data, "", _KEYS, "the config")
        rules = self.mapping(data.get("rules"), "/rules", _RULES_KEYS, "'rules'")
        include, exclude = (self.globs(rules.get(key), f"/rules/{key}") for key in _RULES_KEYS)
        severity_map = data.get("severity")
        if severity_map is not None and not isinstance(severity_map, Mapping):
            raise self.error("'severity' must be a mapping of rule IDs (or globs) to severities", "/severity")
        severity = tuple(
            (
                self.rule_glob(key, f"/severity/{_pointer.escape(key)}", "a rule ID"),
                Severity.parse(self.severity(value, f"/severity/{_pointer.escape(key)}")),
            )
            for key, value in (severity_map or {}).items()
        )
        fail_on = data.get("fail-on")
        baseline = data.get("baseline")
        return Config(
            file=self.file,
            include=include,
            exclude=exclude,
            severity=severity,
            ignores=self.ignores(data.get("ignore")),
            fail_on=None if fail_on is None else self.severity(fail_on, "/fail-on", never=True),
            baseline=None
            if baseline is None
            else os.path.join(os.path.dirname(self.file), self.string(baseline, "/baseline", "'baseline'")),
        )

    def globs(self, value: Any, pointer: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.error(
                f"'{pointer[1:].replace('/', '.')}' must be a list of rule IDs or globs", pointer
            )
        return tuple(self.rule_glob(v, f"{pointer}/{i}", "a rule ID") for i, v in enumerate(value))

    def ignores(self, value: Any) -> tuple[Ignore, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.error(
                "'ignore' must be a list of entries (rule, kind, namespace, name, reason)", "/ignore"
            )
        found = []
        for index, raw in enumerate(value):
            at = f"/ignore/{index}"
            entry = self.mapping(raw, at, _IGNORE_KEYS, "an ignore entry")
            if "rule" not in entry:
                raise self.error("an ignore entry needs 'rule' (a rule ID or glob)", at)
            if "reason" not in entry:
                raise self.error("an ignore entry needs a 'reason' (why the finding is accepted)", at)
            found.append(
                Ignore(
                    rule=self.rule_glob(entry["rule"], f"{at}/rule", "'rule'"),
                    reason=self.string(entry["reason"], f"{at}/reason", "'reason'"),
                    kind=self.string(entry.get("kind", "*"), f"{at}/kind", "'kind'"),
                    namespace=self.string(entry.get("namespace", "*"), f"{at}/namespace", "'namespace'"),
                    name=self.string(entry.get("name", "*"), f"{at}/name", "'name'"),
                )
            )
        return tuple(found)
