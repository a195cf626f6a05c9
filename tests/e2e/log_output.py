#!/usr/bin/env python3
"""Logs that reach someone.  SANDHOOK_LOG_FILE is a setting like any other
(not a secret-file pointer) and the front's lines join the drainer's there;
SANDHOOK_LOG_FORMAT=json gives one JSON object per line; SANDHOOK_LOG=syslog
sends them to the syslog socket; ANTHROPIC_LOG (the SDK's) sets the level,
debug showing each API call and each frame to the jail; tool_done and
work_finished carry duration_ms, and a failed call its reason; the
drainer's process title says what it is doing.
"""
import json
import os
import re
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (ENV_KEY, SIGNING_KEY, Checks, FcgiPool, Scenario, cgi, delivery,  # noqa: E402
                     gated, need_root, release, run_started, sanitizer_clean, tagged, until, wait_for,
                     write_config)

need_root()


def served(fake, sid):
    return all(w["state"] == "stopped" for w in fake.work() if w["data"]["id"] == sid) and \
        fake.state(sid)["results"]


def main():
    t = Checks()
    with Scenario() as sc:
        fake = sc.fake
        logfile = os.path.join(sc.tmp, "all.log")
        cfg, state = write_config(sc.tmp, fake.url, SANDHOOK_LOG_FILE=logfile,
                                  SANDHOOK_LOG_FORMAT="json", SANDHOOK_TOOL_TIMEOUT_MS=1500)
        sid = fake.session([{"tool": "bash", "input": {"command": gated("title", "held")}},
                            {"tool": "bash", "input": {"command": "sh -c 'exit 3'"}},
                            {"tool": "bash", "input": {"command": "sleep 30"}}])["session_id"]
        body, hdrs = run_started(sid)
        status, _, _, _, err = cgi(cfg, body, hdrs)
        t.ok(status == 202 and "config_invalid" not in err,
             "SANDHOOK_LOG_FILE in the config file is taken (it is not a secret-file pointer)", err)
        t.ok("event=" not in err, "the front's lines go to SANDHOOK_LOG_FILE, not stderr", err)

        wait_for(lambda: tagged("title"), 60, 0.1, "the gated call")
        drainers = procs_of_file(logfile)
        title = ""
        if drainers:
            pid = next(iter(drainers))
            until(lambda: b" 1s" in cmdline(pid) or b" 2s" in cmdline(pid), 10, 0.1)
            title = cmdline(pid).decode(errors="replace")
        t.ok(title.startswith("sandhook: drain %s bash " % sid) and title.endswith("s"),
             "the drainer's title says what it does: %r" % title)
        release("title")
        wait_for(lambda: served(fake, sid) and len(fake.state(sid)["results"]) == 3, 90, 0.2,
                 "the session")
        wait_for(lambda: '"work_finished"' in read(logfile), 30, 0.1, "work_finished")

        lines = read(logfile).splitlines()
        parsed = []
        for ln in lines:
            try:
                parsed.append(json.loads(ln))
            except ValueError:
                parsed.append(None)
        t.ok(lines and all(isinstance(p, dict) for p in parsed),
             "SANDHOOK_LOG_FORMAT=json: each of the %d lines is one JSON object" % len(lines),
             [ln for ln, p in zip(lines, parsed) if not isinstance(p, dict)][:3])
        ev = [p for p in parsed if isinstance(p, dict)]
        comps = {p.get("component") for p in ev}
        t.ok({"responder", "drainer"} <= comps, "front and drainer share the file (%s)" % sorted(comps))
        done = [p for p in ev if p.get("event") == "tool_done"]
        t.ok(len(done) == 3 and all(p.get("duration_ms", "").isdigit() for p in done) and
             all(p.get("session_id") == sid for p in done),
             "tool_done carries duration_ms and the ids", done)
        by = {p.get("reason"): p for p in done}
        t.ok(by.get("exit_code", {}).get("exit_code") == "3",
             "a failing command says why: reason=exit_code exit_code=3", done)
        t.ok("timeout" in by, "a timed-out command says reason=timeout", done)
        fin = [p for p in ev if p.get("event") == "work_finished"]
        t.ok(fin and fin[0].get("duration_ms", "").isdigit() and fin[0].get("outcome") == "done",
             "work_finished carries its outcome and duration_ms", fin)
        t.ok(not [p for p in ev if p.get("level") == "debug"], "no debug line by default")

        # ANTHROPIC_LOG=debug, the SDK's switch; syslog to a socket of ours.
        sock_path = os.path.join(sc.tmp, "dev-log")
        def syslog_rx():
            """A syslog daemon's socket at sock_path, with its senders' credentials."""
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(sock_path)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            s.settimeout(0.2)
            return s
        rx = syslog_rx()
        os.makedirs(os.path.join(sc.tmp, "two"))
        cfg2, state2 = write_config(os.path.join(sc.tmp, "two"), fake.url, ANTHROPIC_LOG="debug",
                                    SANDHOOK_LOG="syslog", SANDHOOK_SYSLOG_SOCKET=sock_path)
        sid2 = fake.session([{"tool": "bash", "input": {"command": "echo hi"}}])["session_id"]
        body, hdrs = run_started(sid2)
        status, _, _, _, err = cgi(cfg2, body, hdrs)
        got, senders = [], []

        def drain_socket():
            try:
                while True:
                    data, anc, _, _ = rx.recvmsg(65536, socket.CMSG_SPACE(12))
                    got.append(data.decode(errors="replace"))
                    # The sender's pid as the kernel tells it, in our namespace.
                    senders.append(next((struct.unpack("3i", d[:12])[0] for lvl, typ, d in anc
                                         if lvl == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS), None))
            except socket.timeout:
                pass
            return any("event=work_finished" in g for g in got)

        t.ok(status == 202 and until(drain_socket, 60, 0.05),
             "SANDHOOK_LOG=syslog: the lines arrive at the syslog socket", got[-3:])
        t.ok(all(g.startswith("<") and "sandhook[" in g for g in got),
             "as syslog datagrams (<priority>sandhook[pid]: ...)", got[:2])
        t.ok(any("component=responder" in g for g in got) and any("component=drainer" in g for g in got),
             "from the front and the drainer")
        ready = [g for g in got if "component=jail" in g and "event=jail_ready" in g]
        t.ok(ready and "session_id=%s" % sid2 in ready[0] and "work_id=" in ready[0] and
             "setup_ms=" in ready[0],
             "  ...and the jail helper, at the drainer's level, with the work and session ids", ready)
        t.ok("event=jail_ready" not in read(os.path.join(state2, "sandhook.log")),
             "  ...none of whose lines stays in the log file")
        named = [(int(re.search(r"sandhook\[(\d+)\]", g).group(1)), int(re.search(r" pid=(\d+) ", g).group(1)), p)
                 for g, p in zip(got, senders)]
        jail_named = [n for n, g in zip(named, got) if "component=jail" in g]
        t.ok(jail_named and all(a == b == p for a, b, p in named),
             "  ...each line naming its sender's pid as the host sees it, the jail's too (not its pid 1)",
             [n for n in named if not n[0] == n[1] == n[2]][:3])
        t.ok(any("event=api_call" in g and "duration_ms=" in g for g in got),
             "ANTHROPIC_LOG=debug: each API call is a debug line")
        t.ok(any("event=jail_frame" in g and "op=tool" in g for g in got),
             "  ...and each frame to the jail")
        t.ok(not any(ENV_KEY in g or SIGNING_KEY[6:] in g for g in got), "no key in any of it")

        # A syslog daemon that restarts makes a new socket at the same path.
        pool = sc.add(FcgiPool(os.path.join(sc.tmp, "two"), cfg2))

        def idled(wid):
            return pool.post(*delivery("session.status_idled", "s", wid))[0]

        def arrived(wid):
            def seen():
                drain_socket()
                return any("webhook_id=%s" % wid in g for g in got)
            return seen
        t.ok(idled("whe_before_restart") == 200 and until(arrived("whe_before_restart"), 30, 0.05),
             "a long-lived responder's line arrives at the syslog socket")
        rx.close()
        os.unlink(sock_path)
        rx = syslog_rx()
        t.ok(idled("whe_after_restart") == 200 and until(arrived("whe_after_restart"), 30, 0.05),
             "  ...and after the syslog daemon made its socket anew, the next one arrives there too",
             got[-2:])
        rx.close()
        sanitizer_clean(t, logfile, os.path.join(state2, "sandhook.log"), os.path.join(sc.tmp, "two", "fcgi.err"))
    t.done()


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def cmdline(pid):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            return f.read().rstrip(b"\0")
    except OSError:
        return b""


def procs_of_file(path):
    """Drainers whose stderr is path (SANDHOOK_LOG_FILE moved it)."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open("/proc/%s/comm" % pid, "rb").read().strip() == b"sandhook-drain" and \
                    os.readlink("/proc/%s/fd/2" % pid) == path:
                found[pid] = None
        except OSError:
            continue
    return found


if __name__ == "__main__":
    main()
