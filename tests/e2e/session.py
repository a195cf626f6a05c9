#!/usr/bin/env python3
"""Sessions end to end through the CGI front end and the real jail.

Every tool, the permission gate, custom and unowned tools left pending, a
non-zero exit, shell state across calls, a shell that exits while its
background job runs, a workspace kept across work items
of one session, a 5xx on post, a dropped stream, a lost lease and SIGTERM.
The fake control plane records every result; it must see exactly one per
executed call and no protocol violation.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (EVERY_TOOL, Checks, Fake, cgi, check_every_tool, drainer_log, free_tmp,
                     need_root, run_started, final_checks, until, wait_for, write_config)

need_root()
t = Checks()
tmp = free_tmp()
fake = Fake(tmp, ttl=4)


def results_by_command(sid):
    st = fake.state(sid)
    calls = {e["id"]: e for e in st["events"] if e["type"] == "agent.tool_use"}
    return st, calls, st["results"]


def text(res):
    return res["content"][0].get("text") if res["content"][0]["type"] == "text" else res["content"][0]


def start(sid, msg=None):
    body, hdrs = run_started(sid, msg)
    st, _, b, dt, err = cgi(cfg, body, hdrs)
    t.eq(st, 202, "run_started for %s answered 202" % sid)


def faulty_session(what, commands, **faults):
    """A session of bash commands, run to its end with the fake's faults
    armed: its id, and its results' texts."""
    fake.faults(**faults)
    sid = fake.session([{"tool": "bash", "input": {"command": c}} for c in commands])["session_id"]
    start(sid)
    wait_for(lambda: fake.state(sid)["status"] == "terminated" and
             all(w["state"] == "stopped" for w in fake.work()), 60, 0.1, what)
    return sid, [text(r) for r in results_by_command(sid)[2].values()]


try:
    cfg, state = write_config(tmp, fake.url)
    sid = fake.session(EVERY_TOOL, terminate=False)["session_id"]
    start(sid)
    wait_for(lambda: fake.state(sid)["finished"], 60, 0.1, "the scripted session to finish")
    wait_for(lambda: all(w["state"] == "stopped" for w in fake.work()), 30, 0.1, "the idle end")
    check_every_tool(t, fake, sid, state)
    t.ok(os.path.exists(os.path.join(state, "sessions", sid, "workspace.img")),
         "the session's workspace image outlives an idle-ended work item")
    log = drainer_log(state)
    t.ok("reason=idle_timeout" in log, "the run ended on the end_turn idle timeout")

    # The same session again (a new work item): the workspace is still there.
    fake.session([{"tool": "bash", "input": {"command": "cat notes.txt | wc -l; echo $GREETING"}}],
                 id=sid, terminate=True)
    start(sid)
    wait_for(lambda: all(w["state"] == "stopped" for w in fake.work()), 30, 0.1, "second item")
    st, calls, results = results_by_command(sid)
    last = [r for k, r in results.items() if "wc -l" in calls[k]["input"].get("command", "")]
    t.eq([text(r) for r in last], ["3"], "a workspace created in one work item is there in the next")
    # The work item is stopped first, its storage removed after: a state
    # to wait for, not a moment.
    t.ok(until(lambda: not os.path.exists(os.path.join(state, "sessions", sid)), 30),
         "the workspace is removed when the session terminates")

    # Faults: a 5xx on the post, a dropped stream.
    sid2, texts = faulty_session("the faulty session", ["echo one", "echo two", "echo three"],
                                 post_5xx=1, drop_stream_after=3)
    t.eq(texts, ["one", "two", "three"], "every call answered once despite a 5xx and a dropped stream")
    reqs = fake.log()["requests"]
    t.ok(any(r.get("event") == "stream_dropped" for r in reqs), "the stream was dropped")
    streams = [r for r in reqs if r.get("path") == "/v1/sessions/%s/events/stream" % sid2]
    t.ok(len(streams) >= 2, "the worker reconnected the stream (%d opens)" % len(streams))

    # Rate limited: the post waits what the API asks (Retry-After in
    # seconds; retry-after-ms before it, as the official SDK reads them),
    # then goes through once.
    sid7, texts = faulty_session("the rate-limited post", ["echo limited"],
                                 post_429_retry_after=1, post_429_retry_after_ms=1)
    t.eq(texts, ["limited"], "a rate-limited result is posted once")
    waits = [line for line in drainer_log(state).splitlines()
             if "event=api_retry" in line and "status=429" in line and sid7 in line]
    t.eq(sorted(int(line.split("wait_ms=")[1].split()[0]) for line in waits), [1500, 2000],
         "the retries waited the 2 s of Retry-After and the 1500 ms of retry-after-ms")

    # A rate limit longer than the lease (4 s here), while heartbeats hold
    # it: the post gives up within the lease, and after the 6 s the server
    # asked for, a listing shows the call unanswered and its result is
    # posted again; the call runs once.
    sid8, texts = faulty_session("the result held back by the rate limit",
                                 ["echo run >> runs8; wc -l < runs8"], post_429_long=1)
    t.eq(texts, ["1"], "posted after the long rate limit, and the call ran once")
    lines = [ln for ln in drainer_log(state).splitlines() if sid8 in ln and "event=tool_result_post" in ln]
    t.ok(len(lines) == 2 and "status=429 retry_ms=6000" in lines[0] and "event=tool_result_posted" in lines[1],
         "the failed post says it tries again in 6000 ms, and the next post lands", "\n".join(lines))

    # A post refused outright is not a reason to run the call again: the
    # kept result is posted once more after the next reconcile.
    _, texts = faulty_session("the refused post", ["echo run >> runs; wc -l < runs"], post_400_and_drop=1)
    t.eq(texts, ["1"], "a refused result is posted again after the reconcile, and the call ran once")

    # `exit` while a background job holds the shell's output open: the call
    # ends with the shell, not at its 30 s timeout, and the job is gone
    # before the next call's fresh shell starts.
    sid7 = fake.session([{"tool": "bash", "input": {"command": "sleep 600 & exit 4", "timeout_ms": 30000}},
                         {"tool": "bash", "input": {"command": "echo back; for p in /proc/[0-9]*; do "
                                                    "cat $p/comm 2>/dev/null; done | grep -c '^sleep$' || true"}}]
                        )["session_id"]
    start(sid7)
    wait_for(lambda: fake.state(sid7)["status"] == "terminated" and
             all(w["state"] == "stopped" for w in fake.work()), 90, 0.1, "the session whose shell exited")
    st, calls, results = results_by_command(sid7)
    t.eq([text(r) for r in results.values()], ["bash: bash session terminated", "back\n0"],
         "exit with a background job: the call ends with the shell, and the job with it")

    # A lost lease: the heartbeat gets 412 while a call runs.  The call is
    # not answered by this claim; the reclaimed item runs it again once.
    sid3 = fake.session([{"tool": "bash", "input": {"command": "sleep 3; echo survived"}}])["session_id"]
    start(sid3)
    wait_for(lambda: any(e["type"] == "agent.tool_use" for e in fake.state(sid3)["events"]),
             30, 0.05, "the slow call")
    fake.faults(heartbeat_412=1)
    wait_for(lambda: fake.state(sid3)["status"] == "terminated" and
             all(w["state"] == "stopped" for w in fake.work()), 60, 0.1, "the lost-lease session")
    st, calls, results = results_by_command(sid3)
    t.eq([text(r) for r in results.values()], ["survived"], "the interrupted call answered exactly once")
    item = [w for w in fake.work() if w["data"]["id"] == sid3][0]
    t.eq(item["claims"], 2, "the item was reclaimed after the 412")
    log = drainer_log(state)
    t.ok("lease_lost" in log and "reason=lease_lost" in log, "the drainer logged the lost lease")

    # A work item that is not a session is acked and force-stopped.
    hc = fake.call("POST", "/_fake/work", {"data": {"type": "healthcheck", "id": "hc_1"}})["work_id"]
    sid5 = fake.session([{"tool": "bash", "input": {"command": "echo after-healthcheck"}}])["session_id"]
    start(sid5)
    wait_for(lambda: all(w["state"] == "stopped" for w in fake.work()), 30, 0.1, "both items")
    hcw = [w for w in fake.work() if w["id"] == hc][0]
    t.ok(hcw["acknowledged_at"] and hcw["stopped_at"] and hcw["heartbeats"] == 0,
         "a healthcheck item is acked and force-stopped, with no lease")
    t.eq([r["content"][0]["text"] for r in fake.state(sid5)["results"].values()],
         ["after-healthcheck"], "and the drain goes on to the next item")

    # SIGTERM: the running call is cancelled, its error result posted, the
    # item stopped, and the drainer exits.
    sid4 = fake.session([{"tool": "bash", "input": {"command": "sleep 30"}}])["session_id"]
    start(sid4)
    def call_line():
        return [l for l in drainer_log(state).splitlines()
                if "session_id=" + sid4 in l and "event=tool_call" in l]
    line = wait_for(call_line, 30, 0.05, "the long call to start")[-1]
    pid = int(line.split(" pid=")[1].split()[0])
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: fake.state(sid4)["results"], 15, 0.05, "the cancelled call's result")
    st, calls, results = results_by_command(sid4)
    r = list(results.values())[0]
    t.ok(r["is_error"] and "cancelled" in text(r), "SIGTERM posts the running call's error result")
    t.ok(until(lambda: [w for w in fake.work() if w["data"]["id"] == sid4][0]["state"] == "stopped",
               15), "and stops the item")

    def gone():
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True
    t.ok(until(gone, 15), "the drainer exited")
    final_checks(t, fake, os.path.join(state, "sandhook.log"))
finally:
    fake.stop()
t.done()
