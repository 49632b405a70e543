#!/usr/bin/env python
"""Speed of rlfree's batched evaluation, each figure beside a named alternative from the same run: ``rlfree bench``, as a script.

    python scripts/bench.py --help

The command lives in :mod:`rlfree.commands.bench`; this file keeps ``python scripts/bench.py ...``
working from a clone exactly as ``rlfree bench ...`` does from any folder.
"""

import sys

from rlfree.commands.bench import main

if __name__ == "__main__":
    sys.exit(main(prog="bench.py"))
