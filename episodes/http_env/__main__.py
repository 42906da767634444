"""``python -m episodes.http_env [options]``: the same as ``shop-episodes serve-env``."""

import sys

from episodes.http_env.cli import main

if __name__ == "__main__":
    sys.exit(main())
