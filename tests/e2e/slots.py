#!/usr/bin/env python3
"""Drainer slots: with SANDHOOK_MAX_SESSIONS=1 a webhook that comes while the
only slot is taken starts nothing: it rings the running drainer's doorbell,
and its session still runs, because the busy drainer polls again before it
exits.  The front locks the slot and hands it, and the doorbell, to the
drainer it starts, so two webhooks back to back start one drainer, not a
second that finds no slot, and that drainer's heartbeats keep their
connection from one item to the next."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (SANDHOOK, Checks, Fake, cgi, drainer_log, free_tmp, gated, need_root, release,
                     run_started, final_checks, until, wait_for, write_config)

DRAIN = os.path.join(os.path.dirname(SANDHOOK), "sandhook-drain")

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
    t.ok("event=drain_rung max_sessions=1" in err,
         "B's webhook started no drainer: it rang the running drainer's doorbell", err[-800:])
    wait_for(lambda: fake.state(b)["results"] and all(w["state"] == "stopped" for w in fake.work()),
             40, 0.1, "both sessions")
    t.eq([r["content"][0]["text"] for r in fake.state(a)["results"].values()], ["A"], "A ran")
    t.eq([r["content"][0]["text"] for r in fake.state(b)["results"].values()], ["B"],
         "B ran too, on A's drainer")
    started = drainer_log(state).count("event=drain_started")
    t.eq(started, 1, "only one drainer ever held a slot")

    # C's drainer cannot finish before the test lets its call go, so D's
    # webhook comes while the slot is held: by C's front, then C's drainer.
    wait_for(lambda: "event=drain_exit" in drainer_log(state), 20, 0.05, "the first drainer's exit")
    mark = len(drainer_log(state))
    tag = "slots_gate_" + os.urandom(4).hex()
    c = fake.session([{"tool": "bash", "input": {"command": gated(tag, "C")}}])["session_id"]
    d = fake.session([{"tool": "bash", "input": {"command": "echo D"}}])["session_id"]
    body, hdrs = run_started(c)
    t.eq(cgi(cfg, body, hdrs)[0], 202, "webhook C accepted")
    body, hdrs = run_started(d)
    st, _, _, _, err = cgi(cfg, body, hdrs)
    t.eq(st, 202, "webhook D accepted right after C's")
    t.ok("event=drain_rung max_sessions=1" in err,
         "D's webhook started no drainer: C's front had opened the doorbell for C's drainer", err[-800:])
    release(tag)
    wait_for(lambda: fake.state(d)["results"] and all(w["state"] == "stopped" for w in fake.work()),
             40, 0.1, "C and D")
    wait_for(lambda: "event=drain_exit" in drainer_log(state)[mark:], 20, 0.05, "C's drainer's exit")
    t.eq([r["content"][0]["text"] for r in fake.state(c)["results"].values()], ["C"], "C ran")
    t.eq([r["content"][0]["text"] for r in fake.state(d)["results"].values()], ["D"], "D ran")
    since = drainer_log(state)[mark:]
    t.eq((since.count("event=drain_slots_busy"), since.count("event=slot_handoff_ignored"),
          since.count("event=drain_exit")), (0, 0, 1),
         "one drainer, in the slot its front locked: none found the slot busy, none was refused it")
    # Its heartbeats have a handle of their own, kept from C to D: D's
    # first beat goes on C's connection (in production, no TLS handshake
    # a session), not on the polls' and not on a new one.
    works = {w["data"]["id"]: w["id"] for w in fake.work()}
    reqs = [r for r in fake.log()["requests"] if "path" in r]
    beats = [r["peer"] for s in (c, d) for r in reqs if r["path"].endswith("/%s/heartbeat" % works[s])]
    polls = {r["peer"] for r in reqs if r["path"].endswith("/work/poll")}
    t.ok(len(beats) >= 2 and len(set(beats)) == 1 and beats[0] not in polls,
         "C's and D's heartbeats went on one connection, kept between them, of their own", (beats, polls))

    # A slot descriptor that is not the slot named is refused, and the
    # drainer finds a slot of its own: no drainer serves in a slot it
    # does not hold.
    mark = len(drainer_log(state))
    wrong = os.open("/dev/null", os.O_RDONLY)
    os.dup2(wrong, 4, inheritable=True)
    e = fake.session([{"tool": "bash", "input": {"command": "echo E"}}])["session_id"]
    r = subprocess.run([DRAIN, "--config", cfg, "--slot", "0"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60, pass_fds=(4,))
    os.close(4)
    os.close(wrong)
    since = drainer_log(state)[mark:] + r.stderr
    t.ok(r.returncode == 0 and "event=slot_handoff_ignored slot=0 " in since and
         "event=drain_started worker_id=" in since and "slot=0" in since.split("event=drain_started")[1],
         "a descriptor that is not slot 0 is refused (slot_handoff_ignored) and the drainer locks slot 0 itself",
         since[-800:])
    t.eq([r["content"][0]["text"] for r in fake.state(e)["results"].values()], ["E"], "E ran")
    final_checks(t, fake, os.path.join(state, "sandhook.log"))
finally:
    fake.stop()
t.done()
