#!/usr/bin/env python3
"""Behind a real nginx as a CGI program through fcgiwrap, with the shipped
location snippet: the POST returns while the session runs (the CGI process
lets go of stdout and stderr), and the every-tool session is served."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Checks, Fake, Fcgiwrap, Nginx, free_tmp, need_root, run_every_tool,
                     run_started, final_checks, wait_for, write_config)

need_root()
t = Checks()
tmp = free_tmp()
fake = Fake(tmp)
wrap = web = None
try:
    cfg, state = write_config(tmp, fake.url)
    wrap = Fcgiwrap(tmp)
    web = Nginx(tmp, wrap.sock, config=cfg)
    st, body, dt, h = web.post("/hooks/sandhook", None, {}, method="GET")
    t.eq(st, 405, "GET is 405")
    sid = fake.session([{"tool": "bash", "input": {"command": "sleep 2; echo via-cgi"}}])["session_id"]
    body, hdrs = run_started(sid)
    st, payload, dt, h = web.post("/hooks/sandhook", body, hdrs)
    t.eq(st, 202, "run_started through nginx and fcgiwrap is 202")
    t.ok(dt < 1.5, "the POST returned in %.2fs" % dt)
    t.ok(not fake.state(sid)["finished"], "while the session it started was still running")
    wait_for(lambda: fake.state(sid)["status"] == "terminated" and
             all(w["state"] == "stopped" for w in fake.work()), 30, 0.1, "the session")
    t.eq([r["content"][0]["text"] for r in fake.state(sid)["results"].values()], ["via-cgi"],
         "the session ran to the end")
    run_every_tool(t, fake, state, lambda b, h: web.post("/hooks/sandhook", b, h)[0],
                   "through nginx and fcgiwrap")
    final_checks(t, fake, os.path.join(state, "sandhook.log"), os.path.join(tmp, "fcgiwrap.err"))
finally:
    if web:
        web.stop()
    if wrap:
        wrap.stop()
    fake.stop()
t.done()
