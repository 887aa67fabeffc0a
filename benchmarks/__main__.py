"""``python -m benchmarks [--quick] [--out DIR]``: see benchmarks/suite.py."""

from benchmarks.suite import main

main()
