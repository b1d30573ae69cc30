"""``python -m focalstack`` (also ``torchrun -m focalstack train CONFIG.yaml``)."""

import sys

from .cli import main

sys.exit(main())
