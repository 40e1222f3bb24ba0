"""A ValidatingAdmissionPolicy evaluated as the API server does, with cel-expr-python.

The API server binds ``object``, ``oldObject``, ``request``, ``params`` and ``variables`` (each variable
evaluated in order, the later ones seeing the earlier), evaluates every validation, and for a failing
one its ``messageExpression``. cel-expr-python runs Google's CEL C++ runtime with the strings extension
that Kubernetes also enables; a runtime error of any expression fails the test (the API server would
apply the failure policy: deny).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_strings

ENV = cel.NewEnv(
    variables=dict.fromkeys(("object", "oldObject", "request", "params", "variables"), cel.Type.DYN),
    extensions=[ext_strings.ExtStrings()],
)


class CelError(AssertionError):
    """An expression of the policy failed at run time."""


def _run(program: Any, data: dict[str, Any], what: str) -> Any:
    result = program.eval(data=data)
    if result.type() == cel.Type.ERROR:
        raise CelError(f"{what}: {result.value()}")
    return result.value()


def _plain(value: Any) -> Any:
    """A CEL value as plain Python (maps and lists of cel values become dicts and lists)."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "value") and callable(value.value):
        return _plain(value.value())
    return value


@dataclass
class Failure:
    index: int
    message: str | None
    """The messageExpression's result (``None`` when the policy has none)."""


class Policy:
    """One compiled policy."""

    def __init__(self, policy: dict[str, Any]) -> None:
        spec = policy["spec"]
        self.variables = [(v["name"], ENV.compile(v["expression"])) for v in spec.get("variables", [])]
        self.validations = [
            (
                ENV.compile(v["expression"]),
                ENV.compile(v["messageExpression"]) if "messageExpression" in v else None,
            )
            for v in spec["validations"]
        ]
        for program, message in self.validations:
            assert program.return_type() == cel.Type.BOOL
            assert message is None or message.return_type() in (cel.Type.STRING, cel.Type.DYN)

    def evaluate(
        self,
        obj: dict[str, Any],
        params: dict[str, Any] | None = None,
        *,
        operation: str = "CREATE",
        old: dict[str, Any] | None = None,
    ) -> list[Failure]:
        """The validations ``obj`` fails, with their messages."""
        data: dict[str, Any] = {
            "object": obj,
            "oldObject": old,
            "request": {"operation": operation, "kind": {"kind": obj.get("kind")}},
            "params": params if params is not None else {"data": {}},
            "variables": {},
        }
        bound: dict[str, Any] = {}
        for name, program in self.variables:
            data["variables"] = bound
            bound = {**bound, name: _plain(_run(program, data, f"variable {name}"))}
        data["variables"] = bound
        failures = []
        for index, (program, message) in enumerate(self.validations):
            if _run(program, data, f"validation {index}") is True:
                continue
            text = _run(message, data, f"messageExpression {index}") if message is not None else None
            failures.append(Failure(index, text))
        return failures
