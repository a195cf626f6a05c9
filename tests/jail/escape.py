#!/usr/bin/env python3
"""The escape suite: hostile tool calls, sent by the fake control plane
through the real path (webhook -> FastCGI responder -> drainer -> jail), each
of which must fail while the host stays untouched.

A case that needs what the machine lacks (cgroups) is skipped with its
reason; with SANDHOOK_JAIL_MUST_WORK=1 (set by CI) the essential layers --
namespaces, seccomp, rlimits -- fail instead of skipping.
"""
import os
import pwd
import re
import secrets
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from harness import (BUILD, ENV_KEY, SIGNING_KEY, Checks, Fake, FcgiPool, free_tmp, need_root,
                     run_started, final_checks, skip, wait_for, write_config)

need_root()
MUST = bool(os.environ.get("SANDHOOK_JAIL_MUST_WORK"))
# Set by escape_unprivileged.py: the responder runs as that user, as
# mod_fcgid runs it, and builds its jail without root.
AS_USER = os.environ.get("SANDHOOK_ESCAPE_AS")
t = Checks()
tmp = free_tmp()
host_secret = secrets.token_hex(16)
host_dir = os.path.join(tmp, "host-only")
os.makedirs(host_dir)
with open(os.path.join(host_dir, "secret.txt"), "w") as f:
    f.write(host_secret)

# A service on the host's loopback, which policy "none" must not reach.
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(4)
listener.settimeout(0.2)
svc_port = listener.getsockname()[1]
svc_hits = []
svc_stop = threading.Event()


def serve():
    while not svc_stop.is_set():
        try:
            c, _ = listener.accept()
            svc_hits.append(c.recv(100))
            c.close()
        except OSError:
            pass


def by_hand():
    """The helper started by hand, not as PID 1 of a namespace of its own:
    where kill(-1) would reach the host's processes, it builds nothing."""
    root = os.path.join(tmp, "by-hand-root")
    os.makedirs(root)
    a, b = socket.socketpair()
    setup = ('{"root":"%s","workspace":"%s","uid":65534,"gid":65534,"limits":"cpu=1"}' % (root, tmp)).encode()
    a.sendall(len(setup).to_bytes(4, "big") + setup)
    # The channel goes on fd 3, as the drainer puts it.
    saved = os.dup(3) if os.path.exists("/proc/self/fd/3") else None
    os.dup2(b.fileno(), 3)
    try:
        p = subprocess.run([os.path.join(BUILD, "src", "sandhook-jail")], pass_fds=(3,), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30)
    finally:
        if saved is None:
            os.close(3)
        else:
            os.dup2(saved, 3)
            os.close(saved)
    a.close()
    b.close()
    t.ok(p.returncode != 0 and "not PID 1 of its own namespace" in p.stderr and not os.listdir(root),
         "the jail helper started by hand refuses, and builds nothing", p.stderr)
    t.ok("errno=" not in p.stderr and "error=" not in p.stderr,
         "  ...and its line gives no errno: no system call failed (it said error=Success)", p.stderr)


threading.Thread(target=serve, daemon=True).start()
victim = subprocess.Popen(["sleep", "300"])
# A writable, setuid-capable mount below /usr on the host: the jail's
# read-only /usr must carry it read-only, nosuid and nodev too.
submount = "/usr/share/sandhook-submount-" + secrets.token_hex(4)
os.mkdir(submount)
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0777", "tmpfs", submount], check=True)

PY = "python3 -c "
CASES = [
    # (name, tool, input, predicate on (is_error, text))
    ("probe", "bash", {"command": "echo jail-up; grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; cat /proc/self/uid_map"}, None),
    ("read host files", "bash", {"command": "cat /etc/shadow; cat %s/secret.txt; cat /proc/1/root/etc/shadow; ls /var/lib /root 2>&1; echo done" % host_dir}, None),
    ("write outside", "bash", {"command": "for p in /usr/x /etc/x /x /var/x /bin/x /proc/sys/kernel/hostname; do echo hi > $p && echo WROTE $p; done; echo done"}, None),
    ("file tool ..", "write", {"file_path": "../../etc/escape", "content": "x"}, None),
    ("file tool abs", "write", {"file_path": "/usr/escape", "content": "x"}, None),
    ("plant links", "bash", {"command": "echo real > real.txt; ln -s /etc/passwd pw; ln -s / rootlink; ln -s ../.. up; echo planted"}, None),
    ("read symlink out", "read", {"file_path": "pw"}, None),
    ("write via dir link", "write", {"file_path": "rootlink/tmp/escape", "content": "x"}, None),
    ("read via .. link", "read", {"file_path": "up/etc/passwd"}, None),
    ("glob via link", "glob", {"pattern": "**/passwd"}, None),
    ("grep via link", "grep", {"pattern": "root:x"}, None),
    ("start swapper", "bash", {"command": "(while :; do ln -sfn /etc/passwd swap; ln -sfn real.txt swap; done) >/dev/null 2>&1 & echo started"}, None),
] + [("swap race %d" % i, "read", {"file_path": "swap"}, None) for i in range(15)] + [
    ("stop swapper", "bash", {"command": "kill %1; wait; echo stopped"}, None),
    ("see host processes", "bash", {"command": "ps -eo pid,comm --no-headers; kill -9 %d 2>&1; echo done" % victim.pid}, None),
    ("signal pid 1", "bash", {"command": "kill -9 1; echo still-here"}, None),
    ("ptrace", "bash", {"command": PY + "\"import ctypes,os; l=ctypes.CDLL(None,use_errno=True); r=l.ptrace(0,0,0,0); print('ptrace', r, os.strerror(ctypes.get_errno()))\""}, None),
    ("mount", "bash", {"command": "mkdir -p /tmp/m; mount -t tmpfs none /tmp/m 2>&1; " + PY + "\"import ctypes,os; l=ctypes.CDLL(None,use_errno=True); r=l.mount(b'none',b'/tmp/m',b'tmpfs',0,None); print('mount', r, os.strerror(ctypes.get_errno()))\""}, None),
    ("mknod", "bash", {"command": "mknod /tmp/mem c 1 1 2>&1; ls -l /tmp/mem 2>&1; echo done"}, None),
    ("syscalls", "bash", {"command": PY + "\"" + "import ctypes,os; l=ctypes.CDLL(None,use_errno=True)\n"
                          "def t(n,*a):\n r=l.syscall(n,*a); print(n, r, os.strerror(ctypes.get_errno()) if r<0 else 'ALLOWED')\n"
                          "t(272,0x10000000); t(250,0,0,0,0); t(321,0,0,0); t(135,0x0040000); t(323,0); t(298,0,0,-1,-1,0); t(425,1,0); t(308,-1,0x40000000)\"" }, None),
    ("x32 syscall", "bash", {"command": PY + "\"import ctypes; ctypes.CDLL(None).syscall(0x40000000 | 39); print('ESCAPED-x32')\"; echo exit=$?"}, None),
    ("TIOCSTI", "bash", {"command": PY + "\"import fcntl,termios,os\ntry:\n fcntl.ioctl(0, termios.TIOCSTI, b'x'); print('ESCAPED-tiocsti')\nexcept OSError as e: print('tiocsti', os.strerror(e.errno))\"; cat /dev/tty 2>&1 | head -1"}, None),
    ("loopback service", "bash", {"command": "(echo hi > /dev/tcp/127.0.0.1/%d) 2>&1; echo done" % svc_port}, None),
    ("host facts", "bash", {"command": "tr '\\0' ' ' < /proc/1/cmdline; echo; " + PY + "\"" +
                            "import socket\n"
                            "def s(name, *a):\n"
                            " try: socket.socket(*a).close(); print(name, 'OPEN')\n"
                            " except OSError as e: print(name, e.strerror)\n"
                            "s('uevent', socket.AF_NETLINK, socket.SOCK_DGRAM, 15)\n"
                            "s('route', socket.AF_NETLINK, socket.SOCK_RAW, 0)\n"
                            "s('vsock', 40, socket.SOCK_STREAM)\n"
                            "s('packet', socket.AF_PACKET, socket.SOCK_RAW)\n"
                            "s('alg', 38, socket.SOCK_SEQPACKET)\n"
                            "s('unix', socket.AF_UNIX, socket.SOCK_STREAM)\n"
                            "s('inet6', socket.AF_INET6, socket.SOCK_STREAM)\""}, None),
    ("submount", "bash", {"command": "awk '$5 == \"%s\" {print $6}' /proc/self/mountinfo; "
                          "touch %s/w 2>&1; echo done" % (submount, submount)}, None),
    ("inherited fds", "bash", {"command": "ls -l /proc/self/fd | tail -n +2 | awk '{print $9, $11}'"}, None),
    ("secrets", "bash", {"command": "env | grep -c ANTHROPIC; cat /proc/1/environ 2>&1 | head -c 200; echo; grep -rl --exclude-dir=proc --exclude-dir=sys --exclude-dir=usr -e '%s' -e '%s' / 2>/dev/null | head; echo scanned" % (ENV_KEY[-24:], SIGNING_KEY[6:30]), "timeout_ms": 600000}, None),
    ("fork bomb", "bash", {"command": "f(){ f | f & }; f; sleep 30", "timeout_ms": 4000}, None),
    ("after fork bomb", "bash", {"command": "echo alive; ps -e --no-headers | wc -l"}, None),
    ("memory hog", "bash", {"command": PY + "\"b = bytearray(2048 * 1024 * 1024); print('ESCAPED-allocated', len(b))\" 2>&1 | tail -1"}, None),
    ("cgroup memory", "bash", {"command": PY + "\"b = bytearray(400 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); print('ESCAPED-cgroup', len(b))\" 2>&1 | tail -1; echo exit=${PIPESTATUS[0]}"}, None),
    ("fill /tmp", "bash", {"command": "dd if=/dev/zero of=/tmp/fill bs=1M count=64 2>&1 | head -1; rm -f /tmp/fill"}, None),
    ("big file", "bash", {"command": "dd if=/dev/zero of=/workspace/big bs=1M count=64 2>&1 | tail -1; ls -l /workspace/big | awk '{print $5}'; rm -f /workspace/big"}, None),
    ("fill workspace", "bash", {"command": "for i in 1 2 3; do dd if=/dev/zero of=/workspace/f$i bs=1M count=30 2>&1 | grep -o 'No space left on device'; done; du -sm /workspace | cut -f1; rm -f /workspace/f*"}, None),
    ("daemonize", "bash", {"command": "(setsid bash -c 'while :; do sleep 1; done' & ); (bash -c '(setsid sleep 1000 &)' &); echo forked; sleep 100", "timeout_ms": 1500}, None),
    ("after daemonize", "bash", {"command": "ps -eo comm --no-headers | sort | uniq -c | awk '{print $2}' | tr '\\n' ' '"}, None),
]

fake = Fake(tmp)
pool = None
try:
    cfg, state = write_config(tmp, fake.url, SANDHOOK_LIMIT_ADDRESS_SPACE_MB=1024,
                              SANDHOOK_LIMIT_MEMORY_MB=256, SANDHOOK_LIMIT_PIDS=128,
                              SANDHOOK_LIMIT_PROCESSES=256, SANDHOOK_LIMIT_FILE_SIZE_MB=32,
                              SANDHOOK_LIMIT_TMP_MB=16, SANDHOOK_WORKSPACE_MB=48)
    pool = FcgiPool(tmp, cfg, user=pwd.getpwnam(AS_USER) if AS_USER else None)
    script = [{"tool": tool, "input": inp} for _, tool, inp, _ in CASES]
    sid = fake.session(script)["session_id"]
    body, hdrs = run_started(sid)
    st, _, _ = pool.post(body, hdrs)
    t.eq(st, 202, "run_started accepted by the FastCGI responder")
    wait_for(lambda: fake.state(sid)["status"] == "terminated" and
             all(w["state"] == "stopped" for w in fake.work()), 900, 0.2, "the escape session")
    s = fake.state(sid)
    calls = [e for e in s["events"] if e["type"] == "agent.tool_use"]
    out = {}
    for (name, _, _, _), call in zip(CASES, calls):
        r = s["results"].get(call["id"])
        out[name] = (r["is_error"], r["content"][0].get("text", "")) if r else (None, "(unanswered)")
    log = open(os.path.join(state, "sandhook.log")).read()

    probe = out["probe"][1]
    if "jail-up" not in probe:
        why = "the jail could not be built here: " + probe
        if MUST:
            t.ok(False, why)
            t.done()
        skip(why)
    t.ok("CapEff:\t0000000000000000" in probe and "CapPrm:\t0000000000000000" in probe and
         "CapBnd:\t0000000000000000" in probe,
         "no capability at all, bounding set included")
    t.ok("NoNewPrivs:\t1" in probe, "no_new_privs is set")
    uid_map = probe.strip().split("\n")[-1].split()
    if uid_map == ["0", "0", "4294967295"]:
        print("# SKIP user namespace: the kernel refused one here (see user_namespace_unavailable)")
    else:
        t.eq(uid_map, ["65534", "65534", "1"], "a user namespace maps the jail uid and nothing else")
    t.ok("Seccomp:\t2" in probe, "a seccomp filter is active")

    text = out["read host files"][1]
    t.ok(host_secret not in text and "root:" not in text, "host files are out of sight")
    text = out["write outside"][1]
    t.ok("WROTE" not in text, "nothing outside /workspace and /tmp is writable")
    t.ok(not os.path.exists("/usr/x") and not os.path.exists("/x"), "the host is untouched")
    for name in ("file tool ..", "file tool abs", "read symlink out", "write via dir link", "read via .. link"):
        e, text = out[name]
        t.ok(e and "outside the session's working directory" in text, "%s: refused" % name, text)
    t.ok("passwd" not in out["glob via link"][1], "glob does not follow links out")
    t.ok("root:x" not in out["grep via link"][1], "grep does not follow links out")
    races = [out["swap race %d" % i] for i in range(15)]
    t.ok(all(txt == "real\n" or "outside the session's working directory" in txt or
             "no such file" in txt for _, txt in races),
         "a symlink swapped between check and use never leads out", repr(races))
    t.ok("stopped" in out["stop swapper"][1], "the swapper stopped")

    text = out["see host processes"][1]
    t.ok("No such process" in text and "sleep" not in text.split("done")[0].replace("No such process", ""),
         "host processes are invisible and cannot be signalled", text)
    t.ok(victim.poll() is None, "the host process is alive")
    t.ok("still-here" in out["signal pid 1"][1], "kill -9 1 does not kill the jail's init")
    t.ok("ptrace -1 Operation not permitted" in out["ptrace"][1], "ptrace is denied", out["ptrace"][1])
    t.ok("mount -1 Operation not permitted" in out["mount"][1], "mount is denied", out["mount"][1])
    t.ok("/tmp/mem" not in out["mknod"][1].replace("cannot access '/tmp/mem'", "")
         .replace("mknod: /tmp/mem", ""), "mknod is denied", out["mknod"][1])
    sc = out["syscalls"][1]
    for nr, what in ((272, "unshare"), (250, "keyctl"), (321, "bpf"), (135, "personality(ADDR_NO_RANDOMIZE)"),
                     (323, "userfaultfd"), (298, "perf_event_open"), (425, "io_uring_setup"),
                     (308, "setns")):
        t.ok("%d -1 Operation not permitted" % nr in sc, "%s is denied" % what, sc)
    t.ok("Bad system call" in out["x32 syscall"][1] and "exit=159" in out["x32 syscall"][1],
         "an x32 system call kills the process", out["x32 syscall"][1])
    t.ok("ESCAPED" not in out["TIOCSTI"][1] and "tiocsti Operation not permitted" in out["TIOCSTI"][1],
         "TIOCSTI is denied", out["TIOCSTI"][1])
    t.ok(not svc_hits and "refused" in out["loopback service"][1].lower(),
         "the host's loopback service is unreachable under network none", out["loopback service"][1])
    text = out["submount"][1]
    opts = text.split("\n")[0].split(",")
    t.ok("ro" in opts and "nosuid" in opts and "nodev" in opts and "Read-only file system" in text,
         "a mount below a read-only host tree is read-only, nosuid and nodev too", text)
    text = out["host facts"][1]
    t.eq(text.split("\n")[0].strip(), "sandhook-jail",
         "/proc/1/cmdline holds no host path, session or work id")
    t.ok(state not in text and "sesn_" not in text and "work_" not in text, "nor does anything else here", text)
    for fam, want in (("uevent", "Protocol not supported"), ("vsock", "Address family not supported by protocol"),
                      ("packet", "Address family not supported by protocol"),
                      ("alg", "Address family not supported by protocol")):
        t.ok("%s %s" % (fam, want) in text, "a %s socket is refused (%s)" % (fam, want), text)
    for fam in ("route", "unix", "inet6"):
        t.ok("%s OPEN" % fam in text, "a %s socket still opens" % fam, text)
    fds = out["inherited fds"][1].split("\n")
    t.ok(all(l.split()[0] in ("0", "1", "2", "3") for l in fds if l.strip()) and
         "socket:" not in out["inherited fds"][1],
         "only fds 0-2 are open, no socket inherited", out["inherited fds"][1])
    text = out["secrets"][1]
    t.ok(text.startswith("0\n") and "sk-ant" not in text and text.strip().endswith("scanned") and
         "/" not in text.split("\n", 2)[-1].replace("scanned", "").replace("/proc/1/environ", "")
         .replace("cat: ", ""), "no key in the environment, /proc or any file", text)
    t.ok(out["fork bomb"][0] and "timed out" in out["fork bomb"][1], "a fork bomb runs into its timeout",
         repr(out["fork bomb"]))
    t.ok("alive" in out["after fork bomb"][1], "a fork bomb is contained; the next call runs",
         repr(out["fork bomb"]) + repr(out["after fork bomb"]))
    t.ok("ESCAPED" not in out["memory hog"][1], "a 2 GiB allocation fails (RLIMIT_AS)", out["memory hog"][1])
    if "cgroup_unavailable" in log:
        print("# SKIP cgroup memory: no cgroup could be made (%s)" %
              re.search(r"cgroup_unavailable .*?(errno=\d+)", log).group(1))
    else:
        t.ok("ESCAPED" not in out["cgroup memory"][1], "a 400 MiB working set is stopped by the memory cgroup",
             out["cgroup memory"][1])
    t.ok("No space left" in out["fill /tmp"][1], "/tmp is capped", out["fill /tmp"][1])
    t.ok(out["big file"][1].strip().endswith(str(32 << 20)),
         "a workspace file stops at RLIMIT_FSIZE", out["big file"][1])
    if "workspace_cap_unavailable" in log:
        print("# SKIP workspace cap: %s" %
              re.search(r"workspace_cap_unavailable .*?reason=(\"[^\"]*\"|\S+)", log).group(1))
    else:
        text = out["fill workspace"][1]
        t.ok("No space left on device" in text and int(text.split()[-1]) <= 48,
             "the workspace is capped at SANDHOOK_WORKSPACE_MB", text)
    t.ok(out["daemonize"][0] and "timed out" in out["daemonize"][1], "the daemonizing call timed out")
    t.ok("sleep" not in out["after daemonize"][1], "nothing it started survived the timeout",
         out["after daemonize"][1])
    t.ok(subprocess.run(["pgrep", "-f", "while :; do sleep 1; done"], capture_output=True).returncode == 1,
         "and nothing escaped to the host's process table")
    by_hand()
    final_checks(t, fake, os.path.join(state, "sandhook.log"), os.path.join(tmp, "fcgi.err"))
finally:
    subprocess.run(["umount", "-l", submount])
    os.rmdir(submount)
    svc_stop.set()
    victim.kill()
    if pool:
        pool.stop()
    fake.stop()
t.done()
