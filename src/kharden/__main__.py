"""``python -m kharden``."""

from .cli import run

run()
