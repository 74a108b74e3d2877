"""Writing result files (metrics, lineage tables) atomically: a crash leaves the old file or the new one."""

import csv
import os
import tempfile


def write_csv(path, fields, rows):
    """Write ``rows`` (dicts) as CSV with the columns ``fields``; a missing or None value is an
    empty cell, keys not in ``fields`` are left out."""
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".tmp-", suffix=".csv")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in fields})
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
