"""`python -m callcenter ...`: the same command line as the `callcenter` script."""

import sys

from callcenter.cli import main

if __name__ == "__main__":
    sys.exit(main())
