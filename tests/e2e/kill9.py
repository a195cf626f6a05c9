#!/usr/bin/env python3
"""kill -9 in the middle of a tool call, through nginx and the FastCGI
responder, with a single drainer slot.

- The drainer killed: every process of its jail dies with it, its slot is
  free again, and the next webhook's drainer, even one that comes before
  the dead drainer's lease lapses, reclaims the item and runs the
  interrupted call, which is answered exactly once.
- The jail helper killed: the call gets one error result, and the next call
  runs in a fresh jail.
"""
import os
import signal

from harness import (Checks, Scenario, final_checks, jail_procs, nginx_front, once, run_started, tagged,
                     until, wait_for)

t = Checks()


def tool_calls(log, sid):
    try:
        return [l for l in open(log).read().splitlines()
                if "event=tool_call " in l and "session_id=" + sid in l]
    except OSError:
        return []


with Scenario() as sc:
    web, state, log = nginx_front(sc, SANDHOOK_IDLE_TIMEOUT_MS=2000, SANDHOOK_MAX_SESSIONS=1)
    sc.fake.call("POST", "/_fake/config", {"ttl": 3})

    def deliver(sid):
        body, hdrs = run_started(sid)
        return web.post("/hooks/sandhook", body, hdrs)[0]

    # The drainer killed mid-call.
    sid = sc.fake.session([{"tool": "bash", "input": {"command": once("kill9_running")}}])["session_id"]
    t.eq(deliver(sid), 202, "drainer: run_started accepted")
    line = wait_for(lambda: tool_calls(log, sid), 60, 0.1, "the call to start")[-1]
    drainer = int(line.split(" pid=")[1].split()[0])
    t.ok(until(lambda: tagged("kill9_running"), 60, 0.1), "drainer: its jail runs the call")
    os.kill(drainer, signal.SIGKILL)
    t.ok(until(lambda: not jail_procs(state) and not tagged("kill9_running"), 30, 0.1),
         "drainer: no jail process survives it")
    t.eq(sc.fake.state(sid)["results"], {}, "drainer: nothing was posted for the interrupted call")
    # The next webhook comes at once, while the dead drainer's lease still
    # holds: the drainer it wakes, which can only run if the dead one's
    # slot is free, keeps polling until that lease must have lapsed.
    t.eq(deliver(sid), 202, "drainer: the next webhook accepted")
    t.ok(until(lambda: len(sc.fake.state(sid)["results"]) == 1 and
               all(w["state"] == "stopped" for w in sc.fake.work()), 90, 0.2),
         "drainer: a new drainer took the slot, reclaimed the item and answered the call",
         "\n".join(open(log).read().splitlines()[-25:]))
    results = list(sc.fake.state(sid)["results"].values())
    t.eq([r["content"][0]["text"] for r in results], ["rerun"], "drainer: the call was answered exactly once")
    item = [w for w in sc.fake.work() if w["data"]["id"] == sid][0]
    t.eq(item["claims"], 2, "drainer: the same item was claimed twice")
    t.ok("event=orphan_claim" in open(log).read() and item["id"] in open(log).read(),
         "drainer: the dead drainer's claim was found and waited for")

    # The jail helper killed mid-call.
    sid2 = sc.fake.session([{"tool": "bash", "input": {"command": "while :; do sleep 0.1; done"}},
                            {"tool": "bash", "input": {"command": "echo fresh $(cat /proc/1/cmdline | tr '\\0' ' ')"}}]
                           )["session_id"]
    t.eq(deliver(sid2), 202, "helper: run_started accepted")
    wait_for(lambda: tool_calls(log, sid2), 60, 0.1, "the call to start")
    jails = wait_for(lambda: jail_procs(state), 30, 0.1, "the jail")
    outer = [p for p, pp in jails.items() if pp not in jails][0]
    os.kill(int(outer), signal.SIGKILL)
    t.ok(until(lambda: len(sc.fake.state(sid2)["results"]) == 2 and
               all(w["state"] == "stopped" for w in sc.fake.work()), 90, 0.2),
         "helper: both calls answered and the item stopped")
    by_cmd = {}
    for ev in sc.fake.state(sid2)["events"]:
        if ev.get("type") == "agent.tool_use":
            by_cmd[ev["id"]] = ev["input"]["command"]
    res = sc.fake.state(sid2)["results"]
    first = [r for k, r in res.items() if by_cmd.get(k, "").startswith("while")]
    second = [r for k, r in res.items() if by_cmd.get(k, "").startswith("echo fresh")]
    t.ok(len(first) == 1 and first[0]["is_error"] and "sandbox" in first[0]["content"][0]["text"],
         "helper: the killed call got one error result", repr(first))
    t.ok(len(second) == 1 and not second[0]["is_error"] and second[0]["content"][0]["text"].startswith("fresh"),
         "helper: the next call ran in a fresh jail", repr(second))
    final_checks(t, sc.fake, log, os.path.join(sc.tmp, "fcgi.err"))
t.done()
