#!/usr/bin/env python
"""Train a free network with the smart random walk: ``rlfree train``, as a script.

    python scripts/train.py --help

The command lives in :mod:`rlfree.commands.train`; this file keeps ``python scripts/train.py ...``
working from a clone exactly as ``rlfree train ...`` does from any folder.
"""

import sys

from rlfree.commands.train import main

if __name__ == "__main__":
    sys.exit(main(prog="train.py"))
