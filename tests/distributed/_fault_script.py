"""Run by tests/distributed/test_faults.py on 2 processes: rank VICTIM raises, is killed, or hangs.

argv: backend mode victim timeout. Every rank prints its pid; the victim prints the moment of its fault.
"""

import os
import signal
import sys
import time

import glassgrad as gg
import glassgrad.distributed as dist

backend, mode, victim, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
dist.init_process_group(backend, timeout=timeout)
rank = dist.get_rank()
print(f"rank {rank} pid {os.getpid()}", flush=True)
t = gg.ones(1000)
for step in range(10_000):
    if step == 20 and rank == victim:
        print(f"fault at {time.time():.3f}", flush=True)
        if mode == "raise":
            raise ValueError("boom on purpose")
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "hang":
            time.sleep(timeout + 3)
    dist.all_reduce(t)
    time.sleep(0.005)
print("no fault happened", flush=True)
