#!/usr/bin/env python3
"""Egress cost: what the proxy adds to a connection's setup, measured over
a local test server, side by side in one run.

direct: connect to the server and exchange one small HTTP request and
answer.  proxy: the same through sandhook-egress, as a tool's connection
reaches it from the jail's relay (its Unix socket, CONNECT, "200
Connection established", then the request).  The name is pinned to
127.0.0.1 with SANDHOOK_EGRESS_RESOLVE and allowed by name, so the proxy
does its whole check (name, then the address) on every connection.  Run
as root from a built tree (the proxy drops to uid 65534):

    python3 bench/egress.py [iterations]

The issue's goal: at most 1 ms added to the setup.
"""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
EGRESS = os.path.join(os.environ.get("SANDHOOK_BUILD_DIR", TOP), "src", "sandhook-egress")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 500


def read_head(sock):
    """Bytes up to the end of an HTTP head (or the connection's end)."""
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = sock.recv(4096)
        if not chunk:
            break
        got += chunk
    return got


def small_server():
    """One thread, one connection at a time: accept, read the head, answer
    204, close.  As little of Python between the two measurements as can
    be."""
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(128)

    def loop():
        while True:
            c, _ = lsock.accept()
            read_head(c)
            c.sendall(b"HTTP/1.0 204 No Content\r\n\r\n")
            c.close()
    threading.Thread(target=loop, daemon=True).start()
    return lsock.getsockname()[1]


def request(sock):
    sock.sendall(b"GET / HTTP/1.0\r\nHost: bench.test\r\n\r\n")
    return read_head(sock).startswith(b"HTTP/1.0 204")


def timed(open_conn):
    """Seconds to open a connection (open_conn returns the socket, or None)
    and exchange the request on it, and whether the answer came."""
    t0 = time.perf_counter()
    s = open_conn()
    ok = s is not None and request(s)
    dt = time.perf_counter() - t0
    if s is not None:
        s.close()
    return dt, ok


def direct(port):
    return timed(lambda: socket.create_connection(("127.0.0.1", port)))


def proxied(path, port):
    def through_proxy():
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        s.sendall(b"CONNECT bench.test:%d HTTP/1.1\r\n\r\n" % port)
        return s if read_head(s).startswith(b"HTTP/1.1 200") else None
    return timed(through_proxy)


def main():
    port = small_server()
    tmp = tempfile.mkdtemp(prefix="sandhook-bench-")
    path = os.path.join(tmp, "egress.sock")
    lsock = socket.socket(socket.AF_UNIX)
    lsock.bind(path)
    lsock.listen(128)
    os.chmod(path, 0o666)
    ctl_parent, ctl_child = socket.socketpair()
    env = {"SANDHOOK_EGRESS_ALLOW": "bench.test", "SANDHOOK_EGRESS_RESOLVE": "bench.test=127.0.0.1",
           "SANDHOOK_SESSION_ID": "sesn_bench", "PATH": "/usr/bin:/bin"}
    proxy = subprocess.Popen([EGRESS, "--uid", "65534", "--gid", "65534"], stdin=lsock, env=env,
                             stderr=subprocess.DEVNULL, pass_fds=[3],
                             preexec_fn=lambda: os.dup2(ctl_child.fileno(), 3))
    lsock.close()
    ctl_child.close()
    try:
        for _ in range(20):                 # warm both paths
            direct(port)
            proxied(path, port)
        d, p = [], []
        for _ in range(N):
            dt, ok = direct(port)
            d.append(dt)
            dt, ok2 = proxied(path, port)
            p.append(dt)
            if not (ok and ok2):
                sys.exit("bench: a request failed")
        med_d, med_p = statistics.median(d), statistics.median(p)
        p90 = lambda xs: sorted(xs)[int(len(xs) * 0.9)]  # noqa: E731
        print("egress setup, %d connections each, one small request" % N)
        print("  direct           median %.3f ms   p90 %.3f ms" % (med_d * 1e3, p90(d) * 1e3))
        print("  through the proxy median %.3f ms   p90 %.3f ms" % (med_p * 1e3, p90(p) * 1e3))
        print("  added            median %.3f ms   (goal: at most 1 ms)" % ((med_p - med_d) * 1e3))
    finally:
        ctl_parent.close()
        proxy.wait(10)


if __name__ == "__main__":
    main()
