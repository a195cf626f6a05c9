#!/usr/bin/env python3
"""The doorbell: a webhook that comes while a queue drainer runs rings it
instead of starting another drainer, and that drainer serves the session at
once, on one more slot (a thread of its own), while its first session still
runs, each jail with its own egress proxy.  Every line and audit line of each item names that item's own work
and session, whichever thread wrote it.  A ring that finds every slot
taken is not lost: a slot polls again before it lets go.  A doorbell that
is no FIFO is said in the log, and sessions still run."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Checks, Fake, cgi, drainer_log, free_tmp, gated, need_root, release, run_started,
                     final_checks, procs_of, tagged, wait_for, write_config)

need_root()
t = Checks()
tmp = free_tmp()
fake = Fake(tmp)
try:
    audit = os.path.join(tmp, "audit.jsonl")
    # Egress through the allowlist: each jail has a proxy of its own, with
    # its own socket, though two jails now have one drainer.
    cfg, state = write_config(tmp, fake.url, SANDHOOK_MAX_SESSIONS=2, SANDHOOK_DEBUG=1,
                              SANDHOOK_AUDIT_FILE=audit, SANDHOOK_JAIL_NETWORK="allowlist",
                              SANDHOOK_EGRESS_ALLOW="pypi.test")
    tags = {n: "bell_%s_%s" % (n, os.urandom(4).hex()) for n in "ABC"}
    sids = {n: fake.session([{"tool": "bash", "input": {"command": gated(tags[n], n)}}])["session_id"]
            for n in "ABC"}

    def tool_running(n):
        return wait_for(lambda: tagged(tags[n]), 30, 0.05, "%s's call to run" % n)

    st, _, _, _, err = cgi(cfg, *run_started(sids["A"]))
    t.eq(st, 202, "webhook A accepted; it starts a drainer")
    tool_running("A")
    drainers = procs_of(state, b"sandhook-drain")
    st, _, _, _, err = cgi(cfg, *run_started(sids["B"]))
    t.ok(st == 202 and "event=drain_rung max_sessions=2" in err,
         "webhook B, while A runs, rings the drainer's doorbell instead of starting one", err[-800:])
    tool_running("B")
    t.eq(procs_of(state, b"sandhook-drain"), drainers,
         "A's and B's calls run at once, in the one drainer A's webhook started")
    socks = sorted(f for f in os.listdir(os.path.join(state, "run")) if f.startswith("egress."))
    t.ok(len(socks) == 2 and len(procs_of(state, b"sandhook-egress")) == 2,
         "each of the two jails has its own egress proxy and socket", socks)
    log = drainer_log(state)
    t.ok(log.count("event=drain_started") == 1 and "event=slot_taken" in log and "reason=ring" in log,
         "one drainer start, and one more slot for the ring", log[-1500:])

    # Both slots busy: C's ring finds none free, yet C runs once A ends.
    st, _, _, _, err = cgi(cfg, *run_started(sids["C"]))
    t.ok(st == 202 and "event=drain_rung" in err, "webhook C rings too, with both slots taken", err[-800:])
    release(tags["A"])
    tool_running("C")
    release(tags["B"])
    release(tags["C"])
    wait_for(lambda: all(fake.state(sids[n])["results"] for n in "ABC") and
             all(w["state"] == "stopped" for w in fake.work()), 60, 0.1, "A, B and C")
    for n in "ABC":
        t.eq([r["content"][0]["text"] for r in fake.state(sids[n])["results"].values()], [n], n + " ran")
    wait_for(lambda: "event=drain_exit" in drainer_log(state) and not procs_of(state, b"sandhook-drain"),
             30, 0.05, "the drainer's exit")
    log = drainer_log(state)
    t.eq((log.count("event=drain_started"), log.count("event=drain_exit")), (1, 1),
         "the three sessions cost one drainer start")
    t.eq(fake.log()["max_active"], 2, "never more items held at once than SANDHOOK_MAX_SESSIONS")

    # Each line names its own item, whichever thread wrote it: the slot's,
    # its lease's, its stream's.
    work_of = {w["data"]["id"]: w["id"] for w in fake.work()}
    wrong = []
    for line in log.splitlines():
        w, s = re.search(r" work_id=(\S+)", line), re.search(r" session_id=(\S+)", line)
        if w and s and work_of.get(s.group(1)) != w.group(1):
            wrong.append(line)
    pairs = sum(1 for line in log.splitlines() if " work_id=" in line and " session_id=" in line)
    t.ok(pairs > 20 and not wrong, "every line's work id is its session's (%d lines)" % pairs, wrong[:3])
    calls = {}
    for n in "ABC":
        for e in fake.state(sids[n])["events"]:
            if e["type"] == "agent.tool_use":
                calls[e["id"]] = sids[n]
    with open(audit) as f:
        lines = [json.loads(x) for x in f if x.strip()]
    tool_lines = [x for x in lines if x.get("type") == "tool_call"]
    t.ok(len(tool_lines) == 3 and all(calls.get(x.get("tool_use_id")) == x.get("session_id") and
                                      work_of.get(x.get("session_id")) == x.get("work_id")
                                      for x in tool_lines),
         "each audit line of a call names the call's own session and work item", tool_lines)

    # A doorbell that is no FIFO: said, and the session still runs.
    bell = os.path.join(state, "run", "doorbell")
    os.unlink(bell)
    with open(bell, "w") as f:
        f.write("not a fifo\n")
    d = fake.session([{"tool": "bash", "input": {"command": "echo D"}}])["session_id"]
    st, _, _, _, err = cgi(cfg, *run_started(d))
    t.ok(st == 202 and "event=doorbell_unavailable" in err,
         "a doorbell that is no FIFO: the front says so (doorbell_unavailable)", err[-800:])
    wait_for(lambda: fake.state(d)["results"] and all(w["state"] == "stopped" for w in fake.work()),
             60, 0.1, "D")
    t.eq([r["content"][0]["text"] for r in fake.state(d)["results"].values()], ["D"], "D ran all the same")
    os.unlink(bell)
    final_checks(t, fake, os.path.join(state, "sandhook.log"))
finally:
    fake.stop()
t.done()
