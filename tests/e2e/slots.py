#!/usr/bin/env python3
"""Drainer slots: with SANDHOOK_MAX_SESSIONS=1 a webhook that finds the only
slot taken starts nothing, yet its session still runs, because the busy
drainer polls again before it exits."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Checks, Fake, cgi, drainer_log, free_tmp, need_root, run_started,
                     final_checks, until, wait_for, write_config)

need_root()
t = Checks()
tmp = free_tmp()
fake = Fake(tmp)
try:
    cfg, state = write_config(tmp, fake.url, SANDHOOK_MAX_SESSIONS=1, SANDHOOK_DEBUG=1)
    a = fake.session([{"tool": "bash", "input": {"command": "sleep 2; echo A"}}])["session_id"]
    body, hdrs = run_started(a)
    t.eq(cgi(cfg, body, hdrs)[0], 202, "webhook A accepted")
    wait_for(lambda: any(e["type"] == "agent.tool_use" for e in fake.state(a)["events"]),
             20, 0.05, "A's call to start")
    b = fake.session([{"tool": "bash", "input": {"command": "echo B"}}])["session_id"]
    body, hdrs = run_started(b)
    st, _, _, _, err = cgi(cfg, body, hdrs)
    t.eq(st, 202, "webhook B accepted while A holds the only slot")
    t.ok("event=drain_wake_only drainers=1" in err,
         "B's webhook started no drainer: the slot's drainer is alive, and polls again", err[-800:])
    wait_for(lambda: fake.state(b)["results"] and all(w["state"] == "stopped" for w in fake.work()),
             40, 0.1, "both sessions")
    t.eq([r["content"][0]["text"] for r in fake.state(a)["results"].values()], ["A"], "A ran")
    t.eq([r["content"][0]["text"] for r in fake.state(b)["results"].values()], ["B"],
         "B ran too, on A's drainer")
    started = drainer_log(state).count("event=drain_started")
    t.eq(started, 1, "only one drainer ever held a slot")
    final_checks(t, fake, os.path.join(state, "sandhook.log"))
finally:
    fake.stop()
t.done()
