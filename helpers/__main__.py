"""``python -m helpers``: the command line (:mod:`helpers.cli`)."""

import gc
import sys

# Importing Ibis, sqlglot, pandas and pydantic makes some 100,000 objects that live as long
# as the process. Every full collection would walk them all again, and the interpreter's exit
# once more: 0.3-0.5 s of a short run. So import without the cyclic collector, then freeze
# what the imports made (gc.freeze: the collector skips those objects from then on).
gc.disable()
from helpers.cli import main  # noqa: E402

gc.freeze()
gc.enable()

code = main()
# The run is over and its files are written and closed; atexit handlers still run (the spill
# directory is removed), and objects are still freed as their references go.
gc.freeze()
sys.exit(code)
