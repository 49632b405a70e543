"""``python -m rlfree train ...``: the same as the ``rlfree`` command."""

import sys

from rlfree.commands import main

sys.exit(main())
