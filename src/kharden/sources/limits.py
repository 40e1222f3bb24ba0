"""How much reading files may take: bytes per file, and the memory of the processes that parse them.

A module of constants only, so that the command line can state them in ``--help`` without loading
the parsers.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_FILE_BYTES", "MAX_JOBS_PER_CPU", "WORKER_AHEAD_BYTES", "WORKER_CHUNK_BYTES"]

DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
"""Files larger than this are refused before they are read (``--max-file-size``)."""

WORKER_CHUNK_BYTES = 1024 * 1024
"""A worker process sends the documents it parses back in pickles of about this size (one document more
when a single document is larger): it never holds more than one chunk of them."""

WORKER_AHEAD_BYTES = 32 * 1024 * 1024
"""The main process keeps at most this much of what workers send for files after the one it is adding;
past it, those workers wait."""

MAX_JOBS_PER_CPU = 2
"""``--jobs`` starts at most this many worker processes per available CPU (and never more than files)."""
