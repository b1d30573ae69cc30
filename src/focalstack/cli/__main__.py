"""``python -m focalstack.cli``: the same as the ``focalstack`` command."""

import sys

from . import main

sys.exit(main())
