#!/usr/bin/env python3
"""The README's Deploy recipes, run as written: install from the sources,
configure, then nginx with a FastCGI pool, Apache with mod_proxy_fcgi and
Apache with mod_fcgid, each taking a signed run_started whose session then
runs to the end against the fake control plane.

The recipes change /etc, /usr/local, /var and /run and start servers on
ports 80 and 443, so this runs in namespaces of its own: those directories
are overlays on a temporary tmpfs, the network namespace has nothing but its
own loopback, and the PID namespace takes every daemon down at the end.
"""
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from harness import (ENV_ID, ENV_KEY, SIGNING_KEY, TOP, Checks, Fake, final_checks,  # noqa: E402
                     need_root, run_started, skip, wait_for)

INSIDE = "SANDHOOK_RECIPES_INSIDE"


def recipes():
    """{subsection: [shell block, ...]} from the README's Deploy section."""
    text = open(os.path.join(TOP, "README.md")).read()
    deploy = text[text.index("\n## Deploy"):text.index("\n## Security model")]
    blocks, section, cur = {}, "Deploy", None
    for line in deploy.split("\n") + [""]:
        if line.startswith("    "):
            cur = (cur or []) + [line[4:]]
            continue
        if cur:
            blocks.setdefault(section, []).append("\n".join(cur) + "\n")
            cur = None
        if line.startswith("#"):
            section = line.lstrip("#").strip()
    return blocks


def enter_namespaces():
    need_root()
    for tool in ("unshare", "ip", "openssl", "nginx", "apache2ctl", "spawn-fcgi"):
        if not shutil.which(tool):
            skip("%s is not installed (see scripts/install-deps)" % tool)
    if "overlay" not in open("/proc/filesystems").read():
        skip("the kernel has no overlayfs to keep the recipes off the real /etc")
    tmp = tempfile.mkdtemp(prefix="sandhook-recipes-")
    os.chmod(tmp, 0o755)
    rc = subprocess.call(["unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc",
                          "--propagation", "private", sys.executable, os.path.abspath(__file__)],
                         env=dict(os.environ, **{INSIDE: tmp}))
    if rc == 0:
        shutil.rmtree(tmp)
    else:
        print("# kept %s for a look (recipes.log)" % tmp)
    sys.exit(rc)


def sh(cmd, cwd="/", log=None):
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", cmd], cwd=cwd, capture_output=True,
                       text=True, timeout=600)
    if log:
        with open(log, "a") as f:
            f.write("$ %s\n%s%s\n" % (cmd, p.stdout, p.stderr))
    return p


def isolate(tmp):
    sh("ip link set lo up")
    ov = os.path.join(tmp, "ov")
    os.makedirs(ov)
    sh("mount -t tmpfs tmpfs " + ov)
    for d in ("/etc", "/var", "/usr/local"):
        name = d.strip("/").replace("/", "-")
        up, work = os.path.join(ov, name), os.path.join(ov, name + ".work")
        os.makedirs(up)
        os.makedirs(work)
        p = sh("mount -t overlay overlay -o lowerdir=%s,upperdir=%s,workdir=%s %s" % (d, up, work, d))
        if p.returncode:
            skip("cannot overlay %s here: %s" % (d, p.stderr.strip()))
    sh("mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 1777 /run/lock")


def copy_sources(tmp):
    """The sources as a user unpacks them: no build products of ours."""
    src = os.path.join(tmp, "src")
    def ignore(d, names):
        drop = {".git", "node_modules", "autom4te.cache"}
        if os.path.samefile(d, TOP):     # distcheck's and install's leftovers
            drop |= {n for n in names if n.startswith(("sandhook-", "_dest"))}
        if os.path.basename(d) == "fuzz":  # a campaign's corpus changes as it runs
            drop |= {"work", "obj"} | {n for n in names if n.startswith("fuzz_") and not n.endswith(".c")}
        return [n for n in names if n in drop or n.endswith((".o", ".a"))]

    shutil.copytree(TOP, src, symlinks=True, ignore=ignore)
    if os.path.exists(os.path.join(src, "Makefile")):
        sh("make -s distclean >/dev/null", cwd=src)
    return src


def post(url, body, headers, host=None):
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers=dict(headers, **({"Host": host} if host else {})))
    ctx = ssl._create_unverified_context()
    try:
        with urllib.request.urlopen(req, timeout=30, context=ctx) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def session_runs(t, fake, url, how, host=None):
    """A run_started through the server answers 202 and its one call runs."""
    sid = fake.session([{"tool": "bash", "input": {"command": "echo deployed as $(id -u)"}}])["session_id"]
    body, hdrs = run_started(sid)
    # A graceful reload finishes in the background: retry until the new
    # configuration answers, for at most 10 s.
    end = time.time() + 10
    st = post(url, body, hdrs, host)
    while st in (0, 404, 502, 503) and time.time() < end:
        time.sleep(0.3)
        st = post(url, body, hdrs, host)
    t.eq(st, 202, "run_started through %s is 202" % how)
    try:
        wait_for(lambda: fake.state(sid)["status"] == "terminated", 60, 0.2, "the session")
    except TimeoutError:
        pass
    t.eq([r["content"][0]["text"] for r in fake.state(sid)["results"].values()],
         ["deployed as 65534"], "and its session ran in the jail " + how)


def main():
    t = Checks()
    blocks = recipes()
    tmp = os.environ[INSIDE]
    log = os.path.join(tmp, "recipes.log")
    src = copy_sources(tmp)
    isolate(tmp)
    fake = Fake(tmp)
    try:
        install = blocks["Deploy"][0]
        p = sh(install, cwd=src, log=log)
        t.eq(p.returncode, 0, "the install recipe ran as written")
        if p.returncode:
            print(open(log).read()[-3000:])
            t.done()
        # What the recipe leaves to the operator: the real values and keys.
        conf = "/etc/sandhook/sandhook.conf"
        text = open(conf).read().replace("env_...", ENV_ID)
        with open(conf, "w") as f:
            f.write(text + "ANTHROPIC_BASE_URL=%s\nSANDHOOK_IDLE_TIMEOUT_MS=3000\n" % fake.url)
        for name, value in (("environment.key", ENV_KEY), ("signing.key", SIGNING_KEY)):
            fd = os.open("/etc/sandhook/" + name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.write(fd, value.encode() + b"\n")
            os.close(fd)
        t.ok(os.access("/usr/local/bin/sandhook", os.X_OK) and
             os.path.exists("/usr/local/share/man/man8/sandhook.8"), "sandhook and its man page are installed")

        # nginx, already running as on any host that has it, with a
        # certificate for the example's name.
        sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=hooks.example.com "
           "-keyout /etc/ssl/private/hooks.example.com.key -out /etc/ssl/certs/hooks.example.com.pem")
        sh("nginx", log=log)
        p = sh(blocks["nginx"][0], log=log)
        t.eq(p.returncode, 0, "the nginx recipe ran as written")
        session_runs(t, fake, "https://127.0.0.1/hooks/sandhook", "nginx on 443", "hooks.example.com")
        sh("nginx -s quit", log=log)

        sh("apache2ctl start", log=log)
        p = sh(blocks["Apache"][0], log=log)
        t.eq(p.returncode, 0, "the Apache mod_proxy_fcgi recipe ran as written")
        session_runs(t, fake, "http://127.0.0.1/hooks/sandhook", "Apache with mod_proxy_fcgi")

        # Switching over: the pool and the other example go first.
        sh("a2disconf -q sandhook-proxy-fcgi && pkill -x spawn-fcgi; pkill -f 'bin/sandhook --config' || true",
           log=log)
        p = sh(blocks["Apache"][1], log=log)
        t.eq(p.returncode, 0, "the Apache mod_fcgid recipe ran as written")
        session_runs(t, fake, "http://127.0.0.1/hooks/sandhook", "Apache with mod_fcgid")
        t.ok("reason=unprivileged" in open("/var/lib/sandhook/sandhook.log").read(),
             "where mod_fcgid ran sandhook as www-data, without root")
        p = sh(blocks["Nothing grows forever"][0], log=log)
        t.ok(p.returncode == 0 and
             sh("logrotate -d /etc/logrotate.d/sandhook", log=log).returncode == 0,
             "the logrotate recipe ran as written, and logrotate accepts the file")
        print("# SKIP the systemd recipe: it needs systemd as PID 1; "
              "tests/e2e/socket_activation.py runs the same units")
        final_checks(t, fake, "/var/lib/sandhook/sandhook.log")
    finally:
        sh("apache2ctl stop; nginx -s quit", log=log)
        fake.stop()
    if t.failed:
        print(open(log).read()[-4000:])
    t.done()


if os.environ.get(INSIDE):
    main()
else:
    enter_namespaces()
