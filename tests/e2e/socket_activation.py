#!/usr/bin/env python3
"""Scale to zero, the way the shipped systemd units do it, without systemd as
PID 1: this test holds the listening socket as sandhook.socket would, and on
a connection starts sandhook through systemd-socket-activate (Debian's
systemd package), which hands the socket over with LISTEN_FDS.  sandhook
exits after --idle-exit seconds; the next webhook starts it again; every
session is served and nothing is lost."""
import fcntl
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BUILD, SANDHOOK, TOP, shipped, Checks, Fake, Nginx, free_tmp, need_root, run_started, skip,
                     final_checks, unix_listening, wait_for, write_config)

need_root()
ACTIVATE = shutil.which("systemd-socket-activate")
if not ACTIVATE:
    skip("systemd-socket-activate is not installed (apt-get install systemd)")
IDLE = 2
t = Checks()
tmp = free_tmp()
fake = Fake(tmp)
web = None
starts = []
exits = []
stop = threading.Event()


def socket_unit(sock_path, cfg):
    """What systemd does for sandhook.socket: keep listening, start the
    service when a connection waits and the service is not running."""
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(sock_path)
    os.chmod(sock_path, 0o666)
    lsock.listen(64)
    # Keep it clear of fd 3, where each activation gets a copy.
    high = socket.socket(fileno=fcntl.fcntl(lsock.fileno(), fcntl.F_DUPFD_CLOEXEC, 10))
    lsock.close()
    lsock = high
    while not stop.is_set():
        r, _, _ = select.select([lsock], [], [], 0.1)
        if not r:
            continue
        # systemd-socket-activate passes sd_listen_fds() sockets through;
        # LISTEN_PID must name the process that reads them, hence the exec.
        lfd = lsock.fileno()
        p = subprocess.Popen(
            ["/bin/sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', "sh", ACTIVATE, "--",
             SANDHOOK, "--config", cfg, "--idle-exit", str(IDLE)],
            pass_fds=(3,), preexec_fn=lambda: os.dup2(lfd, 3), stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(tmp, "activated.err"), "a"))
        starts.append(time.time())
        while p.poll() is None and not stop.is_set():
            time.sleep(0.05)
        if p.poll() is None:
            p.terminate()
            p.wait()
        exits.append(p.returncode)
    lsock.close()


try:
    # The shipped units: valid for systemd, and shaped for scale to zero.
    units = os.path.join(tmp, "units")
    os.makedirs(units)
    names = ("sandhook.socket", "sandhook.service", "sandhook-worker.service",
             "sandhook-drain.service", "sandhook-drain.timer")
    for name in names:
        open(os.path.join(units, name), "w").write(shipped("systemd", name))
    service = shipped("systemd", "sandhook.service")
    for line in ("StandardInput=socket", "StartLimitIntervalSec=0", "--idle-exit", "KillMode=process"):
        t.ok(line in service, "sandhook.service has " + line)
    for name, lines in (("sandhook-worker.service", (" run --config", "KillMode=mixed", "Restart=on-failure")),
                        ("sandhook-drain.service", (" drain --config", "Type=oneshot", "TimeoutStartSec=infinity")),
                        ("sandhook-drain.timer", ("OnUnitInactiveSec=", "WantedBy=timers.target"))):
        text = shipped("systemd", name)
        t.ok(all(x in text for x in lines), "%s has %s" % (name, ", ".join(x.strip() for x in lines)))
    with open(os.path.join(BUILD, "Makefile")) as f:
        prefix = re.search(r"^prefix = (\S+)", f.read(), re.M).group(1)
    raw = open(os.path.join(BUILD, "systemd", "sandhook.service")).read()
    t.ok("ExecStart=%s/bin/sandhook " % prefix in raw and "@bindir@" not in raw,
         "the units name this build's prefix (%s), filled in from their .in" % prefix, raw)
    v = subprocess.run(["systemd-analyze", "verify"] + [os.path.join(units, n) for n in names],
                       capture_output=True, text=True)
    t.ok(v.returncode == 0 and not v.stdout.strip() and not v.stderr.strip(),
         "systemd-analyze verify accepts the five units", v.stdout + v.stderr)

    cfg, state = write_config(tmp, fake.url)
    sock = os.path.join(tmp, "activated.sock")
    unit = threading.Thread(target=socket_unit, args=(sock, cfg), daemon=True)
    unit.start()
    wait_for(lambda: unix_listening(sock), 5, what="the socket to listen")
    web = Nginx(tmp, sock)
    time.sleep(0.3)
    t.eq(len(starts), 0, "nothing runs before the first webhook")

    sid1 = fake.session([{"tool": "bash", "input": {"command": "echo first"}}])["session_id"]
    body, hdrs = run_started(sid1)
    st, _, dt, _ = web.post("/hooks/sandhook", body, hdrs)
    t.eq(st, 202, "the first webhook starts sandhook and is answered")
    t.eq(len(starts), 1, "one activation")
    wait_for(lambda: fake.state(sid1)["results"], 30, 0.1, "the first session")

    # Idle: the responder exits; its detached drainer finishes on its own.
    wait_for(lambda: exits, IDLE + 10, 0.1, "the idle exit")
    t.eq(exits, [0], "sandhook exited by itself after %d idle seconds" % IDLE)

    sid2 = fake.session([{"tool": "bash", "input": {"command": "echo second"}}])["session_id"]
    body, hdrs = run_started(sid2)
    st, _, dt, _ = web.post("/hooks/sandhook", body, hdrs)
    t.eq(st, 202, "the next webhook starts it again")
    t.eq(len(starts), 2, "a second activation")
    # Two deliveries at once.
    sid3 = fake.session([{"tool": "bash", "input": {"command": "echo third"}}])["session_id"]
    sid4 = fake.session([{"tool": "bash", "input": {"command": "echo fourth"}}])["session_id"]
    answers = []
    threads = [threading.Thread(target=lambda s=s: answers.append(
        web.post("/hooks/sandhook", *run_started(s))[0])) for s in (sid3, sid4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    t.eq(sorted(answers), [202, 202], "concurrent deliveries are both answered")
    wait_for(lambda: all(fake.state(s)["status"] == "terminated" for s in (sid1, sid2, sid3, sid4)) and
             all(w["state"] == "stopped" for w in fake.work()), 60, 0.1, "every session")
    got = [fake.state(s)["results"] and list(fake.state(s)["results"].values())[0]["content"][0]["text"]
           for s in (sid1, sid2, sid3, sid4)]
    t.eq(got, ["first", "second", "third", "fourth"], "nothing was lost")
    final_checks(t, fake, os.path.join(state, "sandhook.log"), os.path.join(tmp, "activated.err"))
finally:
    stop.set()
    if web:
        web.stop()
    fake.stop()
t.done()
