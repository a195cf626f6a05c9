#!/usr/bin/env python3
"""sandhook as a FastCGI responder (spawn-fcgi, cgi-fcgi): verification
answers, and a session driven to the end while the responder keeps
accepting."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Checks, FcgiPool, Scenario, delivery, final_checks, gated, need_root, release,
                     run_every_tool, run_started, wait_for, write_config)

need_root()
t = Checks()
with Scenario() as sc:
    tmp, fake = sc.tmp, sc.fake
    cfg, state = write_config(tmp, fake.url)
    pool = sc.add(FcgiPool(tmp, cfg))
    st, body, dt = pool.post(b"", {}, method="GET")
    t.eq(st, 405, "GET over FastCGI is 405")
    st, body, dt = pool.post(b"{}", {"webhook-id": "whe_1", "webhook-timestamp": "1",
                                    "webhook-signature": "v1,AAAA"})
    t.eq(st, 401, "a stale, badly signed delivery is 401")

    sid = fake.session([{"tool": "bash", "input": {"command": gated("fcgi_gate", "from-fcgi")}},
                        {"tool": "read", "input": {"file_path": "missing.txt"}}])["session_id"]
    body, hdrs = run_started(sid)
    st, payload, dt = pool.post(body, hdrs)
    t.eq(st, 202, "run_started over FastCGI is 202 (in %.2fs)" % dt)
    t.ok(not fake.state(sid)["results"], "answered while the session ran")
    # The responder is free at once: the next request is served while the
    # session still runs.
    st, payload, dt = pool.post(*delivery("session.status_idled", sid, "whe_idle_f"))
    t.eq(st, 200, "the responder serves the next request meanwhile")
    t.ok(not fake.state(sid)["finished"], "while the session is still running")
    release("fcgi_gate")
    wait_for(lambda: fake.state(sid)["status"] == "terminated" and
             all(w["state"] == "stopped" for w in fake.work()), 30, 0.1, "the session")
    res = [r["content"][0]["text"] for r in fake.state(sid)["results"].values()]
    t.eq(res, ["from-fcgi", "read: missing.txt: no such file or directory"], "the session's results")
    t.ok(pool.proc.poll() is None, "the FastCGI responder is still running")
    run_every_tool(t, fake, state, lambda b, h: pool.post(b, h)[0], "over FastCGI")
    final_checks(t, fake, os.path.join(state, "sandhook.log"), os.path.join(tmp, "fcgi.err"))
t.done()
