"""``python -m scalinglaws_jax.cli``: the ``scalinglaws`` command."""

import sys

from . import main

sys.exit(main())
