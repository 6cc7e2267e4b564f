"""``python -m fastport`` is the ``fastport`` command."""

import sys

from .cli import main

sys.exit(main())
