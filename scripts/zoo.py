#!/usr/bin/env python
"""Retrain every preset for several seeds and tabulate how fast each is solved (and, with --compare, PPO and ARS): ``rlfree zoo``, as a script.

    python scripts/zoo.py --help

The command lives in :mod:`rlfree.commands.zoo`; this file keeps ``python scripts/zoo.py ...``
working from a clone exactly as ``rlfree zoo ...`` does from any folder.
"""

import sys

from rlfree.commands.zoo import main

if __name__ == "__main__":
    sys.exit(main(prog="zoo.py"))
