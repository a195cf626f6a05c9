#!/usr/bin/env python3
"""sandhook check: one line per check, what was found and what is lost
without it, exit 1 when any check failed; the control plane is asked
something that claims no work."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (SANDHOOK, Checks, Scenario, cgi, need_root, run_started,  # noqa: E402
                     write_config)

need_root()
NAMES = ["settings", "control plane", "state directory", "log", "jail helper", "namespaces",
         "user namespace", "seccomp", "cgroups", "loop devices"]
OPTIONAL = ["audit trail", "capture", "metrics file"]        # lines only when their setting is set


def check(cfg, *extra):
    p = subprocess.run([SANDHOOK, "--config", cfg, "check"] + list(extra), capture_output=True,
                       text=True, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, timeout=120)
    lines = {}
    for ln in p.stdout.splitlines():
        word, _, rest = ln.partition(" ")
        rest = rest.strip()
        for name in NAMES + OPTIONAL:
            if rest.startswith(name + " ") or rest == name:
                lines[name] = (word, rest[len(name):].strip())
    return p.returncode, lines, p.stdout + p.stderr


def main():
    t = Checks()
    with Scenario() as sc:
        cfg, state = write_config(sc.tmp, sc.fake.url)
        rc, lines, out = check(cfg)
        t.eq(sorted(lines), sorted(NAMES), "one line per check")
        t.ok(not any(n in lines for n in OPTIONAL), "  ...and none for an output nobody set")
        t.ok(all(v[0] in ("ok", "warn") for v in lines.values()) and rc == 0,
             "a good configuration: nothing failed, exit 0", out)
        t.ok(lines.get("control plane", ("", ""))[0] == "ok" and "accepts the key" in
             lines["control plane"][1], "the control plane accepts the key: %s" %
             lines.get("control plane", ("", ""))[1])
        t.eq(sc.fake.work(), [], "the check claimed no work")
        t.eq(sc.fake.log()["violations"], [], "the fake saw no protocol violation")
        # A feature turned off is a warning on any machine: the line must
        # say what is lost, and a warning alone fails nothing.
        cfg, state = write_config(sc.tmp, sc.fake.url, SANDHOOK_CGROUPS=0)
        rc, lines, out = check(cfg)
        warns = [v[1] for v in lines.values() if v[0] == "warn"]
        t.ok(rc == 0 and lines.get("cgroups", ("", ""))[0] == "warn" and
             all("lost:" in w or "fails" in w for w in warns),
             "each warning says what is lost (%d warnings)" % len(warns), warns)

        cfg, state = write_config(sc.tmp, sc.fake.url, ANTHROPIC_ENVIRONMENT_KEY="sk-wrong")
        rc, lines, out = check(cfg)
        cp = lines.get("control plane", ("", ""))
        t.ok(rc == 1 and cp[0] == "FAIL" and "ANTHROPIC_ENVIRONMENT_KEY" in cp[1] and
             "invalid bearer credential" in cp[1],
             "a wrong key: FAIL, with the API's message and the setting to check: %s" % cp[1], out)
        t.ok("sk-wrong" not in out, "  ...and the key is not printed")

        cfg, state = write_config(sc.tmp, sc.fake.url, ANTHROPIC_WEBHOOK_SIGNING_KEY="whsec_!!!")
        rc, lines, out = check(cfg)
        st = lines.get("settings", ("", ""))
        t.ok(rc == 1 and st[0] == "FAIL" and "does not decode" in st[1],
             "a signing key that does not decode: FAIL: %s" % st[1], out)

        cfg, state = write_config(sc.tmp, sc.fake.url)
        os.chmod(cfg, 0o644)
        rc, lines, out = check(cfg)
        st = lines.get("settings", ("", ""))
        t.ok(rc == 1 and st[0] == "FAIL" and "chmod 600" in st[1],
             "a config file holding secrets that others can read: FAIL: %s" % st[1], out)
        os.chmod(cfg, 0o600)

        log = os.path.join(sc.tmp, "no-such-dir", "sandhook.log")
        cfg, state = write_config(sc.tmp, sc.fake.url, SANDHOOK_LOG_FILE=log)
        rc, lines, out = check(cfg)
        lg = lines.get("log", ("", ""))
        t.ok(rc == 1 and lg[0] == "FAIL" and log in lg[1] and "SANDHOOK_LOG_FILE" in lg[1] and "503" in lg[1],
             "a log file that cannot be opened: FAIL, naming it and the setting: %s" % lg[1], out)
        sid = sc.fake.session([{"tool": "bash", "input": {"command": "true"}}])["session_id"]
        body, h = run_started(sid)
        t.eq(cgi(cfg, body, h)[0], 503, "  ...and, as it says, a session's webhook is answered 503")
        real = os.path.join(sc.tmp, "logs", "sandhook.log")
        os.makedirs(os.path.dirname(real))
        open(real, "w").close()
        os.symlink(real, os.path.join(sc.tmp, "linked.log"))
        cfg, state = write_config(sc.tmp, sc.fake.url, SANDHOOK_LOG_FILE=os.path.join(sc.tmp, "linked.log"))
        rc, lines, out = check(cfg)
        t.eq(lines.get("log", ("",))[0], "ok", "a log file reached through a symlink, as the front opens it: ok")
        cfg, state = write_config(sc.tmp, sc.fake.url, SANDHOOK_LOG="syslog",
                                  SANDHOOK_SYSLOG_SOCKET=os.path.join(sc.tmp, "no-syslog.sock"))
        rc, lines, out = check(cfg)
        lg = lines.get("log", ("", ""))
        t.ok(rc == 1 and lg[0] == "FAIL" and "no-syslog.sock" in lg[1] and "SANDHOOK_SYSLOG_SOCKET" in lg[1],
             "a syslog socket nobody listens on: FAIL: %s" % lg[1], out)

        blocker = os.path.join(sc.tmp, "a-file")
        open(blocker, "w").close()
        cfg, state = write_config(sc.tmp, sc.fake.url, SANDHOOK_AUDIT_FILE=os.path.join(blocker, "audit.jsonl"),
                                  SANDHOOK_CAPTURE_DIR=os.path.join(blocker, "capture"),
                                  SANDHOOK_METRICS_FILE=os.path.join(blocker, "sandhook.prom"))
        rc, lines, out = check(cfg)
        au, cap = lines.get("audit trail", ("", "")), lines.get("capture", ("", ""))
        t.ok(rc == 1 and au[0] == "FAIL" and "SANDHOOK_AUDIT_FILE" in au[1] and "serves nothing" in au[1],
             "an audit trail that cannot be opened: FAIL: %s" % au[1], out)
        t.ok(cap[0] == "FAIL" and "SANDHOOK_CAPTURE_DIR" in cap[1] and "Not a directory" in cap[1],
             "a capture directory that cannot be written: FAIL: %s" % cap[1], out)
        mf = lines.get("metrics file", ("", ""))
        t.ok(mf[0] == "FAIL" and "SANDHOOK_METRICS_FILE" in mf[1], "a metrics file that cannot be written: FAIL: %s"
             % mf[1], out)
        sid = sc.fake.session([{"tool": "bash", "input": {"command": "true"}}])["session_id"]
        body, h = run_started(sid)
        status, _, payload, _, err = cgi(cfg, body, h)
        t.ok(status == 503 and "audit_file=" + os.path.join(blocker, "audit.jsonl") in err and
             sc.fake.work()[-1]["state"] == "queued",
             "  ...and, as it says, nothing is served without the trail: the delivery is refused (503)",
             (status, payload, err, sc.fake.work()[-1]))
        cfg, state = write_config(sc.tmp, sc.fake.url, SANDHOOK_AUDIT_FILE=os.path.join(sc.tmp, "audit.jsonl"),
                                  SANDHOOK_CAPTURE_DIR=os.path.join(sc.tmp, "capture"),
                                  SANDHOOK_METRICS_FILE=os.path.join(sc.tmp, "sandhook.prom"))
        rc, lines, out = check(cfg)
        t.ok(all(lines.get(n, ("",))[0] == "ok" for n in OPTIONAL),
             "an audit trail, a capture directory and a metrics file that can be written: ok", out)
        t.ok(not any(os.path.exists(os.path.join(sc.tmp, n)) for n in ("audit.jsonl", "capture", "sandhook.prom")),
             "  ...and the check made none of them: a file it made as root would be root's")

        # A host where no webhook came yet: the service makes its state
        # directory at first use, as its own user; a check run as root must
        # make none of it, or the service could not use it.
        fresh = os.path.join(sc.tmp, "fresh", "state")
        cfg, state = write_config(sc.tmp, sc.fake.url, SANDHOOK_STATE_DIR=fresh,
                                  SANDHOOK_AUDIT_FILE=os.path.join(fresh, "audit.jsonl"))
        os.rmdir(fresh)
        os.rmdir(os.path.dirname(fresh))
        rc, lines, out = check(cfg)
        t.ok(lines.get("state directory", ("",))[0] == "ok" and lines.get("log", ("",))[0] == "ok" and
             lines.get("audit trail", ("",))[0] == "ok",
             "a state directory not made yet: ok, with its log and audit trail to come in it", out)
        t.ok(not os.path.exists(os.path.dirname(fresh)), "  ...and the check made none of it")

        ro = os.path.join(sc.tmp, "ro-state")
        os.makedirs(ro)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro], check=True)
        try:
            cfg, state = write_config(sc.tmp, sc.fake.url, SANDHOOK_STATE_DIR=ro)
            rc, lines, out = check(cfg)
        finally:
            subprocess.run(["umount", ro])
        sd = lines.get("state directory", ("", ""))
        t.ok(rc == 1 and sd[0] == "FAIL" and "not writable" in sd[1],
             "a read-only state directory: FAIL: %s" % sd[1], out)

        # --user answers for the service's user, not for root who runs it.
        cfg, state = write_config(sc.tmp, sc.fake.url)
        rc, lines, out = check(cfg)
        t.ok(rc == 0, "as root, a configuration in root's directories passes", out)
        rc, lines, out = check(cfg, "--user", "nobody")
        t.ok(rc == 1 and out.startswith("ok   user             checking as nobody (uid 65534") and
             lines.get("settings", ("", ""))[0] == "FAIL" and "Permission denied" in lines["settings"][1],
             "check --user nobody: the same configuration fails, nobody cannot read it: %s"
             % lines.get("settings", ("", ""))[1], out)
        public = os.path.join(sc.tmp, "public")
        os.makedirs(public)
        shared = os.path.join(public, "sandhook.conf")
        with open(cfg) as f, open(shared, "w") as g:
            g.write(f.read())
        os.chmod(shared, 0o600)
        os.chown(shared, 65534, 65534)
        os.chmod(sc.tmp, 0o711)
        try:
            rc, lines, out = check(shared, "--user", "nobody")
        finally:
            os.chmod(sc.tmp, 0o700)
        sd = lines.get("state directory", ("", ""))
        t.ok(rc == 1 and lines.get("settings", ("", ""))[0] == "ok" and sd[0] == "FAIL" and
             "Permission denied" in sd[1],
             "  ...given a file it can read, the settings pass and root's state directory fails: %s" % sd[1],
             out)
        ns, un = lines.get("namespaces", ("", "")), lines.get("user namespace", ("", ""))
        t.ok(ns[0] in ("ok", "FAIL") and (ns[0] == "ok") == (un[0] == "ok"),
             "  ...and its namespaces are tried as its jail makes them, inside a user namespace: "
             "namespaces %s, user namespace %s" % (ns[0], un[0]), out)
        rc, lines, out = check(cfg, "--user", "no-such-user-here")
        t.ok(rc == 1 and "FAIL user" in out and "no such user" in out and "settings" not in lines,
             "  ...a user that does not exist: FAIL, and nothing else is checked", out)
        rc, lines, out = check(cfg, "--user")
        t.ok(rc == 2 and "unknown argument '--user'" in out, "  ...--user without a name is refused (exit 2)", out)
    t.done()


if __name__ == "__main__":
    main()
