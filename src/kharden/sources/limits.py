"""How much reading files may take: bytes per file, and the memory of the processes that parse them.

A module of constants only, so that the command line can state them in ``--help`` without loading
the parsers.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_FILE_BYTES"]

DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
"""Files larger than this are refused before they are read (``--max-file-size``)."""
