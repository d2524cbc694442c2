"""`python -m simulators.compile`: compile the simulator's hot modules with mypyc, in place
(what `make install` runs; simulators/native.py and iiot/native.py say why and how they are
chosen at import). `--status` prints which simulator this interpreter runs: compiled or pure
Python, and why.
"""

import sys

from simulators.native import SIMULATOR

if __name__ == "__main__":
    SIMULATOR.main(sys.argv[1:])
