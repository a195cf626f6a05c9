#!/usr/bin/env python3
"""CGI cost: one verified delivery through sandhook as a CGI program
(process start to exit), beside /bin/true through the same driver, in one
run, interleaved.  Each delivery is unique and signed, a
session.status_idled (verified, recorded as seen, answered 200, nothing
drained).  Run from a built tree:

    python3 bench/cgi.py [iterations]

The issue's goal: a CGI request costs at most twice /bin/true.
"""
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from harness import SANDHOOK, cgi_env, free_tmp, sign, write_config  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 300


def main():
    tmp = free_tmp("sandhook-bench-")
    cfg, _ = write_config(tmp, "http://127.0.0.1:9")
    true, cgi = [], []
    for i in range(N):
        msg = "whe_bench_%d_%s" % (i, os.urandom(4).hex())
        body = json.dumps({"type": "event", "id": msg, "created_at": "2026-12-03T00:00:00Z",
                           "data": {"type": "session.status_idled", "id": "sesn_bench"}}).encode()
        env = cgi_env(cfg, body, sign(body, msg))
        t0 = time.perf_counter()
        subprocess.run(["/bin/true"], input=body, env=env, capture_output=True)
        true.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        p = subprocess.run([SANDHOOK], input=body, env=env, capture_output=True)
        cgi.append(time.perf_counter() - t0)
        if b"Status: 200" not in p.stdout:
            sys.exit("bench: the delivery was not answered 200: %r" % p.stdout[:200])
    mt, mc = statistics.median(true), statistics.median(cgi)
    print("CGI request, %d each, interleaved" % N)
    print("  /bin/true          median %.2f ms" % (mt * 1e3))
    print("  sandhook (CGI)     median %.2f ms" % (mc * 1e3))
    print("  ratio              %.2f   (goal: at most 2)" % (mc / mt))


if __name__ == "__main__":
    main()
