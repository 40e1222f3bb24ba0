"""Types of the C reader, ``_yamlc.c``."""

from collections.abc import Callable, Sequence
from typing import Any

SLOTS_SHIFT: int
LINE_SHIFT: int
LIBYAML: str

class Reader:
    def __init__(
        self,
        text: bytes,
        cache: dict[str, Any],
        plain: Callable[[str], Any],
        typed: Callable[[str, str], Any],
        key_text: Callable[[Any], str],
        unusual: type[Exception],
        *,
        ahead: bool = False,
    ) -> None: ...
    def next(self) -> tuple[Any, bytes | None, int, int, int] | None: ...

def trace_packed(
    root: Any,
    pointer: str,
    packed: Sequence[int],
    offset: int,
    item_name: Callable[[list[Any], int, str], str],
) -> tuple[int | None, str] | None: ...

class Shared:
    def share(self, root: Any, /) -> None: ...
    def __len__(self) -> int: ...
