#!/usr/bin/env python3
"""Jail cost: setting up a jail and running `true` in it, sandhook against
bubblewrap doing the same, side by side in one run.

sandhook: start the jail process (namespaces, tmpfs root, pivot_root, uid
drop, rlimits, seccomp), send one bash call `true`, close the channel, wait
for the jail to exit.  bwrap: the same namespaces and mounts, then
`/bin/bash --noprofile --norc -c true`.  Run as root from a built tree:

    python3 bench/jail.py [iterations]
"""
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
JAIL = os.path.join(TOP, "src", "sandhook-jail")


def fd_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def sandhook_once(root, ws):
    a, b = socket.socketpair()
    t0 = time.perf_counter()
    # The jail takes its channel on fd 3, closes every other descriptor and
    # reads its setup as the first frame.  The channel is put on fd 3 here,
    # not in a preexec_fn, which would make Python fork where it otherwise
    # vforks, as it does for bwrap.
    saved = os.dup(3) if fd_open(3) else None
    os.dup2(b.fileno(), 3)
    try:
        p = subprocess.Popen([JAIL], pass_fds=(3,), env={}, stdin=subprocess.DEVNULL)
    finally:
        if saved is None:
            os.close(3)
        else:
            os.dup2(saved, 3)
            os.close(saved)
    b.close()
    setup = json.dumps({"root": root, "workspace": ws, "uid": 65534, "gid": 65534,
                        "host_network": False, "memdir": "", "ro_stores": "", "egress_socket": "",
                        "limits": "cpu=600,as=4096,nofile=1024,nproc=512,fsize=1024,tmp=64"}).encode()
    a.sendall(struct.pack(">I", len(setup)) + setup)
    msg = json.dumps({"op": 1, "tool": "bash", "input": {"command": "true"},  # JAIL_OP_TOOL
                      "timeout_ms": 10000}).encode()
    a.sendall(struct.pack(">I", len(msg)) + msg)
    n = struct.unpack(">I", a.recv(4, socket.MSG_WAITALL))[0]
    reply = json.loads(a.recv(n, socket.MSG_WAITALL))
    a.close()
    p.wait()
    dt = time.perf_counter() - t0
    assert reply["is_error"] is False, reply
    return dt


def bwrap_once(ws):
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--ro-bind", "/usr", "/usr"]
    for d in ("bin", "sbin", "lib", "lib64"):
        if os.path.islink("/" + d):
            args += ["--symlink", os.readlink("/" + d), "/" + d]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", ws, "/workspace",
             "--chdir", "/workspace", "--uid", "65534", "--gid", "65534", "--cap-drop", "ALL",
             "/bin/bash", "--noprofile", "--norc", "-c", "true"]
    t0 = time.perf_counter()
    subprocess.run(args, check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - t0


def summary(xs):
    xs = sorted(xs)
    return {"median_ms": round(statistics.median(xs) * 1000, 2),
            "p90_ms": round(xs[int(len(xs) * 0.9) - 1] * 1000, 2),
            "min_ms": round(xs[0] * 1000, 2)}


def measure(n):
    """n interleaved runs of each: (sandhook's seconds, bwrap's)."""
    if os.geteuid() != 0:
        sys.exit("bench: run as root")
    if not shutil.which("bwrap"):
        sys.exit("bench: bwrap not found (apt-get install bubblewrap)")
    tmp = tempfile.mkdtemp(prefix="sandhook-bench-")
    root, ws = os.path.join(tmp, "root"), os.path.join(tmp, "ws")
    os.makedirs(root)
    os.makedirs(ws)
    os.chown(ws, 65534, 65534)
    ours, theirs = [], []
    # Hold fds 3 and 4 so the socketpair never lands on 3.
    hold = [os.open("/dev/null", os.O_RDONLY) for _ in range(2)]
    for fd in hold:
        os.set_inheritable(fd, False)
    try:
        for i in range(n):      # interleaved, so both see the same machine load
            ours.append(sandhook_once(root, ws))
            theirs.append(bwrap_once(ws))
    finally:
        for fd in hold:
            os.close(fd)
        shutil.rmtree(tmp, ignore_errors=True)
    return ours, theirs


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    ours, theirs = measure(n)
    s, b = summary(ours), summary(theirs)
    print("iterations: %d" % n)
    print("sandhook jail + true: median %.2f ms, p90 %.2f ms, min %.2f ms" % (s["median_ms"], s["p90_ms"], s["min_ms"]))
    print("bwrap + true:         median %.2f ms, p90 %.2f ms, min %.2f ms" % (b["median_ms"], b["p90_ms"], b["min_ms"]))
    print("ratio sandhook/bwrap (median): %.2f" % (s["median_ms"] / b["median_ms"]))


if __name__ == "__main__":
    main()
