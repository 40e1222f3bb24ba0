"""``python -m kharden``."""

import sys

from .cli import main

sys.exit(main())
