"""Adapters: real devices into the pipeline by mapping files, not code (docs/integrating.md).

A mapping file (`mapping.py`) says, per device, where its state, counters, ideal cycle time
and metrics come from on one protocol; a source (one module per protocol) reads them and
hands raw values to `assemble.py`, which makes a reading of the contract; `runner.py` sends
the readings through the Publisher (spool, seqs, edge validation, dead letters).
"""
