"""How much of each file ``kharden fix`` keeps: splicing at libyaml's positions vs ruamel.yaml's round trip.

    .venv/bin/python bench/fix_textkeep.py [--unsafe] [--corpus ../shared/corpus/real]

For every file of the corpus that ``kharden fix`` changes, the same fixed objects are written two ways:

- **splice** (what kharden does): the changes are spliced into the text at the positions libyaml
  reports (``kharden.fix._text``);
- **ruamel**: the file is loaded with ruamel.yaml's round-trip loader (quotes kept, the file's own
  indentation guessed with ``load_yaml_guess_indent``, no line wrapping), the same structural changes
  are applied to its documents, and it is dumped again.

Per method it counts the original lines that are no longer in the output (a line the fix meant to
change counts too, so the splice's figure is the floor), the lines added, the comment lines lost,
files whose output does not read back as the fixed objects, and files that could not be written at all.
"""

from __future__ import annotations

import argparse
import difflib
import io
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.util import load_yaml_guess_indent

from kharden import _pointer
from kharden._yaml import iter_documents
from kharden.fix import FixOptions, plan_fixes
from kharden.fix._text import changes, same

ROOT = Path(__file__).resolve().parent.parent


def _ruamel(text: str, edits: list[tuple[int, str, dict[str, Any], dict[str, Any]]]) -> str:
    # The guess reads one document: take the most common guess over the file's documents.
    guesses: Counter[tuple[int, int]] = Counter()
    for chunk in re.split(r"(?m)^---.*$", text):
        try:
            _, indent, offset = load_yaml_guess_indent(chunk)
        except Exception:  # noqa: BLE001 - a chunk that is not a document on its own
            continue
        if indent is not None:
            guesses[(indent, offset or 0)] += 1
    indent, offset = guesses.most_common(1)[0][0] if guesses else (2, 0)
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 1 << 16
    yaml.indent(mapping=indent or 2, sequence=(indent or 2) + (offset or 0), offset=offset or 0)
    documents = list(yaml.load_all(text))
    for index, pointer, before, after in edits:
        root = documents[index]
        for op, where, value in changes(before, after):
            _apply(root, pointer + where, op, value)
    out = io.StringIO()
    yaml.dump_all(documents, out)
    return out.getvalue()


def _apply(root: Any, pointer: str, op: str, value: Any) -> None:
    tokens = _pointer.split(pointer)
    node = root
    for token in tokens[:-1] if op in {"remove", "add", "replace"} else tokens:
        node = node[int(token)] if isinstance(node, list) else node[token]
    if op == "append":
        node.extend(value)
    elif op == "remove-items":
        for index in sorted(value, reverse=True):
            del node[index]
    elif op == "remove":
        del node[int(tokens[-1]) if isinstance(node, list) else tokens[-1]]
    elif not tokens:
        raise ValueError("replacing a whole document")
    else:
        key: Any = int(tokens[-1]) if isinstance(node, list) else tokens[-1]
        node[key] = value


def _objects_equal(text: str, path: str, expected: list[tuple[int, str, dict[str, Any]]]) -> bool:
    documents = list(iter_documents(text.encode("utf-8"), path))
    for index, pointer, fixed in expected:
        node: Any = documents[index].data
        for token in _pointer.split(pointer):
            node = node[int(token)] if isinstance(node, list) else node[token]
        if not same(node, fixed):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus" / "real"))
    parser.add_argument("--unsafe", action="store_true")
    args = parser.parse_args()
    from kharden.fix import _apply as apply_module  # noqa: PLC0415

    # The objects kharden changes, with their documents: reuse the planner and record what it spliced.
    recorded: dict[str, list[tuple[int, str, dict[str, Any], dict[str, Any]]]] = {}
    splice = apply_module._splice

    def record(path: str, text: str, members: list[Any]) -> Any:
        recorded[path] = [(s.document, s.pointer, dict(p.obj.raw), p.fixed) for p, s in members]
        return splice(path, text, members)

    apply_module._splice = record  # type: ignore[assignment]
    result = plan_fixes([args.corpus], FixOptions(unsafe=args.unsafe))
    totals: dict[str, Counter[str]] = {"splice": Counter(), "ruamel": Counter()}
    for fix in result.files:
        if fix.before == fix.after or fix.path not in recorded:
            continue
        edits = recorded[fix.path]
        outputs = {"splice": fix.after}
        try:
            outputs["ruamel"] = _ruamel(fix.before, edits)
        except Exception as e:  # noqa: BLE001 - a measurement: count what ruamel cannot do
            totals["ruamel"]["files not written"] += 1
            print(f"ruamel: {fix.path}: {type(e).__name__}: {str(e)[:100]}", file=sys.stderr)
        original = fix.before.splitlines()
        comments = Counter(line for line in original if line.lstrip().startswith("#"))
        for method, text in outputs.items():
            lines = text.splitlines()
            diff = list(difflib.unified_diff(original, lines, lineterm="", n=0))
            totals[method]["files"] += 1
            totals[method]["original lines changed or removed"] += sum(
                1 for d in diff if d.startswith("-") and not d.startswith("---")
            )
            totals[method]["lines added"] += sum(
                1 for d in diff if d.startswith("+") and not d.startswith("+++")
            )
            kept = Counter(line for line in lines if line.lstrip().startswith("#"))
            totals[method]["comment lines lost"] += sum((comments - kept).values())
            if not _objects_equal(text, fix.path, [(d, p, f) for d, p, _, f in edits]):
                totals[method]["files not reading as the fixed objects"] += 1
    lines = sum(len(f.before.splitlines()) for f in result.files if f.path in recorded)
    flag = " --unsafe" if args.unsafe else ""
    print(f"{totals['splice']['files']} files changed by kharden fix{flag}, {lines} lines")
    keys = [
        "original lines changed or removed",
        "lines added",
        "comment lines lost",
        "files not reading as the fixed objects",
        "files not written",
    ]
    print(f"{'':<42}{'splice':>10}{'ruamel':>10}")
    for key in keys:
        print(f"{key:<42}{totals['splice'][key]:>10}{totals['ruamel'][key]:>10}")


if __name__ == "__main__":
    main()
