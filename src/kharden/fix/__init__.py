"""``kharden fix``: the finding becomes the change.

:func:`plan_fixes` reads what ``scan`` reads, judges it with the selected rules, and plans each
fixable finding's change (``_plan``). Plain YAML and JSON files are edited in place (``_text``:
only the spans that change); kustomizations get a JSON 6902 patch in the kustomization and an
entry in its ``patches:`` (``kustomize``); Helm charts get a values file proven by re-rendering
(``helm``). :func:`write_fixes` writes the result atomically; :func:`unified_diff` shows it.
"""

from __future__ import annotations

from ._apply import FileFix, FixOptions, FixResult, plan_edits, plan_fixes, unified_diff, write_fixes
from ._plan import Change, Edit, ObjectPlan

__all__ = [
    "Change",
    "Edit",
    "FileFix",
    "FixOptions",
    "FixResult",
    "ObjectPlan",
    "plan_edits",
    "plan_fixes",
    "unified_diff",
    "write_fixes",
]
