"""``python -m mote_lib.train``: the command line (``mote_lib.train.cli``); a mistake is refused before torch loads."""

from mote_lib.train.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
