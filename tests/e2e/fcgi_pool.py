#!/usr/bin/env python3
"""The FastCGI responder's prefork pool, started by spawn-fcgi as the
README deploys it.

- By default it has four workers per CPU this process may use.
- Workers serve at once: with two requests held open half-sent (a raw
  FastCGI client), a third is answered, and each by its own worker.
- A worker killed with -9 is started again; SIGTERM lets a request in
  flight finish and stops every worker; an idle pool exits whole; workers
  never outlive a master killed with -9.
"""
import json
import os
import signal
import socket
import struct

from harness import (Checks, FcgiPool, Scenario, children, sanitizer_clean, sign, until, wait_for,
                     write_config)

t = Checks()


def idled(msg):
    body = json.dumps({"type": "event", "id": msg, "created_at": "2026-12-03T00:00:00Z",
                       "data": {"type": "session.status_idled", "id": "sesn_pool"}}).encode()
    return body, sign(body, msg)


def record(rtype, content):
    pad = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", 1, rtype, 1, len(content), pad, 0) + content + b"\0" * pad


def pair(name, value):
    def length(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return length(len(name)) + length(len(value)) + name + value


class Held:
    """A FastCGI request sent all but its body: the worker that took it
    waits for the rest."""

    def __init__(self, sock_path, msg):
        self.body, hdrs = idled(msg)
        env = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(len(self.body)),
               "GATEWAY_INTERFACE": "CGI/1.1", "SCRIPT_NAME": "/hooks/sandhook",
               "REQUEST_URI": "/hooks/sandhook", "SERVER_PROTOCOL": "HTTP/1.1"}
        env.update(("HTTP_" + k.upper().replace("-", "_"), v) for k, v in hdrs.items())
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(30)
        self.s.connect(sock_path)
        params = b"".join(pair(k.encode(), v.encode()) for k, v in env.items())
        self.s.sendall(record(1, struct.pack(">HB5x", 1, 0)) + record(4, params) + record(4, b""))

    def finish(self):
        """Sends the body; the HTTP status the responder answered."""
        self.s.sendall(record(5, self.body) + record(5, b""))
        out, buf = b"", b""
        while True:
            chunk = self.s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 8:
                _, rtype, _, clen, pad = struct.unpack(">BBHHB", buf[:7])
                if len(buf) < 8 + clen + pad:
                    break
                if rtype == 6:
                    out += buf[8:8 + clen]
                buf = buf[8 + clen + pad:]
                if rtype == 3:
                    self.s.close()
                    head = out.decode(errors="replace").split("\r\n")[0]
                    return int(head.split()[1]) if head.startswith("Status:") else 0
        self.s.close()
        return 0


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def sockets(pid):
    """How many sockets a process holds open."""
    n = 0
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
            except OSError:
                pass
    except OSError:
        pass
    return n


def hold(pool, base, msg, count):
    """A Held request, once a worker has taken it: then `count` of the
    workers hold a socket beyond their `base` (pid: sockets held before). Until a
    worker accepts it, a connection waits in the listen queue, where
    neither the other workers' order nor a SIGTERM treats it as in flight."""
    h = Held(pool.sock, msg)
    wait_for(lambda: sum(sockets(p) > n for p, n in base.items()) == count, 20,
             what="a worker to take %s" % msg)
    return h


def pool_in(sc, name, workers=None, extra_args=()):
    d = os.path.join(sc.tmp, name)
    os.makedirs(d)
    more = {"SANDHOOK_FCGI_WORKERS": workers} if workers else {}
    cfg, state = write_config(d, sc.fake.url, **more)
    pool = sc.add(FcgiPool(d, cfg, extra_args))
    return pool, os.path.join(d, "fcgi.err")


def log_of(path):
    return open(path, errors="replace").read()


with Scenario() as sc:
    want = min(64, 4 * len(os.sched_getaffinity(0)))
    pool, err = pool_in(sc, "default")
    wait_for(lambda: len(children(pool.proc.pid)) == want, 20, what="the default pool's workers")
    t.ok("event=fcgi_started workers=%d" % want in log_of(err),
         "by default the pool has four workers per CPU (%d)" % want, log_of(err)[-400:])
    pool.stop()

    pool, err = pool_in(sc, "three", workers=3)
    master = pool.proc.pid
    wait_for(lambda: len(children(master)) == 3, 20, what="three workers")
    first = children(master)
    base = {p: sockets(p) for p in first}
    a = hold(pool, base, "whe_pool_a", 1)
    b = hold(pool, base, "whe_pool_b", 2)
    body, hdrs = idled("whe_pool_c")
    t.eq(pool.post(body, hdrs)[0], 200, "with two requests held half-sent, a third is answered")
    t.eq((a.finish(), b.finish()), (200, 200), "  ...and the two held ones are answered once their bodies come")

    def served_by(msg):
        return [ln.split(" pid=")[1].split()[0] for ln in log_of(err).splitlines()
                if "event=webhook_accepted" in ln and "webhook_id=%s" % msg in ln]
    pids = [served_by(m) for m in ("whe_pool_a", "whe_pool_b", "whe_pool_c")]
    t.ok(all(len(p) == 1 for p in pids) and len({p[0] for p in pids}) == 3 and
         all(int(p[0]) in first for p in pids), "  ...each by its own worker", (pids, first))

    victim = first[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(children(master)) == 3 and victim not in children(master), 20,
             what="the killed worker's replacement")
    t.ok("event=fcgi_worker_exited worker_pid=%d exit_code=-1 signal=9" % victim in log_of(err),
         "a worker killed with -9 is logged, and started again (3 workers)", log_of(err)[-600:])
    body, hdrs = idled("whe_pool_d")
    t.eq(pool.post(body, hdrs)[0], 200, "  ...and the pool answers")

    workers = children(master)
    base = {p: sockets(p) for p in workers}
    held = hold(pool, base, "whe_pool_e", 1)
    os.kill(master, signal.SIGTERM)
    t.eq(held.finish(), 200, "SIGTERM: the request in flight is still answered")
    t.eq(pool.proc.wait(timeout=30), 0, "  ...the master exits 0")
    t.ok(not any(alive(p) for p in workers), "  ...and no worker is left", workers)
    t.ok("event=fcgi_stopped reason=signal" in log_of(err), "  ...and the log says why")

    pool, err = pool_in(sc, "idle", workers=2, extra_args=("--idle-exit", "2"))
    wait_for(lambda: len(children(pool.proc.pid)) == 2, 20, what="two workers")
    workers = children(pool.proc.pid)
    body, hdrs = idled("whe_pool_f")
    t.eq(pool.post(body, hdrs)[0], 200, "an idle-exit pool answers")
    t.eq(pool.proc.wait(timeout=60), 0, "  ...then, with no request for 2 s, the whole pool exits 0")
    t.ok("event=fcgi_idle_exit idle_timeout_s=2 workers=2" in log_of(err) and
         not any(alive(p) for p in workers), "  ...its workers with it, and the log says so")

    pool, err = pool_in(sc, "orphans", workers=2)
    wait_for(lambda: len(children(pool.proc.pid)) == 2, 20, what="two workers")
    workers = children(pool.proc.pid)
    os.kill(pool.proc.pid, signal.SIGKILL)
    pool.proc.wait(timeout=30)
    t.ok(until(lambda: not any(alive(p) for p in workers), 30, 0.1),
         "a master killed with -9: its workers stop too (none holds the socket)", workers)

    sanitizer_clean(t, *[os.path.join(sc.tmp, d, "fcgi.err") for d in ("default", "three", "idle", "orphans")])

t.done()
