"""``python -m mldyn ...``: the same as the ``mldyn`` command."""
import sys

from .cli import main

sys.exit(main())
