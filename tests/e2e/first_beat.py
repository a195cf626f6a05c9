#!/usr/bin/env python3
"""The first heartbeat and the session fetch are in flight together, and
nothing else of an item happens before that heartbeat's verdict.

As the official worker does, the drainer sends an item's first heartbeat
and fetches its session at once: one round trip less before the first call
(in production, tens of milliseconds a session).  The fake holds the first
heartbeat's answer until the session's GET has arrived (at most 10 s), so a
drainer that waits for the heartbeat before fetching shows as
beat_saw_fetch false.  Then, with the same hold:
- a first heartbeat answered 412 (the claim is someone else's): nothing but
  that fetch was sent on the claim (no stream, no history, no stop), the
  session was not taken up, and the item, reclaimed, is answered once;
- a first heartbeat answered "stopping": the item is force-stopped and no
  call runs.
"""
from harness import Checks, Scenario, drainer_log, final_checks, nginx_front, run_started, wait_for

t = Checks()


def between_acks(reqs, wid):
    """The paths requested from the first ack of wid to its second."""
    acks = [i for i, r in enumerate(reqs) if r.get("path", "").endswith("/work/%s/ack" % wid)]
    return acks, [r["path"] for r in reqs[acks[0] + 1:acks[1]] if "path" in r] if len(acks) > 1 else []


with Scenario() as sc:
    web, state, log = nginx_front(sc, SANDHOOK_IDLE_TIMEOUT_MS=300)

    def item(sid):
        return [w for w in sc.fake.work() if w["data"]["id"] == sid][0]

    def serve(command, **faults):
        """A session of one call, its first heartbeat held until the fetch:
        its id and its work item once that is stopped."""
        sid = sc.fake.session([{"tool": "bash", "input": {"command": command}}],
                              first_delay=0, end_delay=0)["session_id"]
        sc.fake.faults(heartbeat_awaits_fetch=1, **faults)
        t.eq(web.post("/hooks/sandhook", *run_started(sid))[0], 202, "run_started accepted (%s)" % command)
        wait_for(lambda: item(sid)["state"] == "stopped", 60, 0.05, "the item of %r stopped" % command)
        return sid, item(sid)

    def answers(sid):
        return [r["content"][0]["text"] for r in sc.fake.state(sid)["results"].values()]

    # Together: the held heartbeat is released by the fetch.
    sid, w = serve("echo together")
    t.eq(w["beat_saw_fetch"], True, "the first heartbeat was still unanswered when the session fetch arrived")
    t.eq(answers(sid), ["together"], "and the call was answered once")

    # 412 on the first heartbeat: the claim is dropped, untouched.
    sid, w = serve("echo reclaimed", heartbeat_412=1)
    t.eq((w["beat_saw_fetch"], w["claims"]), (True, 2), "the 412 came with the fetch out; the item was claimed again")
    acks, paths = between_acks(sc.fake.log()["requests"], w["id"])
    t.ok(len(acks) == 2 and sorted(p.rsplit("/", 1)[-1] for p in paths if "/poll" not in p) ==
         ["heartbeat", sid], "on the lost claim only the heartbeat and the session fetch were sent", paths)
    text = drainer_log(state)
    t.ok("event=lease_lost" in text and "reason=precondition_failed" in text and
         "outcome=lease_lost" in text, "the lost claim is logged as such")
    t.eq(sum("event=session_fetched" in ln and sid in ln for ln in text.splitlines()), 1,
         "the session was taken up by the second claim only")
    t.eq(answers(sid), ["reclaimed"], "the call was answered once")

    # "stopping" on the first heartbeat: stopped, nothing run.
    sid, w = serve("echo never", heartbeat_stopping=1)
    paths = [r["path"] for r in sc.fake.log()["requests"] if sid in r.get("path", "")]
    t.ok(w["beat_saw_fetch"] is True and w["claims"] == 1 and
         not any(p.endswith("/events") or p.endswith("/stream") for p in paths),
         "a first heartbeat saying stopping: the item is stopped, no stream opened", paths)
    t.eq(answers(sid), [], "and no call ran")
    t.ok("outcome=lease_failed" in drainer_log(state), "logged as lease_failed")
    final_checks(t, sc.fake, log)

t.done()
