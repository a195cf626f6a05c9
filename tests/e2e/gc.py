#!/usr/bin/env python3
"""Nothing grows forever.  A session's storage (STATE/sessions/<sid>) goes
when session.status_terminated or session.deleted arrives, but never while
a jail of it still runs; storage idle longer than
SANDHOOK_WORKSPACE_KEEP_HOURS goes at the next drainer's exit or with
`sandhook gc`; nothing outside the state directory is followed into (a
symlink planted among the sessions), and a webhook naming no safe id
removes nothing.  The shipped logrotate file rotates the log while the
front keeps writing to it.
"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (SANDHOOK, TOP, Checks, Scenario, cgi, drainer_log, final_checks, gated,  # noqa: E402
                     need_root, procs_of, release, run_started, sign, tagged, until, wait_for, write_config)

need_root()


def event(kind, sid):
    msg = "whe_" + os.urandom(8).hex()
    body = json.dumps({"type": "event", "id": msg, "created_at": "2026-12-03T00:00:00Z",
                       "data": {"type": kind, "id": sid}}).encode()
    return body, sign(body, msg)


def main():
    t = Checks()
    with Scenario() as sc:
        cfg, state = write_config(sc.tmp, sc.fake.url)
        sessions = os.path.join(state, "sessions")

        def run(command):
            # Sessions that stay (idle, not terminated), as most do.
            sid = sc.fake.session([{"tool": "bash", "input": {"command": command}}],
                                  terminate=False)["session_id"]
            body, h = run_started(sid)
            t.eq(cgi(cfg, body, h)[0], 202, "run_started for %s: 202" % sid)
            return sid

        def drained(sid):
            wait_for(lambda: sc.fake.state(sid)["results"], 60, what="the call's result")
            wait_for(lambda: not procs_of(state, b"sandhook-drain"), 60, what="the drainer to exit")

        def age(sid, hours):
            p = os.path.join(sessions, sid)
            old = time.time() - hours * 3600
            os.utime(p, (old, old), follow_symlinks=False)

        def gc(*args):
            p = subprocess.run([SANDHOOK, "gc", "--config", cfg] + list(args), capture_output=True,
                               text=True, timeout=60)
            return p.returncode, p.stdout + p.stderr

        a = run("echo kept > /workspace/f; echo a")
        drained(a)
        t.ok(os.path.isdir(os.path.join(sessions, a)), "after its item, session A's storage is kept")
        status, _, payload, _, _ = cgi(cfg, *event("session.status_terminated", a))
        t.ok(status == 200 and "storage" in payload, "session.status_terminated for A: 200", payload)
        # The line follows the removal: wait for both, not for the first alone.
        t.ok(until(lambda: not os.path.exists(os.path.join(sessions, a)) and
                   "event=session_storage_removed session_id=%s reason=session_ended" % a in drainer_log(state), 30),
             "A's storage removed, and the log says why")

        b = run(gated("gc_gate", "b"))
        wait_for(lambda: tagged("gc_gate"), 60, what="B's call to run")
        t.eq(cgi(cfg, *event("session.deleted", b))[0], 200, "session.deleted for B while its call runs: 200")
        wait_for(lambda: "event=session_storage_kept" in drainer_log(state), 30, what="the gc's verdict")
        t.ok(os.path.isdir(os.path.join(sessions, b)) and tagged("gc_gate"),
             "B's storage is kept while its jail runs (and the call still runs)")
        release("gc_gate")
        drained(b)
        rc, out = gc("--session", b)
        t.ok(rc == 0 and "session %s: removed" % b in out and not os.path.exists(os.path.join(sessions, b)),
             "sandhook gc --session B once nothing of it runs: removed", out)

        c = run("echo c")
        drained(c)
        d = run("echo d")
        drained(d)
        age(c, 200)
        outside = os.path.join(sc.tmp, "outside")
        os.makedirs(outside)
        open(os.path.join(outside, "precious"), "w").write("x")
        os.symlink(outside, os.path.join(sessions, "sesn_planted"))
        age("sesn_planted", 500)
        rc, out = gc()
        t.ok(rc == 0 and "1 idle session(s) removed" in out, "sandhook gc: one idle session removed", out)
        t.ok(not os.path.exists(os.path.join(sessions, c)) and os.path.isdir(os.path.join(sessions, d)),
             "the one idle past SANDHOOK_WORKSPACE_KEEP_HOURS (168) went; the recent one stayed")
        t.ok(os.path.exists(os.path.join(outside, "precious")) and os.path.islink(os.path.join(sessions, "sesn_planted")),
             "a symlink among the sessions is not followed, nor removed as a session")

        age(d, 169)
        e = run("echo e")
        drained(e)
        t.ok(not os.path.exists(os.path.join(sessions, d)) and os.path.isdir(os.path.join(sessions, e)),
             "the next drainer collected the idle session at its exit, and kept its own")
        shutil.copytree(os.path.join(sessions, e), os.path.join(sc.tmp, "e-copy"), symlinks=True)
        for bad in ("..", "sesn_x/../../outside", ""):
            cgi(cfg, *event("session.deleted", bad))
        wait_for(lambda: drainer_log(state).count("not a session id") >= 2, 30,
                 what="the gc to refuse the unsafe ids")
        t.ok(os.path.isdir(os.path.join(sessions, e)) and os.path.isdir(state) and
             os.path.exists(os.path.join(outside, "precious")),
             "session.deleted naming '..' or a path removes nothing")

        # The shipped logrotate file, pointed at this log, while the front logs.
        conf = os.path.join(sc.tmp, "logrotate.conf")
        log = os.path.join(state, "sandhook.log")
        rules = open(os.path.join(TOP, "logrotate", "sandhook")).read()
        t.ok("/var/lib/sandhook/sandhook.log" in rules, "the logrotate file names the README's log path")
        open(conf, "w").write(rules.replace("/var/lib/sandhook/sandhook.log", log))
        os.chmod(conf, 0o644)
        before = os.stat(log).st_ino
        p = subprocess.run(["logrotate", "-f", "-s", os.path.join(sc.tmp, "lr.state"), conf],
                           capture_output=True, text=True, timeout=60)
        t.ok(p.returncode == 0 and os.path.exists(log + ".1") and os.stat(log).st_size == 0 and
             os.stat(log).st_ino == before, "logrotate -f: the old lines in sandhook.log.1, the log emptied in place",
             p.stderr)
        f = run("echo f")
        drained(f)
        t.ok("event=work_finished" in drainer_log(state), "the next drainer's lines land in the rotated-in file")
        final_checks(t, sc.fake, log)
    t.done()


if __name__ == "__main__":
    main()
