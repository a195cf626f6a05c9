#!/usr/bin/env python3
"""The FastCGI responder's prefork pool, started by spawn-fcgi as the
README deploys it.

- By default it has four workers per CPU this process may use.
- Workers serve at once: with two requests held open half-sent (a raw
  FastCGI client), a third is answered, and each by its own worker.
- A worker killed with -9 is started again; SIGTERM lets a request in
  flight finish and stops every worker; an idle pool exits whole; workers
  never outlive a master killed with -9, even one killed while they start.
- Kept connections (FCGI_KEEP_CONN, as nginx sends with fastcgi_keep_conn):
  one process serves many and still accepts new ones; past 256 a
  connection is served once and closed; a body refused unread does not
  spoil the connection; at SIGTERM a request waiting on one is answered.
"""
import os
import signal
import socket
import struct

from harness import (Checks, FcgiPool, Scenario, children, delivery, sanitizer_clean, unix_connections,
                     until, wait_for, write_config)

t = Checks()


def idled(msg):
    return delivery("session.status_idled", "sesn_pool", msg)


def record(rtype, content):
    pad = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", 1, rtype, 1, len(content), pad, 0) + content + b"\0" * pad


def pair(name, value):
    def length(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return length(len(name)) + length(len(value)) + name + value


class Conn:
    """A raw FastCGI connection, as nginx opens one: with keep=True it asks
    the responder to keep it open after each request (FCGI_KEEP_CONN)."""

    def __init__(self, sock_path, keep=False):
        self.keep = keep
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(30)
        self.s.connect(sock_path)
        self.buf = b""

    def head(self, msg, length=None):
        """Sends a request all but its body: the worker that takes it waits
        for the rest.  length overrides CONTENT_LENGTH."""
        self.body, hdrs = idled(msg)
        env = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(length or len(self.body)),
               "GATEWAY_INTERFACE": "CGI/1.1", "SCRIPT_NAME": "/hooks/sandhook",
               "REQUEST_URI": "/hooks/sandhook", "SERVER_PROTOCOL": "HTTP/1.1"}
        env.update(("HTTP_" + k.upper().replace("-", "_"), v) for k, v in hdrs.items())
        params = b"".join(pair(k.encode(), v.encode()) for k, v in env.items())
        self.s.sendall(record(1, struct.pack(">HB5x", 1, int(self.keep))) + record(4, params) +
                       record(4, b""))
        return self

    def send_body(self, body=None):
        """Sends the body, this request's own by default."""
        body = self.body if body is None else body
        data = b"".join(record(5, body[i:i + 65535]) for i in range(0, len(body), 65535))
        try:
            self.s.sendall(data + record(5, b""))
        except OSError:
            pass
        return self

    def finish(self, body=None):
        """Sends the body; the HTTP status the responder answered."""
        return self.send_body(body).response()

    def response(self):
        """The HTTP status the responder answered, 0 if the connection
        ended first."""
        out = b""
        while True:
            while len(self.buf) >= 8:
                _, rtype, _, clen, pad = struct.unpack(">BBHHB", self.buf[:7])
                if len(self.buf) < 8 + clen + pad:
                    break
                if rtype == 6:
                    out += self.buf[8:8 + clen]
                self.buf = self.buf[8 + clen + pad:]
                if rtype == 3:
                    if not self.keep:
                        self.s.close()
                    head = out.decode(errors="replace").split("\r\n")[0]
                    return int(head.split()[1]) if head.startswith("Status:") else 0
            try:
                chunk = self.s.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                self.s.close()
                return 0
            self.buf += chunk

    def request(self, msg):
        return self.head(msg).finish()

    def closed(self):
        """Whether the responder has closed its end (waits for it up to the
        socket's timeout; a kept connection that stays open times out)."""
        try:
            return self.s.recv(1) == b""
        except socket.timeout:
            return False
        except OSError:
            return True


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


def taken_by(conn):
    """The pid of the process that accepted conn, or None while it waits
    in the listen queue."""
    ino = os.fstat(conn.s.fileno()).st_ino
    return next((pids[0] for _, _, peer, pids in unix_connections() if peer == ino and pids), None)


def hold(pool, workers, msg):
    """A request sent all but its body, once one of the workers has taken
    it.  Until a worker accepts it, a connection waits in the listen queue,
    where neither the other workers' order nor a SIGTERM treats it as in
    flight."""
    h = Conn(pool.sock).head(msg)
    wait_for(lambda: taken_by(h) in workers, 20, what="a worker to take %s" % msg)
    return h


def pool_in(sc, name, workers=None, extra_args=()):
    d = os.path.join(sc.tmp, name)
    os.makedirs(d)
    more = {"SANDHOOK_FCGI_WORKERS": workers} if workers else {}
    cfg, state = write_config(d, sc.fake.url, **more)
    pool = sc.add(FcgiPool(d, cfg, extra_args))
    return pool, os.path.join(d, "fcgi.err")


def of_config(config):
    """The live processes started with --config config (a pool's, whoever
    their parent is now)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                mine = config.encode() + b"\0" in f.read()
        except OSError:
            continue
        if mine and alive(int(pid)):
            found.append(int(pid))
    return found


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
    a, b = hold(pool, first, "whe_pool_a"), hold(pool, first, "whe_pool_b")
    body, hdrs = idled("whe_pool_c")
    t.eq(pool.post(body, hdrs)[0], 200, "with two requests held half-sent, a third is answered")
    t.eq((a.finish(), b.finish()), (200, 200), "  ...and the two held ones are answered once their bodies come")

    def served_by(msg):
        return [ln.split(" pid=")[1].split()[0] for ln in log_of(err).splitlines()
                if "event=webhook_accepted" in ln and "webhook_id=%s " % msg in ln]
    pids = [served_by(m) for m in ("whe_pool_a", "whe_pool_b", "whe_pool_c")]
    t.ok(all(len(p) == 1 for p in pids) and len({p[0] for p in pids}) == 3 and
         all(int(p[0]) in first for p in pids), "  ...each by its own worker", (pids, first))

    victim = first[0]
    os.kill(victim, signal.SIGKILL)
    # One snapshot: read twice, the first could still hold the victim and
    # the second see it reaped, before the master has logged it or started
    # its replacement.
    def replaced():
        now = children(master)
        return len(now) == 3 and victim not in now
    wait_for(replaced, 20, what="the killed worker's replacement")
    t.ok("event=fcgi_worker_exited worker_pid=%d exit_code=-1 signal=9" % victim in log_of(err),
         "a worker killed with -9 is logged, and started again (3 workers)", log_of(err)[-600:])
    body, hdrs = idled("whe_pool_d")
    t.eq(pool.post(body, hdrs)[0], 200, "  ...and the pool answers")

    workers = children(master)
    held = hold(pool, workers, "whe_pool_e")
    os.kill(master, signal.SIGTERM)
    t.eq(held.finish(), 200, "SIGTERM: the request in flight is still answered")
    t.eq(pool.proc.wait(timeout=30), 0, "  ...the master exits 0")
    t.ok(not any(alive(p) for p in workers), "  ...and no worker is left", workers)
    t.ok("event=fcgi_stopped reason=signal" in log_of(err), "  ...and the log says why")

    # Kept connections (nginx's fastcgi_keep_conn, keepalive upstream), in
    # a responder of one process, so every one of them is that process's.
    pool, err = pool_in(sc, "kept", workers=1)
    proc = pool.proc.pid
    a = Conn(pool.sock, keep=True)
    t.eq(a.request("whe_keep_1"), 200, "kept connections: a first request is answered")
    b = Conn(pool.sock, keep=True)
    t.eq(b.request("whe_keep_2"), 200,
         "  ...with that connection kept idle, the one process still takes a new connection")
    t.eq(a.request("whe_keep_3"), 200, "  ...and the kept one serves its next request")
    kept = [a, b] + [Conn(pool.sock, keep=True) for _ in range(254)]
    t.eq([c.request("whe_keep_k%d" % i) for i, c in enumerate(kept[2:])], [200] * 254,
         "  ...256 kept connections each served")
    extra = Conn(pool.sock, keep=True)
    t.eq(extra.request("whe_keep_257"), 200, "a 257th connection to the process is answered")
    t.ok(extra.closed(), "  ...then closed: a worker keeps 256")
    t.eq([c.request("whe_keep_again%d" % i) for i, c in enumerate(kept)], [200] * 256,
         "  ...and the 256 still serve")
    t.ok(all(p == [str(proc)] for p in (served_by(m) for m in
                                         ["whe_keep_1", "whe_keep_2", "whe_keep_3", "whe_keep_257"] +
                                         ["whe_keep_again%d" % i for i in range(256)])),
         "  ...all of it by the one process", log_of(err)[-600:])
    t.eq(a.head("whe_keep_big", length=2000000).finish(b"x" * 100000), 413,
         "a body refused unread (413) on a kept connection")
    t.eq(a.request("whe_keep_after"), 200,
         "  ...the connection serves its next request: the rest of that body was dropped, not parsed")
    k = kept[1]
    held = hold(pool, [proc], "whe_keep_held")
    k.head("whe_keep_late").send_body()
    os.kill(proc, signal.SIGTERM)
    t.eq(held.finish(), 200, "SIGTERM while a kept connection has a request waiting: the one in flight is answered")
    t.eq(k.response(), 200, "  ...and the waiting one too, before the process exits")
    t.eq(pool.proc.wait(timeout=30), 0, "  ...which it does, with 0")

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

    # The same while the workers are still starting, at a different point
    # each time: a death signal that comes before a worker's own handlers
    # are in must still end it.  Bounded: 20 pools of 8.
    orphaned = []
    for i in range(20):
        pool, _ = pool_in(sc, "starting%d" % i, workers=8)
        master = pool.proc.pid
        until(lambda: len(children(master)) >= 1 + i % 7, 10, 0.0005)
        os.kill(master, signal.SIGKILL)
        pool.proc.wait(timeout=30)
        if not until(lambda: not of_config(pool.config), 10, 0.05):
            orphaned.append(of_config(pool.config))
            for p in orphaned[-1]:
                os.kill(p, signal.SIGKILL)
    t.eq(orphaned, [], "a master killed with -9 while its workers start, 20 times: no worker outlives it")

    sanitizer_clean(t, *[os.path.join(sc.tmp, d, "fcgi.err") for d in
                         ["default", "three", "kept", "idle", "orphans"] + ["starting%d" % i for i in range(20)]])

t.done()
