"""DESIGN.md's direction: a module depends only on modules below it (rules -> analysis -> model)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src" / "kharden"

# What each layer may not import.
FORBIDDEN = {
    "model.py": (
        "kharden.rules",
        "kharden.analysis",
        "kharden.sources",
        "kharden.report",
        "kharden.cli",
        "kharden.scan",
    ),
    "analysis": ("kharden.rules", "kharden.report", "kharden.cli", "kharden.scan", "kharden.sources"),
    "rules": ("kharden.report", "kharden.cli", "kharden.scan", "kharden.sources"),
    "sources": ("kharden.rules", "kharden.report", "kharden.cli", "kharden.scan", "kharden.analysis"),
    "report": ("kharden.cli", "kharden.scan", "kharden.sources"),
    "paths": ("kharden.report", "kharden.cli", "kharden.scan", "kharden.sources"),
    "runner.py": ("kharden.report", "kharden.cli", "kharden.scan", "kharden.sources", "kharden.fix"),
    "fix": ("kharden.cli",),
    "generate": ("kharden.cli", "kharden.report"),
    "enforce": ("kharden.cli", "kharden.report", "kharden.scan"),
}


def _imports(path: Path) -> set[str]:
    package = "kharden." + ".".join(path.relative_to(SRC).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rstrip(".").split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports(layer: str) -> None:
    target = SRC / layer
    files = [target] if target.is_file() else sorted(target.rglob("*.py"))
    for path in files:
        bad = sorted(n for n in _imports(path) if n.startswith(FORBIDDEN[layer]))
        assert bad == [], f"{path.relative_to(SRC)} imports {bad}"
