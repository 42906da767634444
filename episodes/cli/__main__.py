"""``python -m episodes.cli``: the same as ``shop-episodes``."""

import sys

from episodes.cli import main

sys.exit(main())
