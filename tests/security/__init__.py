"""Hostile inputs and injected faults, one case per attack.

Each attack that glassgrad has been put through is a row in a parametrized table here (a hostile
file in ``test_hostile_datasets.py``, a hostile archive in ``test_archives.py``, a killed or stuck
worker in ``test_loader_faults.py``, ...): the next attack adds a row, not a file. Every case checks
that the input ends in one clear error naming the file (or the index, or the worker), in bounded
time, and that nothing is written outside the folder it was given.
"""
