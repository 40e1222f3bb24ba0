"""Reading the small files kharden itself is given: config, baseline, image scan reports."""

from __future__ import annotations

from ._yaml import Document, iter_documents
from .errors import ConfigError, InputError

__all__ = ["read_config_documents", "read_limited"]


def read_limited(path: str, limit: int, what: str, error: type[InputError] = InputError) -> bytes:
    """The bytes of ``path``; a file unreadable or larger than ``limit`` is ``error``, naming ``what``."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(limit + 1)
    except OSError as e:
        raise error(f"cannot read {what}: {e.strerror}", file=path) from e
    if len(data) > limit:
        raise error(f"{what} larger than {limit // 1048576} MiB", file=path)
    return data


def read_config_documents(path: str, limit: int, what: str) -> list[Document]:
    """The non-empty YAML (or JSON) documents of a config-like file; any problem is a :class:`ConfigError`."""
    text = read_limited(path, limit, what, ConfigError)
    try:
        return [d for d in iter_documents(text, path) if d.data is not None]
    except InputError as e:
        raise ConfigError(e.message, file=path, line=e.line) from e
