#!/usr/bin/env python
"""Play episodes of a trained agent: in a window, as text, recorded to a GIF/MP4, or just scored: ``rlfree watch``, as a script.

    python scripts/watch.py --help

The command lives in :mod:`rlfree.commands.watch`; this file keeps ``python scripts/watch.py ...``
working from a clone exactly as ``rlfree watch ...`` does from any folder.
"""

import sys

from rlfree.commands.watch import main

if __name__ == "__main__":
    sys.exit(main(prog="watch.py"))
