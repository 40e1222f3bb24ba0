"""Renderers: each turns a Report into text and decides nothing."""

from __future__ import annotations

from . import json, text

__all__ = ["FORMATS", "json", "text"]

FORMATS = ("text", "json")
