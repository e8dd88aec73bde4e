"""Run the benchmark suite: ``python benchmarks/run.py [--threads N] [--json PATH]``.

The same as ``python -m spatial_dropout bench``; results of a recorded run are in RESULTS.md.
"""

import sys

from spatial_dropout.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
