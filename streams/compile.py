"""`python -m streams.compile`: compile the stream worker's per-sample modules with mypyc, in
place (what `make install` runs; iiot/native.py says why, which and how they are chosen at
import). `--status` prints which ones this interpreter runs: compiled or pure Python, and why.
"""

import sys

from iiot.native import STREAMS

if __name__ == "__main__":
    STREAMS.main(sys.argv[1:])
