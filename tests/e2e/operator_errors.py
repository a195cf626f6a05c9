#!/usr/bin/env python3
"""An operator's mistake is never answered with success: a responder
without the environment's id or key (missing, empty, or the README's
placeholder) refuses to start, a CGI request gets a 503, the reason names
the setting; a misspelled variable is warned about by name, never by
value; and API errors (401, 404, nothing listening) are logged with the
host, the API's own message and the setting to check.
"""
import json
import os
import re
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BUILD, ENV_KEY, SANDHOOK, Checks, Scenario, cgi, drainer_log, run_started,  # noqa: E402
                     delivery, free_port, sanitizer_clean, stop_proc, until, write_config)


def fcgi_start(config):
    """sandhook as a FastCGI responder on a listening socket on fd 0, as
    spawn-fcgi starts it; returns (exit status or None while it runs, stderr)."""
    path = config + ".sock"
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.listen(4)
    p = subprocess.Popen([SANDHOOK, "--config", config], stdin=s, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin"})
    s.close()
    try:
        rc = p.wait(20)
    except subprocess.TimeoutExpired:
        stop_proc(p)
        rc = None
    return rc, p.stderr.read().decode(errors="replace")


def main():
    t = Checks()
    with Scenario() as sc:
        body, headers = run_started("sesn_operator_errors")
        for what, extra, needle in (
                ("missing", {"ANTHROPIC_ENVIRONMENT_ID": None}, "ANTHROPIC_ENVIRONMENT_ID is not set"),
                ("empty", {"ANTHROPIC_ENVIRONMENT_KEY": ""}, "ANTHROPIC_ENVIRONMENT_KEY is empty"),
                ("the README's placeholder", {"ANTHROPIC_ENVIRONMENT_ID": "env_..."},
                 "ANTHROPIC_ENVIRONMENT_ID is still a placeholder")):
            cfg, state = write_config(sc.tmp, sc.fake.url, **extra)
            status, _, payload, _, err = cgi(cfg, body, headers)
            t.ok(status == 503 and "misconfigured" in payload,
                 "CGI, environment setting %s: 503, not 202" % what, (status, payload))
            t.ok("event=config_incomplete" in err and needle in err,
                 "  ...and the log line names the setting: %s" % needle, err)
            rc, err = fcgi_start(cfg)
            t.ok(rc == 1 and needle in err,
                 "FastCGI, environment setting %s: it refuses to start (exit %s)" % (what, rc), err)
        t.eq(sc.fake.work(), [], "no work item was claimed by any of them")

        cfg, state = write_config(sc.tmp, sc.fake.url, ANTHROPIC_WEBHOOK_SIGNING_KEY=None)
        rc, err = fcgi_start(cfg)
        t.ok(rc == 1 and "ANTHROPIC_WEBHOOK_SIGNING_KEY is not set" in err,
             "FastCGI without a signing key refuses to start too", err)

        cfg, state = write_config(sc.tmp, sc.fake.url)
        status, _, payload, _, err = cgi(cfg, body, headers,
                                         extra_env={"SANDHOOK_MAX_SESION": "hunter2-not-logged"})
        t.ok(status == 202, "a misspelled variable does not stop a good configuration", (status, err))
        t.ok("event=config_unknown_variable" in err and "name=SANDHOOK_MAX_SESION" in err and
             "did_you_mean=SANDHOOK_MAX_SESSIONS" in err,
             "a misspelled SANDHOOK_ variable is warned about, with the nearest name", err)
        t.ok("hunter2" not in err, "  ...and its value is not logged")
        status, _, _, _, err = cgi(cfg, body, headers, extra_env={"ANTHROPIC_LOG": "debug"})
        t.ok("config_unknown_variable" not in err, "the SDK's own ANTHROPIC_LOG is not warned about", err)

        env = {"PATH": "/usr/bin:/bin", "SANDHOOK_CONFIG": os.path.join(sc.tmp, "absent.conf")}
        p = subprocess.run([SANDHOOK], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           env=env, timeout=30)
        t.ok(p.returncode == 1 and "absent.conf" in p.stderr,
             "a config file that is not there is an error naming it", p.stderr)
        p = subprocess.run([SANDHOOK, "--no-config"], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, env=env, timeout=30)
        t.ok(p.returncode == 2 and "not serving" in p.stderr and "sandhook drain" in p.stderr,
             "--no-config ignores it; from a terminal sandhook says why it does not serve, and "
             "what to run instead (exit 2)", p.stderr)
        p = subprocess.run([SANDHOOK, "-V"], capture_output=True, text=True, timeout=30)
        t.ok(p.returncode == 0 and p.stdout.startswith("sandhook "), "-V prints the version",
             p.stdout)
        p = subprocess.run([SANDHOOK, "--help"], capture_output=True, text=True, timeout=30)
        t.ok(p.returncode == 0 and "sandhook(8)" in p.stdout and "--no-config" in p.stdout,
             "--help names the man page and --no-config", p.stdout)

        with open(os.path.join(BUILD, "man", "sandhook.8")) as f:
            man = f.read()
        t.ok("PKGLIBEXECDIR" not in man and "@" not in man and
             re.search(r"^\.I /\S+/sandhook-drain$", man, re.M),
             "the man page names the installed paths of this build",
             re.findall(r".*sandhook-drain.*", man))

        host = "127.0.0.1:%d" % sc.fake.port
        closed = free_port()
        for what, extra, needles in (
                ("a wrong key (401)", {"ANTHROPIC_ENVIRONMENT_KEY": "sk-wrong-key"},
                 ["status=401", "api_error=\"invalid bearer credential\"",
                  "ANTHROPIC_ENVIRONMENT_KEY", "host=" + host]),
                ("a wrong environment id (404)", {"ANTHROPIC_ENVIRONMENT_ID": "env_nosuch"},
                 ["status=404", "api_error=\"environment not found\"",
                  "hint=\"check ANTHROPIC_ENVIRONMENT_ID", "host=" + host]),
                ("nothing listening", {"ANTHROPIC_BASE_URL": "http://127.0.0.1:%d" % closed},
                 ["host=127.0.0.1:%d" % closed, "ANTHROPIC_BASE_URL", "error="])):
            cfg, state = write_config(sc.tmp, sc.fake.url, **extra)
            log = os.path.join(state, "sandhook.log")
            if os.path.exists(log):
                os.unlink(log)
            p = subprocess.Popen([SANDHOOK, "--config", cfg, "drain"], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=open(log, "w"))
            seen = until(lambda: "event=poll_failed" in drainer_log(state), 30, 0.1)
            stop_proc(p)
            line = next((ln for ln in drainer_log(state).splitlines() if "event=poll_failed" in ln), "")
            t.ok(seen and all(n in line for n in needles),
                 "%s: the poll failure says where, what the API said, and what to check: %s"
                 % (what, line[line.find("event="):]), line)
            t.ok(extra.get("ANTHROPIC_ENVIRONMENT_KEY", ENV_KEY) not in drainer_log(state),
                 "  ...and the key is not in the log")
            sanitizer_clean(t, log)

        # An audit trail it cannot append to: nothing is claimed, the drainer
        # says which file and what it must be, and exits 1.
        sid = sc.fake.session([{"tool": "bash", "input": {"command": "echo never"}}])["session_id"]
        cfg, state = write_config(sc.tmp, sc.fake.url, SANDHOOK_AUDIT_FILE=sc.tmp)
        log = os.path.join(state, "sandhook.log")
        if os.path.exists(log):
            os.unlink(log)
        p = subprocess.run([SANDHOOK, "--config", cfg, "drain"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=open(log, "w"), timeout=60)
        line = next((ln for ln in drainer_log(state).splitlines() if "event=audit_unavailable" in ln), "")
        t.ok(p.returncode == 1 and "path=%s" % sc.tmp in line and "SANDHOOK_AUDIT_FILE must be" in line,
             "an audit file it cannot append to: exit 1, the path and what it must be are logged",
             (p.returncode, drainer_log(state)))
        t.eq([w["claims"] for w in sc.fake.work() if w["data"]["id"] == sid], [0], "  ...and nothing was claimed")
        sanitizer_clean(t, log)

        # The front knows it too: a run_started is refused with a 503 (the
        # sender retries it) rather than taken and lost; other events are
        # still taken, and the health probe says why.
        status, _, payload, _, err = cgi(cfg, *run_started(sid))
        t.ok(status == 503 and "audit trail" in payload,
             "run_started while the audit trail cannot be opened: 503, not 202", (status, payload))
        t.ok("reason=\"the audit trail (SANDHOOK_AUDIT_FILE)" in err and "audit_file=%s " % sc.tmp in err and
             "error=\"Is a directory\"" in err,
             "  ...and the log line names the setting, the path and the error", err)
        status, _, payload, _, err = cgi(cfg, *delivery("session.status_idled", sid))
        t.ok(status == 200, "  ...an event that starts no drainer is still taken", (status, payload, err))
        status, _, payload, _, err = cgi(cfg, b"", {}, method="GET",
                                         extra_env={"REQUEST_URI": "/sandhook/health"})
        t.ok(status == 503 and "the audit trail (SANDHOOK_AUDIT_FILE)" in json.loads(payload)["reason"],
             "  ...and the health probe is 503, with the reason", (status, payload))
        t.eq([w["claims"] for w in sc.fake.work() if w["data"]["id"] == sid], [0],
             "  ...and the refused run_started claimed nothing")
        cfg, state = write_config(sc.tmp, sc.fake.url,
                                  SANDHOOK_AUDIT_FILE=os.path.join(sc.tmp, "audit-new.jsonl"))
        status, _, payload, _, err = cgi(cfg, b"", {}, method="GET",
                                         extra_env={"REQUEST_URI": "/sandhook/health"})
        t.ok(status == 200 and json.loads(payload)["status"] == "ok",
             "a trail not made yet, in a directory it can write, is no reason (the drainer makes it)",
             (status, payload, err))
    t.done()


if __name__ == "__main__":
    main()
