"""``python -m mote_lib.evaluate``: see ``mote_lib.evaluate.cli``."""

from mote_lib.evaluate.cli import main

raise SystemExit(main())
