#!/usr/bin/env python3
"""Behind a real Apache with mod_proxy_fcgi and the shipped example:
statuses pass through unchanged, never a 3xx, the POST returns while the
session runs, and the every-tool session is served."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Apache, Checks, Fake, FcgiPool, final_checks, free_tmp, need_root,
                     run_every_tool, run_started, sign, wait_for, write_config)

need_root()
t = Checks()
tmp = free_tmp()
fake = Fake(tmp)
pool = web = None
try:
    cfg, state = write_config(tmp, fake.url)
    pool = FcgiPool(tmp, cfg)
    web = Apache(tmp, pool.sock)
    st, body, dt, h = web.post("/hooks/sandhook", None, {}, method="GET")
    t.eq(st, 405, "GET on the webhook path is 405")
    for path in ("/hooks/sandhook/", "/hooks"):
        st, body, dt, h = web.post(path, b"{}", {"Content-Type": "application/json"})
        t.ok(not 300 <= st < 400, "%s answers %d, never a 3xx" % (path, st))
    big = b"x" * (1024 * 1024 + 10)
    st, body, dt, h = web.post("/hooks/sandhook", big, sign(big, "whe_big"))
    t.eq(st, 413, "a body over the cap is 413")
    idled = json.dumps({"type": "event", "id": "whe_a1", "created_at": "x",
                        "data": {"type": "session.status_idled", "id": "s"}}).encode()
    st, body, dt, h = web.post("/hooks/sandhook", idled, sign(idled, "whe_a1"))
    t.eq(st, 200, "a signed delivery passes through Apache and verifies")
    st, body, dt, h = web.post("/hooks/sandhook", idled, {"webhook-id": "whe_a2"})
    t.eq(st, 400, "missing signature headers are 400 through Apache")

    sid = fake.session([{"tool": "bash", "input": {"command": "sleep 2; echo via-apache"}}])["session_id"]
    body, hdrs = run_started(sid)
    st, payload, dt, h = web.post("/hooks/sandhook", body, hdrs)
    t.eq(st, 202, "run_started through Apache is 202")
    t.ok(dt < 1.5, "the POST returned in %.2fs" % dt)
    t.ok(not fake.state(sid)["finished"], "while the session it started was still running")
    wait_for(lambda: fake.state(sid)["status"] == "terminated" and
             all(w["state"] == "stopped" for w in fake.work()), 30, 0.1, "the session")
    t.eq([r["content"][0]["text"] for r in fake.state(sid)["results"].values()], ["via-apache"],
         "the session ran to the end after the response")
    run_every_tool(t, fake, state, lambda b, h: web.post("/hooks/sandhook", b, h)[0],
                   "through Apache")
    final_checks(t, fake, os.path.join(state, "sandhook.log"), os.path.join(tmp, "fcgi.err"))
finally:
    if web:
        web.stop()
    if pool:
        pool.stop()
    fake.stop()
t.done()
