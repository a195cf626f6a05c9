#!/usr/bin/env python3
"""SANDHOOK_CAPTURE_DIR under a flood of forged requests: the folder never
passes SANDHOOK_CAPTURE_MAX_MB and the oldest captures go first.  Through
nginx and the FastCGI responder, four clients at once."""
import os
import threading
import time

from harness import Checks, FcgiPool, Nginx, Scenario, final_checks, write_config

t = Checks()
MB = 1 << 20
with Scenario() as sc:
    cap_dir = os.path.join(sc.tmp, "capture")
    cfg, state = write_config(sc.tmp, sc.fake.url, SANDHOOK_CAPTURE_DIR=cap_dir, SANDHOOK_CAPTURE_MAX_MB=5)
    pool = sc.add(FcgiPool(sc.tmp, cfg))
    web = sc.add(Nginx(sc.tmp, pool.sock))
    statuses, peak, when = [], [0], {}

    def folder_bytes():
        try:
            return sum(os.path.getsize(os.path.join(cap_dir, n)) for n in os.listdir(cap_dir)
                       if not n.startswith("."))
        except FileNotFoundError:
            return 0

    def client(k):
        for i in range(8):
            body = (b"%d-%d-" % (k, i)).ljust(MB - 4096, b"x")
            hdrs = {"webhook-id": "whe_%d_%d" % (k, i), "webhook-timestamp": str(int(time.time())),
                    "webhook-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
            sent = time.monotonic()
            statuses.append(web.post("/hooks/sandhook", body, hdrs)[0])
            when[b"%d-%d" % (k, i)] = (sent, time.monotonic())
            peak[0] = max(peak[0], folder_bytes())

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    t.eq(sorted(set(statuses)), [401], "32 forged 1 MiB posts are all answered 401")
    total = folder_bytes()
    t.ok(total <= 5 * MB and peak[0] <= 5 * MB,
         "the folder stayed under SANDHOOK_CAPTURE_MAX_MB (%d bytes at the end, %d at the peak)" %
         (total, peak[0]))
    names = [n for n in os.listdir(cap_dir) if n.endswith(".http")]
    t.ok(4 <= len(names) <= 5, "it holds the newest captures that fit (%d)" % len(names))
    kept = [open(os.path.join(cap_dir, n), "rb").read().split(b"\r\n\r\n", 1)[1].split(b"-")
            for n in names]
    kept = [b"%s-%s" % (k[0], k[1]) for k in kept]
    dropped = [k for k in when if k not in kept]
    # Oldest first: no dropped capture was sent after a kept one was
    # answered (the four clients run at once, so sequence numbers alone
    # do not order them).
    t.ok(kept and dropped and max(when[k][0] for k in dropped) < min(when[k][1] for k in kept),
         "the oldest were dropped first", (sorted(kept), len(dropped)))
    err = os.path.join(sc.tmp, "fcgi.err")
    log = open(err).read()
    t.ok("event=capture_failed" not in log, "no capture failed while room could be made", log[-500:])
    final_checks(t, sc.fake, err)
t.done()
