"""Text taken from input, made safe to show: control characters escaped, URL credentials redacted.

Object names, namespaces, file names, ignore reasons and a snapshot's header strings are written
by whoever wrote the manifests, the node disk or the cluster. Printed raw they could clear the
terminal (``ESC [2J``), set its title (OSC), move the cursor (C1 ``CSI``), or start a new line
that looks like one of kharden's own (``kharden: error: ...``). Every text destination (the
text report, stderr, Markdown table cells) passes such strings through :func:`printable`.

File names that are not UTF-8 reach Python as lone surrogates (``surrogateescape``), which no
encoder accepts: :func:`printable` shows them as the bytes they were (``\\xff``); in the structured
formats (JSON, SARIF, XML, YAML, HTML) :func:`without_surrogates` makes them U+FFFD, the one
replacement that needs no escaping in any of them.
"""

from __future__ import annotations

import re
import sys

__all__ = ["printable", "say", "without_surrogates", "without_userinfo"]

# C0 controls (tab and line feed included: one finding is one line), DEL, C1 controls (NEL too),
# the Unicode line and paragraph separators, the bidirectional overrides and isolates that
# reorder what a terminal shows ("Trojan Source"), and lone surrogates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_SURROGATE = re.compile("[\ud800-\udfff]")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` on one line with nothing a terminal would act on: controls escaped as ``\\x1b``,
    ``\\n``, ``\\u202e``; a byte of a non-UTF-8 file name as ``\\xff``."""
    if text.isascii() and text.isprintable():
        return text  # the common case, tested in C
    return _UNSAFE.sub(_escape, text)


def say(line: str) -> None:
    """Write ``line`` to stderr as one line, what came from input escaped (nothing when stderr is closed)."""
    if sys.stderr is not None:
        print(printable(line), file=sys.stderr, flush=True)


def without_surrogates(text: str) -> str:
    """``text`` encodable as UTF-8 wherever it stands: lone surrogates (bytes of a non-UTF-8 file name,
    a ``\\udcff`` escape in a manifest) become U+FFFD."""
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


def without_userinfo(text: str) -> str:
    """``text`` with the user and password of every URL in it replaced by ``***``.

    ``https://admin:s3cret@10.0.0.1:6443`` becomes ``https://***@10.0.0.1:6443``; the rest of
    the URL (scheme, host, port, path) stays, since that is what tells the user which server.
    """
    if "@" not in text:
        return text
    return _USERINFO.sub(r"\1***@", text)
