"""Shared pieces of the end-to-end tests: the fake control plane, signed
webhooks, and sandhook run as CGI, as FastCGI and behind a real nginx.

Every server binds 127.0.0.1 or a Unix socket in a temporary directory, and
every wait is bounded.
"""
import atexit
import base64
import grp
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("SANDHOOK_BUILD_DIR", TOP)
SANDHOOK = os.path.join(BUILD, "src", "sandhook")
FAKE = os.path.join(TOP, "tests", "fake", "fake_cp.py")
# Random per run, so a search for them cannot match by accident.
SIGNING_KEY = "whsec_" + base64.b64encode(os.urandom(32)).decode()
ENV_ID = "env_fake"
ENV_KEY = "sk-ant-oat01-fake-" + os.urandom(16).hex()

SKIP = 77


def shipped(part, name):
    """A shipped example or unit as this build made it (from its .in, with
    the configured paths), the installed sandhook's path pointing at the
    one under test."""
    path = os.path.join(BUILD, part, name)
    if not os.path.exists(path):
        path = os.path.join(TOP, part, name)
    return re.sub(r'/[^\s"=]*/bin/sandhook\b', SANDHOOK, open(path).read())


def skip(why):
    print("SKIP: " + why)
    sys.exit(SKIP)


class Checks:
    """Counts assertions and prints one line each, TAP-like."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, what, detail=""):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, what))
        else:
            self.failed += 1
            _TMP["keep"] = True
            print("not ok %d - %s %s" % (self.n, what, detail))
        return cond

    def eq(self, got, want, what):
        return self.ok(got == want, what, "(got %r, want %r)" % (got, want))

    def done(self):
        print("%d passed, %d failed" % (self.n - self.failed, self.failed))
        sys.exit(1 if self.failed else 0)


def wait_for(pred, timeout, step=0.05, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise TimeoutError("timed out after %ss waiting for %s" % (timeout, what))


def until(pred, timeout, step=0.05):
    """Whether pred() came true within timeout: for checks that are a wait."""
    try:
        return bool(wait_for(pred, timeout, step))
    except TimeoutError:
        return False


def stop_proc(proc):
    """Ends a server we started: TERM, then KILL after 5 s."""
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Fake:
    def __init__(self, tmp, ttl=30, empty_poll="204"):
        self.port_file = os.path.join(tmp, "fake.port")
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self.proc = subprocess.Popen(
            [sys.executable, FAKE, "--port-file", self.port_file, "--ttl", str(ttl),
             "--empty-poll", empty_poll, "--environment-id", ENV_ID,
             "--environment-key", ENV_KEY])
        wait_for(lambda: os.path.exists(self.port_file), 10, what="fake to start")
        with open(self.port_file) as f:
            self.port = int(f.read())
        self.url = "http://127.0.0.1:%d" % self.port

    def call(self, method, path, body=None, timeout=10):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read() or b"null")

    def session(self, script, **kw):
        spec = dict(kw, script=script)
        return self.call("POST", "/_fake/sessions", spec)

    def sessions(self, sids, script, **kw):
        """Sessions of the given ids, all queued at once."""
        return self.call("POST", "/_fake/sessions/batch", dict(kw, ids=sids, script=script))["work_ids"]

    def state(self, sid):
        return self.call("GET", "/_fake/sessions/" + sid)

    def work(self):
        return self.call("GET", "/_fake/work")["data"]

    def log(self):
        return self.call("GET", "/_fake/log")

    def wait_stopped(self, sids, timeout):
        """Whether the work item of every session in sids stopped within
        timeout seconds; the fake answers when they have (no polling)."""
        return self.call("POST", "/_fake/work/wait", {"ids": list(sids), "timeout_s": timeout},
                         timeout=timeout + 10)["left"] == 0

    def faults(self, **kw):
        return self.call("POST", "/_fake/faults", kw)

    def config(self, **kw):
        return self.call("POST", "/_fake/config", kw)

    def stop(self):
        stop_proc(self.proc)


def write_config(tmp, base_url, **extra):
    state = str(extra.get("SANDHOOK_STATE_DIR") or os.path.join(tmp, "state"))
    os.makedirs(state, exist_ok=True)
    path = os.path.join(tmp, "sandhook.conf")
    settings = {
        "ANTHROPIC_ENVIRONMENT_ID": ENV_ID,
        "ANTHROPIC_ENVIRONMENT_KEY": ENV_KEY,
        "ANTHROPIC_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
        "ANTHROPIC_BASE_URL": base_url,
        "SANDHOOK_STATE_DIR": state,
        "SANDHOOK_IDLE_TIMEOUT_MS": "3000",
        # A workspace image is allocated in full: small ones keep the suite
        # light on disk; the tests about the cap set their own.
        "SANDHOOK_WORKSPACE_MB": "256",
    }
    settings.update({k: None if v is None else str(v) for k, v in extra.items()})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for k, v in settings.items():
            if v is not None:
                f.write("%s=%s\n" % (k, v))
    return path, state


def sign(body, msg_id, ts=None, key=SIGNING_KEY):
    ts = int(time.time()) if ts is None else ts
    raw = base64.b64decode(key[len("whsec_"):])
    mac = hmac.new(raw, ("%s.%d." % (msg_id, ts)).encode() + body, hashlib.sha256).digest()
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": "v1," + base64.b64encode(mac).decode()}


def delivery(data_type, resource_id, msg_id=None, key=SIGNING_KEY):
    """A signed delivery of an event of data_type about resource_id: (body,
    headers), its webhook-id fresh unless msg_id is given."""
    msg_id = msg_id or "whe_" + os.urandom(8).hex()
    body = json.dumps({"type": "event", "id": msg_id, "created_at": "2026-11-28T00:00:00Z",
                       "data": {"type": data_type, "id": resource_id,
                                "organization_id": "org_x", "workspace_id": "wrkspc_x"}}).encode()
    return body, sign(body, msg_id, key=key)


def run_started(session_id, msg_id=None):
    return delivery("session.status_run_started", session_id, msg_id)


# Each test process names its gated commands apart, so two suites on one
# machine (a developer's and CI's) never let each other's go.
_RUN = "%x%s" % (os.getpid(), os.urandom(2).hex())


def gated(tag, text):
    """A bash command that runs until the test lets it go (release(tag)),
    then prints text: a session that cannot finish before the test says so,
    so "answered before the session ran" is a state, not a race."""
    return ("(exec -a %s_%s sleep infinity &); while [ ! -e /tmp/go ]; do sleep 0.05; done; echo %s"
            % (tag, _RUN, text))


def once(tag):
    """A bash command for re-run tests: the first time it runs it leaves a
    mark in /workspace (kept across work items) and waits, as gated(tag),
    then prints "first"; any later run prints "rerun" at once."""
    return "if [ -e /workspace/ran ]; then echo rerun; else touch /workspace/ran; %s; fi" % gated(tag, "first")


def tagged(tag):
    """The pid of the process a gated command named tag, or None.  Its
    argv[0] is the tag, matched whole: "cgi_gate" must not find another
    test's "fcgi_gate"."""
    p = subprocess.run(["pgrep", "-f", "^%s_%s( |$)" % (tag, _RUN)], capture_output=True,
                       text=True).stdout.split()
    return p[0] if p else None


def procs_of(state, prog):
    """This state's processes of program prog (their comm: the drainer
    retitles its command line) whose stderr is its drainer log (drainers,
    jails), each with its parent's pid."""
    log = os.path.join(state, "sandhook.log")
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            comm = open("/proc/%s/comm" % pid, "rb").read().rstrip(b"\n")
            if comm == prog[:15] and os.readlink("/proc/%s/fd/2" % pid) == log:
                found[pid] = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
    return found


def jail_procs(state):
    """This state's jail processes, each with its parent's pid."""
    return procs_of(state, b"sandhook-jail")


def nginx_front(sc, tmp=None, **settings):
    """sandhook behind spawn-fcgi and a real nginx, as the README deploys
    it, with settings; returns (nginx, state directory, drainer log)."""
    tmp = tmp or sc.tmp
    cfg, state = write_config(tmp, sc.fake.url, **settings)
    pool = sc.add(FcgiPool(tmp, cfg))
    return sc.add(Nginx(tmp, pool.sock)), state, os.path.join(state, "sandhook.log")


def release(tag, timeout=60):
    """Lets a gated command go: the go file, made through its jail's root."""
    pid = wait_for(lambda: tagged(tag), timeout, 0.05, "the gated command " + tag)
    # Made by the jail's own uid, from inside its /tmp: root has no
    # mapping in an unprivileged jail's user namespace (EOVERFLOW).
    st = os.stat("/proc/%s" % pid)
    fd = os.open("/proc/%s/root/tmp" % pid, os.O_RDONLY | os.O_DIRECTORY)
    child = os.fork()
    if child == 0:
        try:
            os.fchdir(fd)
            os.setgroups([])
            os.setgid(st.st_gid)
            os.setuid(st.st_uid)
            os.close(os.open("go", os.O_WRONLY | os.O_CREAT, 0o644))
            os._exit(0)
        except BaseException:
            os._exit(1)
    os.close(fd)
    if os.waitpid(child, 0)[1] != 0:
        raise AssertionError("cannot let %s go" % tag)


def cgi_env(config, body, headers, method="POST"):
    """The environment a web server gives sandhook as a CGI program."""
    env = {"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": method,
           "CONTENT_LENGTH": str(len(body)), "SANDHOOK_CONFIG": config,
           "PATH": "/usr/bin:/bin"}
    for k, v in headers.items():
        env["HTTP_" + k.upper().replace("-", "_")] = v
    return env


def cgi(config, body, headers, method="POST", extra_env=None):
    """Runs sandhook as a CGI program; returns (status, headers, body, seconds)."""
    env = cgi_env(config, body, headers, method)
    env.update(extra_env or {})
    t0 = time.time()
    p = subprocess.run([SANDHOOK], input=body, env=env, capture_output=True, timeout=30)
    out = p.stdout.decode(errors="replace")
    err = p.stderr.decode(errors="replace")
    if "Sanitizer" in err or "runtime error:" in err:
        raise AssertionError("sanitizer report from the CGI responder:\n" + err)
    head, _, payload = out.partition("\r\n\r\n")
    status = int(head.split("\r\n")[0].split()[1]) if head.startswith("Status:") else 0
    hdrs = dict(line.split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)
    return status, hdrs, payload, time.time() - t0, err


def drainer_log(state):
    try:
        with open(os.path.join(state, "sandhook.log")) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def sanitizer_clean(t, *paths):
    """Fails when a sanitizer reported in the drainer's or jail's log."""
    bad = []
    for p in paths:
        try:
            with open(p, errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            continue
        if "Sanitizer" in text or "runtime error:" in text:
            bad.append(p)
    names = [os.path.basename(p) for p in paths]
    t.ok(not bad, "no sanitizer report in %s" % ", ".join(
        n if names.count(n) == 1 else "%d %s" % (names.count(n), n) for n in dict.fromkeys(names)),
         "".join(open(p, errors="replace").read()[-3000:] for p in bad))


def final_checks(t, fake, *logs):
    """What every end-to-end test ends on: no protocol violation seen by
    the fake, no sanitizer report in sandhook's logs."""
    t.eq(fake.log()["violations"], [], "the fake saw no protocol violation")
    sanitizer_clean(t, *logs)


def audit_checks(t, path, kinds):
    """The audit trail at path holds: `sandhook audit verify` says ok, and
    it has lines of each kind, {type: [(field, value), ...]} (values that
    some line of that type must carry)."""
    v = subprocess.run([SANDHOOK, "audit", "verify", path], capture_output=True, text=True)
    t.ok(v.returncode == 0 and ": ok, " in v.stdout, "the audit trail's chain holds", v.stdout + v.stderr)
    trail = [json.loads(ln) for ln in open(path)] if os.path.exists(path) else []
    for kind, wants in kinds.items():
        lines = [e for e in trail if e.get("type") == kind]
        missing = [w for w in wants if not any(e.get(w[0]) == w[1] for e in lines)]
        t.ok(lines and not missing, "the audit trail has %s lines%s" % (
            kind, "".join(" (%s=%s)" % w for w in wants)), missing or kind)


class Scenario:
    """One test's world: a temporary directory and the fake control plane,
    plus every server handed to add(), all stopped (last started, first
    stopped) when the with-block ends, however it ends."""

    def __init__(self):
        self.tmp = free_tmp()
        self.fake = Fake(self.tmp)
        self.servers = []

    def add(self, server):
        self.servers.append(server)
        return server

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for server in reversed(self.servers):
            server.stop()
        self.fake.stop()
        return False


def children(pid):
    """The pids of a process's children (a FastCGI pool's workers)."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return sorted(int(x) for x in f.read().split())
    except OSError:
        return []


def unix_listening(path):
    """Whether a Unix socket at path listens.  The file appears at bind(),
    before listen(): a connect in between is refused."""
    try:
        with open("/proc/net/unix") as f:
            next(f)
            for line in f:
                # The path, last, may hold spaces.
                fields = line.rstrip("\n").split(None, 7)
                if len(fields) == 8 and fields[7] == path and int(fields[3], 16) & 0x10000:
                    return True
    except OSError:
        pass
    return False


def unix_connections():
    """Every connected Unix stream socket on the host, from ss: (path, inode,
    peer inode, pids holding it).  A connection still in a listen queue has
    no server end yet: only its client's is listed."""
    out = subprocess.run(["ss", "-xpnH", "state", "established"], capture_output=True,
                         text=True, check=True).stdout
    conns = []
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 7 and f[0] == "u_str":
            conns.append((f[3], int(f[4]), int(f[6]),
                          [int(x.split(",")[0]) for x in " ".join(f[7:]).split("pid=")[1:]]))
    return conns


def give_to(user, *paths):
    """Hands files and directories to the user sandhook will run as."""
    for p in paths:
        os.chown(p, user.pw_uid, user.pw_gid)


# Every test's temporary directories go when it ends, unless a check
# failed, it died of an exception, or SANDHOOK_KEEP_TMP is set: workspace
# images are allocated in full, so a suite that left them behind would fill
# the disk.
_TMP = {"dirs": [], "keep": bool(os.environ.get("SANDHOOK_KEEP_TMP"))}


def _excepthook(*exc, _default=sys.excepthook):
    _TMP["keep"] = True
    _default(*exc)


def _users_of(d):
    """Processes other than this one that hold a file under d open, run in
    it, or name it in their arguments: a drainer's own title hides the last,
    its log on stderr does not."""
    key, me = d + "/", str(os.getpid())
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == me:
            continue
        try:
            links = [os.readlink("/proc/%s/%s" % (pid, x)) for x in ("cwd", "root")]
            links += [os.readlink("/proc/%s/fd/%s" % (pid, fd))
                      for fd in os.listdir("/proc/%s/fd" % pid)]
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                links.append(f.read().decode(errors="replace"))
        except OSError:
            continue
        if any(key in x or x == d for x in links):
            found.append(int(pid))
    return found


def _signal_sandhook(pids, sig):
    for pid in pids:
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().startswith("sandhook"):
                    os.kill(pid, sig)
        except OSError:
            pass


def _remove_tmp():
    for d in _TMP["dirs"]:
        # A drainer on its way out makes the next session's spare workspace
        # in its state directory: removed under it, the directory would come
        # back with a 256 MiB image.  One still polling a fake that is gone
        # retries for half a minute; stopped, it makes none.  A directory
        # kept for a look after a failure is stopped too: a drainer the
        # failed test started detached would poll on into the next tests.
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig:
                _signal_sandhook(_users_of(d), sig)
            if until(lambda: not _users_of(d), 3 if sig is None else 10, 0.1):
                break
        else:
            print("# still in use, by %s: %s" % (_users_of(d), d))
        if _TMP["keep"]:
            print("# kept %s for a look" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)


sys.excepthook = _excepthook
atexit.register(_remove_tmp)


def free_tmp(prefix="sandhook-test-"):
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    _TMP["dirs"].append(d)
    return d


def need_root():
    if os.geteuid() != 0:
        why = "the jail needs root (CAP_SYS_ADMIN) to build its namespaces"
        if os.environ.get("SANDHOOK_JAIL_MUST_WORK"):
            print("FAIL: " + why + ", and SANDHOOK_JAIL_MUST_WORK is set")
            sys.exit(1)
        skip(why)


class FcgiPool:
    """sandhook as a FastCGI responder on a Unix socket, started by
    spawn-fcgi the way an operator would."""

    def __init__(self, tmp, config, extra_args=(), user=None):
        if not shutil.which("spawn-fcgi"):
            skip("spawn-fcgi is not installed (apt-get install spawn-fcgi)")
        self.sock = os.path.join(tmp, "fcgi.sock")
        self.config = config
        as_user = []
        if user:
            as_user = ["-u", user.pw_name, "-g", grp.getgrgid(user.pw_gid).gr_name]
            give_to(user, config, os.path.join(os.path.dirname(config), "state"))
        self.proc = subprocess.Popen(
            ["spawn-fcgi", "-n", "-s", self.sock, "-M", "0666"] + as_user + ["--", SANDHOOK,
             "--config", config] + list(extra_args),
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "fcgi.err"), "w"))
        wait_for(lambda: unix_listening(self.sock), 10, what="the FastCGI socket to listen")

    def post(self, body, headers, method="POST", uri="/hooks/sandhook"):
        """One request through cgi-fcgi, the FastCGI client of libfcgi."""
        env = cgi_env(None, body, headers, method)
        del env["SANDHOOK_CONFIG"]              # the responder was started with its own
        env.update(SCRIPT_NAME=uri, REQUEST_URI=uri, SERVER_PROTOCOL="HTTP/1.1")
        t0 = time.time()
        p = subprocess.run(["cgi-fcgi", "-bind", "-connect", self.sock], input=body, env=env,
                           capture_output=True, timeout=30)
        out = p.stdout.decode(errors="replace")
        head, _, payload = out.partition("\r\n\r\n")
        status = int(head.split("\r\n")[0].split()[1]) if head.startswith("Status:") else 0
        return status, payload, time.time() - t0

    def stop(self):
        stop_proc(self.proc)


class Origin(http.server.BaseHTTPRequestHandler):
    """A local web server for tools to reach through the egress proxy: it
    says which Host and path reached it."""
    def do_GET(self):
        body = ("origin says hello: Host=%s path=%s\n" % (self.headers.get("Host"), self.path)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def serve_origin(tls=None):
    """An Origin on 127.0.0.1, over TLS with the ssl context tls, serving
    from a thread until its shutdown()."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    if tls:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_listening(port, what):
    def up():
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            return False
    wait_for(up, 10, what=what)


class Nginx:
    """A real nginx on 127.0.0.1 whose server block includes the shipped
    location snippets (the webhook's, and the metrics and health ones)
    unchanged, and whose upstream keeps connections as the shipped server
    example does (keepalive=False: as its comment says for fcgiwrap)."""

    def __init__(self, tmp, fcgi_sock, config=None, workers=1, access_log=True, more="",
                 keepalive=True):
        """workers, access_log and more (server-block lines) are for the
        benchmarks: nginx as tuned for load, with a location of its own."""
        binary = os.environ.get("TEST_NGINX_BINARY") or shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(binary):
            skip("nginx is not installed (apt-get install nginx-light)")
        self.prefix = os.path.join(tmp, "nginx")
        os.makedirs(os.path.join(self.prefix, "logs"), exist_ok=True)
        # The snippet as shipped, with only the two paths an operator edits.
        for name in ("sandhook-location.conf", "sandhook-metrics.conf"):
            snippet = shipped("nginx", name)
            if config:
                snippet = snippet.replace("/etc/sandhook/sandhook.conf", config)
            with open(os.path.join(self.prefix, name), "w") as f:
                f.write(snippet)
        upstream = re.search(r"upstream sandhook \{(.*?)\}", shipped("nginx", "sandhook-server.conf"),
                             re.S).group(1)
        keep = " ".join(re.findall(r"^\s*(keepalive\w* [^;]+;)", upstream, re.M)) if keepalive else ""
        params = "/etc/nginx/fastcgi_params"
        shutil.copy(params, self.prefix)
        self.port = free_port()
        conf = os.path.join(self.prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""
daemon off;
worker_processes %(w)s;
pid %(p)s/nginx.pid;
error_log %(p)s/logs/error.log info;
events { worker_connections 1024; }
http {
    access_log %(log)s;
    client_body_temp_path %(p)s/body;
    fastcgi_temp_path %(p)s/fastcgi;
    proxy_temp_path %(p)s/proxy;
    uwsgi_temp_path %(p)s/uwsgi;
    scgi_temp_path %(p)s/scgi;
    upstream sandhook { server unix:%(s)s; %(keep)s }
    server {
        listen 127.0.0.1:%(port)d;
        server_name localhost;
        absolute_redirect off;
        include sandhook-location.conf;
        include sandhook-metrics.conf;
        %(more)s
        location / { return 404; }
    }
}
""" % {"p": self.prefix, "s": fcgi_sock, "port": self.port, "w": workers, "more": more, "keep": keep,
       "log": os.path.join(self.prefix, "logs", "access.log") if access_log else "off"})
        self.proc = subprocess.Popen([binary, "-p", self.prefix, "-c", conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(self.port, "nginx to listen")
        self.url = "http://127.0.0.1:%d" % self.port

    def post(self, path, body, headers, method="POST"):
        req = urllib.request.Request(self.url + path, data=body if method == "POST" else None,
                                     method=method, headers=headers)
        t0 = time.time()
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read().decode(), time.time() - t0, dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), time.time() - t0, dict(e.headers)

    def stop(self):
        stop_proc(self.proc)


class Apache:
    """A real apache2 on 127.0.0.1 running as nobody, including one of the
    shipped examples with only its paths changed (subst)."""

    def __init__(self, tmp, example, subst, modules, extra=""):
        binary = shutil.which("apache2") or "/usr/sbin/apache2"
        mods = "/usr/lib/apache2/modules"
        for m in modules:
            if not os.path.exists(binary) or not os.path.exists("%s/mod_%s.so" % (mods, m)):
                skip("apache2 with mod_%s is not installed (see scripts/install-deps)" % m)
        self.root = os.path.join(tmp, "apache")
        os.makedirs(self.root, exist_ok=True)
        text = shipped("apache", example)
        for old, new in subst.items():
            if old not in text:
                raise AssertionError("%s no longer holds %s" % (example, old))
            text = text.replace(old, new)
        with open(os.path.join(self.root, "sandhook.conf"), "w") as f:
            f.write(text)
        self.port = free_port()
        self.error_log = os.path.join(self.root, "error.log")
        conf = os.path.join(self.root, "httpd.conf")
        with open(conf, "w") as f:
            f.write("""
ServerRoot %(r)s
ServerName localhost
PidFile %(r)s/httpd.pid
Listen 127.0.0.1:%(port)d
LoadModule mpm_event_module %(m)s/mod_mpm_event.so
LoadModule authz_core_module %(m)s/mod_authz_core.so
%(load)s
User nobody
Group nogroup
ErrorLog %(log)s
LogLevel warn
DocumentRoot %(r)s
%(extra)s
Include %(r)s/sandhook.conf
""" % {"r": self.root, "m": mods, "port": self.port, "log": self.error_log, "extra": extra,
       "load": "\n".join("LoadModule %s_module %s/mod_%s.so" % (m, mods, m) for m in modules)})
        self.proc = subprocess.Popen([binary, "-f", conf, "-DFOREGROUND"],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.root, "stderr.log"), "w"))
        wait_listening(self.port, "apache2 to listen")
        self.url = "http://127.0.0.1:%d" % self.port

    def post(self, path, body, headers, method="POST"):
        return Nginx.post(self, path, body, headers, method)

    def stop(self):
        stop_proc(self.proc)


class Fcgiwrap:
    """fcgiwrap on a Unix socket: nginx hands it the request and it runs
    sandhook as a CGI program, as Debian's fcgiwrap package does."""

    def __init__(self, tmp):
        binary = shutil.which("fcgiwrap") or "/usr/sbin/fcgiwrap"
        if not os.path.exists(binary):
            skip("fcgiwrap is not installed (apt-get install fcgiwrap)")
        self.sock = os.path.join(tmp, "fcgiwrap.sock")
        old = os.umask(0)
        try:
            self.proc = subprocess.Popen([binary, "-c", "2", "-s", "unix:" + self.sock],
                                         stdout=subprocess.DEVNULL,
                                         stderr=open(os.path.join(tmp, "fcgiwrap.err"), "w"))
        finally:
            os.umask(old)
        wait_for(lambda: unix_listening(self.sock), 10, what="the fcgiwrap socket to listen")

    def stop(self):
        # Its two workers outlive a TERM to it (they were left running
        # after every test that used it).
        workers = children(self.proc.pid)
        stop_proc(self.proc)
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):
        return None


urllib.request.install_opener(urllib.request.build_opener(NoRedirect))


# The scenario every transport runs: each tool, the permission gate, custom
# and unowned tools left pending, a non-zero exit, shell state across calls.
DENIED = "touch /workspace/denied-ran"
EVERY_TOOL = [
    {"tool": "bash", "input": {"command": "echo hello"}},
    {"tool": "bash", "input": {"command": "cd /tmp && export GREETING=hi"}},
    {"tool": "bash", "input": {"command": "echo $PWD $GREETING"}},
    {"tool": "bash", "input": {"command": "ls /nonexistent"}},
    {"tool": "write", "input": {"file_path": "notes.txt", "content": "alpha\nbeta\ngamma\n"}},
    {"tool": "read", "input": {"file_path": "/workspace/notes.txt", "view_range": [2, 3]}},
    {"tool": "edit", "input": {"file_path": "notes.txt", "old_string": "beta", "new_string": "BETA"}},
    {"tool": "glob", "input": {"pattern": "**/*.txt"}},
    {"tool": "grep", "input": {"pattern": "^BE"}},
    {"tool": "read", "input": {"file_path": "../../etc/shadow"}},
    {"tool": "bash", "input": {"command": DENIED}, "permission": "deny"},
    {"tool": "bash", "input": {"command": "echo confirmed"}, "permission": "ask", "confirm": "allow"},
    {"tool": "bash", "input": {"command": DENIED}, "permission": "ask", "confirm": "deny"},
    {"tool": "bash", "input": {"command": DENIED}, "permission": None},
    {"custom": "lookup_customer", "input": {"id": 7}},
    {"tool": "web_fetch", "input": {"url": "https://example.com"}},
    {"tool": "bash", "input": {"command": "cat /etc/shadow; env | grep -c ANTHROPIC; ls /workspace"}},
]
EVERY_TOOL_RESULTS = [
    ("bash", "echo hello", False, "hello"),
    ("bash", "cd /tmp && export GREETING=hi", False, "(no output)"),
    ("bash", "echo $PWD $GREETING", False, "/tmp hi"),
    ("bash", "ls /nonexistent", True, "ls: cannot access '/nonexistent': No such file or directory"),
    ("write", "notes.txt", False, "wrote 17 bytes to notes.txt"),
    ("read", "/workspace/notes.txt", False, "beta\ngamma"),
    ("edit", "notes.txt", False, "edited notes.txt (1 replacement(s))"),
    ("glob", "**/*.txt", False, "/workspace/notes.txt"),
    ("grep", "^BE", False, "/workspace/notes.txt:2:BETA"),
    ("read", "../../etc/shadow", True,
     "path \"../../etc/shadow\" is outside the session's working directory"),
    ("bash", "echo confirmed", False, "confirmed"),
    # Only notes.txt: the denied, refused and unconfirmed calls never ran.
    ("bash", "cat /etc/shadow; env | grep -c ANTHROPIC; ls /workspace", False,
     "cat: /etc/shadow: No such file or directory\n0\nnotes.txt"),
]


def check_every_tool(t, fake, sid, state):
    """Asserts the EVERY_TOOL session was answered exactly as it should be."""
    st = fake.state(sid)
    calls = {e["id"]: e for e in st["events"] if e["type"] == "agent.tool_use"}
    got = []
    for k, r in st["results"].items():
        inp = calls[k]["input"]
        block = r["content"][0]
        got.append((calls[k]["name"], inp.get("command") or inp.get("file_path") or inp.get("pattern"),
                    r["is_error"], block.get("text", block)))
    for i, w in enumerate(EVERY_TOOL_RESULTS):
        t.eq(got[i] if i < len(got) else None, w, "result %d: %s %s" % (i + 1, w[0], w[1]))
    t.eq(len(got), len(EVERY_TOOL_RESULTS), "exactly one result per executed call, none for the rest")
    names = [calls[k]["name"] for k in calls if k not in st["results"]]
    t.eq(sorted(names), ["bash", "bash", "bash", "web_fetch"],
         "deny, ask+deny, null and web_fetch were left unanswered")
    t.ok(any(e["type"] == "agent.custom_tool_use" for e in st["events"]) and
         not any(e["type"] == "user.custom_tool_result" for e in st["events"]),
         "the custom tool was left pending")


def run_every_tool(t, fake, state, deliver, how):
    """Starts the EVERY_TOOL session with deliver(body, headers) -> status and
    checks every answer once the session has ended."""
    sid = fake.session(EVERY_TOOL)["session_id"]
    body, hdrs = run_started(sid)
    t.eq(deliver(body, hdrs), 202, "the every-tool session started " + how)
    wait_for(lambda: fake.state(sid)["status"] == "terminated" and
             all(w["state"] == "stopped" for w in fake.work()), 60, 0.1, "the every-tool session")
    check_every_tool(t, fake, sid, state)


def posts_over_kept(web, sock, n=20):
    """Posts n signed session.status_idled webhooks one after another
    through web; (their statuses, the connections to the FastCGI socket
    sock open before them, and after), to tell kept connections from one
    made per webhook."""
    def kept():
        return {ino for path, ino, _, _ in unix_connections() if path == sock}

    def idled(i):
        return web.post("/hooks/sandhook", *delivery("session.status_idled", "s", "whe_kept_%d" % i))[0]
    before = kept()
    statuses = [idled(i) for i in range(n)]
    return statuses, before, kept()


def check_front_server(t, fake, state, web, how):
    """What every web server in front of sandhook must do with the shipped
    configuration: only POST, the body cap, headers passed through, never a
    3xx, answer before the session runs, and the every-tool session."""
    st, _, _, _ = web.post("/hooks/sandhook", None, {}, method="GET")
    t.eq(st, 405, "GET on the webhook path is 405 " + how)
    for path in ("/hooks/sandhook/", "/hooks"):
        st, _, _, _ = web.post(path, b"{}", {"Content-Type": "application/json"})
        t.ok(not 300 <= st < 400, "%s answers %d %s, never a 3xx" % (path, st, how))
    big = b"x" * (1024 * 1024 + 10)
    st, _, _, _ = web.post("/hooks/sandhook", big, sign(big, "whe_big"))
    t.eq(st, 413, "a body over the cap is 413 " + how)
    idled, signed = delivery("session.status_idled", "s", "whe_front_1")
    st, _, _, _ = web.post("/hooks/sandhook", idled, dict(signed, **{"Content-Type": "application/json"}))
    t.eq(st, 200, "a signed delivery passes %s and verifies (headers passed)" % how)
    st, _, _, _ = web.post("/hooks/sandhook", idled, {"webhook-id": "whe_front_2"})
    t.eq(st, 400, "missing signature headers are 400 " + how)

    tag = "front_gate_" + os.urandom(4).hex()
    sid = fake.session([{"tool": "bash", "input": {"command": gated(tag, "answered-first")}}])["session_id"]
    body, hdrs = run_started(sid)
    st, _, dt, _ = web.post("/hooks/sandhook", body, hdrs)
    t.eq(st, 202, "run_started %s is 202 (in %.2fs)" % (how, dt))
    t.ok(not fake.state(sid)["results"], "the POST returned while the session it started still ran")
    release(tag)
    wait_for(lambda: fake.state(sid)["status"] == "terminated" and
             all(w["state"] == "stopped" for w in fake.work()), 30, 0.1, "the session")
    t.eq([r["content"][0]["text"] for r in fake.state(sid)["results"].values()], ["answered-first"],
         "the session ran to the end after the response")
    run_every_tool(t, fake, state, lambda b, h: web.post("/hooks/sandhook", b, h)[0], how)
