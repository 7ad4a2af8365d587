"""``python -m dagron``: the ``dagron-trace`` command line."""

import sys

from dagron.cli import main

sys.exit(main())
