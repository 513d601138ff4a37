"""``python -m mote_lib.lab.runner``: the command line (``mote_lib.lab.runner.cli``)."""

import sys

from mote_lib.lab.runner.cli import main

if __name__ == "__main__":
    sys.exit(main())
