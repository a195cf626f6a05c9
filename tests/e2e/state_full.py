#!/usr/bin/env python3
"""A full or read-only state directory: deliveries get a clear 503 (the
sender retries), with the reason in the log, and nothing is half-written;
once there is room again, the retried delivery is taken and its session
runs.  Through the CGI front end, with the state directory on a tmpfs of
its own; then a FastCGI responder, which looks at the filesystem once a
second, sees it fill and empty too."""
import os
import subprocess

from harness import (Checks, FcgiPool, Scenario, cgi, delivery, final_checks, need_root, run_started,
                     until, write_config)

need_root()
t = Checks()

with Scenario() as sc:
    cfg, state = write_config(sc.tmp, sc.fake.url, SANDHOOK_WORKSPACE_MB=0, SANDHOOK_IDLE_TIMEOUT_MS=2000)
    os.makedirs(state, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", state], check=True)
    try:
        sid = sc.fake.session([{"tool": "bash", "input": {"command": "echo ran"}}])["session_id"]
        body, hdrs = run_started(sid)

        def entries():
            out = []
            for d, _, files in os.walk(state):
                out += [os.path.join(d, f) for f in files]
            return sorted(out)

        filler = os.path.join(state, "filler")
        subprocess.run(["dd", "if=/dev/zero", "of=" + filler, "bs=1M", "count=64"], capture_output=True)
        before = entries()
        st, _, payload, _, err = cgi(cfg, body, hdrs)
        t.eq(st, 503, "a full state filesystem: the delivery is refused with 503")
        t.ok("full" in payload and "full" in err and "state_dir=" in err,
             "the answer and the log line say the state directory is full", payload + err)
        recent = os.path.join(state, "run", "recent")
        t.eq([e for e in entries() if e != recent], before,
             "nothing was written for it (no seen mark, no capture)")
        t.ok(not os.path.exists(recent) or open(recent).read() == "" or
             "filesystem is full" in open(recent).read(),
             "the only line it left, if there was room, is the error sandhook status shows")

        os.unlink(filler)
        subprocess.run(["mount", "-o", "remount,ro", state], check=True)
        st, _, payload, _, err = cgi(cfg, body, hdrs)
        t.eq(st, 503, "a read-only state filesystem: 503 too")
        t.ok("read-only" in payload and "read-only" in err, "and it says read-only", payload + err)
        subprocess.run(["mount", "-o", "remount,rw", state], check=True)

        st, _, payload, _, err = cgi(cfg, body, hdrs)
        t.eq(st, 202, "with room again, the sender's retry (same webhook-id) is taken")
        t.ok(until(lambda: [r["content"][0]["text"] for r in sc.fake.state(sid)["results"].values()] == ["ran"]
                   and all(w["state"] == "stopped" for w in sc.fake.work()), 60, 0.2),
             "and its session runs")

        pool = sc.add(FcgiPool(sc.tmp, cfg))

        def idled():
            return pool.post(*delivery("session.status_idled", sid))

        t.eq(idled()[0], 200, "a FastCGI responder on the same state directory takes a delivery")
        subprocess.run(["dd", "if=/dev/zero", "of=" + filler, "bs=1M", "count=64"], capture_output=True)
        refused = []
        t.ok(until(lambda: refused.append(idled()) or refused[-1][0] == 503, 20, 0.2),
             "  ...and once its filesystem is full, refuses them with 503",
             refused[-1:])
        t.ok("full" in refused[-1][1], "  ...saying the state directory is full", refused[-1][1])
        os.unlink(filler)
        t.ok(until(lambda: idled()[0] == 200, 20, 0.2), "  ...and takes them again once there is room")
        pool.stop()
        final_checks(t, sc.fake, os.path.join(state, "sandhook.log"))
    finally:
        subprocess.run(["umount", "-l", state])
t.done()
