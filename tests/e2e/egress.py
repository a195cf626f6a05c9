#!/usr/bin/env python3
"""SANDHOOK_JAIL_NETWORK=allowlist, end to end: tools in a real jail reach
an allowed host through the egress proxy (plain HTTP, HTTPS through
CONNECT, SOCKS5), and are refused, with the reason and the setting in the
answer, for a denied host, a host nobody listed, an IP literal (the cloud
metadata address), a name that resolves to loopback through a wildcard,
and the host's own services.  A tool that ignores the proxy variables
reaches nothing, and a raw socket is refused.  Every connection is one
log line with the call that made it.  The test servers are local
(127.0.0.1); the names are pinned to them with SANDHOOK_EGRESS_RESOLVE.
"""
import json
import os
import re
import ssl
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from harness import (ENV_KEY, SANDHOOK, Checks, Scenario, cgi, drainer_log, final_checks,  # noqa: E402
                     gated, need_root, procs_of, release, run_started, serve_origin, tagged, wait_for,
                     write_config)

need_root()


def main():
    t = Checks()
    with Scenario() as sc:
        key, crt = os.path.join(sc.tmp, "k.pem"), os.path.join(sc.tmp, "c.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=files.test", "-addext", "subjectAltName=DNS:files.test",
                        "-keyout", key, "-out", crt], check=True, capture_output=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        plain, tls = serve_origin(), serve_origin(ctx)
        port, tport = plain.server_address[1], tls.server_address[1]
        pins = ",".join("%s=127.0.0.1" % n for n in
                        ("pypi.test", "files.test", "blocked.test", "a.wild.test", "fake.test"))
        # As deep as a Kubernetes volume: the proxy's socket path is longer
        # than a socket address holds (107 bytes).
        deep = os.path.join(sc.tmp, "var/lib/kubelet/pods/%s/volumes/kubernetes.io~empty-dir/sandhook"
                            % uuid.uuid4())
        t.ok(len(os.path.join(deep, "run", "egress.%d.1.sock" % 4194304)) > 107,
             "the state directory leaves no room in a socket address for the proxy's socket", deep)
        cfg, state = write_config(
            sc.tmp, sc.fake.url, SANDHOOK_STATE_DIR=deep, SANDHOOK_JAIL_NETWORK="allowlist",
            SANDHOOK_EGRESS_ALLOW="pypi.test files.test:%d *.wild.test blocked.test localhost:%d"
            % (tport, port),
            SANDHOOK_EGRESS_DENY="blocked.test", SANDHOOK_EGRESS_RESOLVE=pins,
            SANDHOOK_AUDIT_FILE=os.path.join(sc.tmp, "audit.jsonl"))
        audit = os.path.join(sc.tmp, "audit.jsonl")
        fake_port = sc.fake.port
        calls = [
            ("allowed, plain HTTP", "curl -sS http://pypi.test:%d/simple/" % port),
            ("allowed, HTTPS through CONNECT", "curl -sS -k https://files.test:%d/wheel" % tport),
            ("allowed, SOCKS5", "curl -sS --proxy socks5h://127.0.0.1:1080 http://pypi.test:%d/socks" % port),
            ("denied", "curl -sS http://blocked.test:%d/" % port),
            ("not listed", "curl -sS http://evil.test/"),
            ("not listed, HTTPS", "curl -sS https://evil.test/ 2>&1; true"),
            ("the metadata address", "curl -sS http://169.254.169.254/latest/meta-data/"),
            ("a wildcard name resolving to loopback", "curl -sS http://a.wild.test:%d/" % port),
            ("the host's own service", "curl -sS -x http://127.0.0.1:3128 http://fake.test:%d/" % fake_port),
            ("the host's own service by address",
             "curl -sS --noproxy '' -x http://127.0.0.1:3128 http://127.0.0.1:%d/v1/environments" % fake_port),
            ("the proxy ignored", "timeout 5 bash -c 'exec 3<>/dev/tcp/192.0.2.10/80' 2>&1; echo rc=$?"),
            ("a raw socket", "python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)' 2>&1 | tail -1"),
            ("the proxy variables", "env | grep -i _proxy= | sort"),
            ("a name through the host's resolver",
             "curl -sS --noproxy '' -x http://127.0.0.1:3128 http://localhost:%d/hosts" % port),
            ("git refused", "git ls-remote https://evil.test/x.git 2>&1; git ls-remote http://evil.test/x.git 2>&1; true"),
            ("npm refused", "npm view left-pad --registry https://evil.test/ 2>&1 | grep -i -m3 -E '403|refused|tunnel'; true"),
            ("pip refused", "python3 -m pip download --retries 1 --no-deps -d /tmp/p --index-url https://evil.test/simple x 2>&1 | grep -i -m1 -E 'tunnel'; true"),
            ("the proxy at work", gated("egress_gate", "released")),
        ]
        sid = sc.fake.session([{"tool": "bash", "input": {"command": c}} for _, c in calls])["session_id"]
        body, h = run_started(sid)
        t.eq(cgi(cfg, body, h)[0], 202, "run_started answered 202")
        wait_for(lambda: tagged("egress_gate"), 120, what="the last call to run")
        proxies = procs_of(state, b"sandhook-egress")
        t.eq(len(proxies), 1, "one proxy runs beside the jail")
        for pid in proxies:
            status = open("/proc/%s/status" % pid).read()
            environ = open("/proc/%s/environ" % pid, "rb").read().decode(errors="replace")
            field = lambda name: status.split(name + ":")[1].split("\n")[0].split()  # noqa: E731
            t.ok(field("Uid") == ["65534"] * 4 and field("Gid") == ["65534"] * 4 and field("CapEff") == ["0000000000000000"],
                 "the proxy runs as the jail uid and gid, with no capability", status)
            t.ok(field("Seccomp") == ["2"] and field("NoNewPrivs") == ["1"],
                 "  ...under a seccomp filter of its own, with no_new_privs")
            t.ok(ENV_KEY not in environ and "ANTHROPIC" not in environ and "SANDHOOK_EGRESS_ALLOW=" in environ,
                 "  ...and holds no key or token: its environment is the policy", environ.replace("\0", " "))
            t.ok(proxies[pid] != str(os.getpid()) and procs_of(state, b"sandhook-drain").get(proxies[pid]) is not None,
                 "  ...a child of the drainer, not the drainer itself")
        release("egress_gate")
        wait_for(lambda: len(sc.fake.state(sid)["results"]) == len(calls), 120, what="every call's result")
        st = sc.fake.state(sid)
        uses = [e for e in st["events"] if e["type"] == "agent.tool_use"]
        out = {}
        for (what, _), ev in zip(calls, uses):
            res = st["results"][ev["id"]]
            out[what] = (res["content"][0].get("text", ""), ev["id"])
        text = lambda w: out[w][0]  # noqa: E731
        for w in out:
            print("# %s => %r" % (w, out[w][0][:300]))
        t.ok("origin says hello: Host=pypi.test:%d path=/simple/" % port in text("allowed, plain HTTP"),
             "an allowed host over plain HTTP answers, with the URL's Host", text("allowed, plain HTTP"))
        t.ok("origin says hello: Host=files.test:%d path=/wheel" % tport in text("allowed, HTTPS through CONNECT"),
             "an allowed host over HTTPS (CONNECT) answers", text("allowed, HTTPS through CONNECT"))
        t.ok("path=/socks" in text("allowed, SOCKS5"), "an allowed host over SOCKS5 answers", text("allowed, SOCKS5"))
        t.ok("refused: a SANDHOOK_EGRESS_DENY entry matches it" in text("denied"),
             "a denied host: refused, and the answer says which policy", text("denied"))
        t.ok("evil.test:80 refused: no SANDHOOK_EGRESS_ALLOW entry matches it" in text("not listed"),
             "a host nobody listed: refused, naming the setting that would allow it", text("not listed"))
        t.ok("CONNECT tunnel failed, response 403" in text("not listed, HTTPS"),
             "over HTTPS, curl shows the proxy's 403", text("not listed, HTTPS"))
        t.ok("an IP address is reached only when SANDHOOK_EGRESS_ALLOW names that address"
             in text("the metadata address"), "the metadata address (an IP literal): refused",
             text("the metadata address"))
        t.ok("non-public address" in text("a wildcard name resolving to loopback") and "127.0.0.1"
             in text("a wildcard name resolving to loopback"),
             "a wildcard's name resolving to loopback: refused, saying where it resolved",
             text("a wildcard name resolving to loopback"))
        t.ok("no SANDHOOK_EGRESS_ALLOW entry matches it" in text("the host's own service") and
             "origin" not in text("the host's own service"),
             "the proxy cannot be used to reach the host's own services by name", text("the host's own service"))
        t.ok("refused: an IP address is reached only when" in text("the host's own service by address"),
             "  ...nor by address", text("the host's own service by address"))
        t.ok("Network is unreachable" in text("the proxy ignored") and "rc=1" in text("the proxy ignored"),
             "a tool that ignores the proxy reaches nothing", text("the proxy ignored"))
        t.ok("PermissionError" in text("a raw socket") or "Operation not permitted" in text("a raw socket"),
             "a raw socket is refused", text("a raw socket"))
        t.ok("HTTPS_PROXY=http://127.0.0.1:3128" in text("the proxy variables") and
             "ALL_PROXY=socks5h://127.0.0.1:1080" in text("the proxy variables") and
             "NO_PROXY=localhost" in text("the proxy variables"),
             "the tools' environment names the proxies", text("the proxy variables"))
        wait_for(lambda: not procs_of(state, b"sandhook-drain"), 60, what="the drainer to exit")
        log = drainer_log(state)
        lines = [ln for ln in log.splitlines() if "event=egress_connection" in ln]
        allowed = [ln for ln in lines if "verdict=allowed" in ln]
        t.ok("origin says hello: Host=localhost:%d path=/hosts" % port in text("a name through the host's resolver"),
             "a name the allowlist names is resolved by the host's resolver (/etc/hosts), loopback included",
             text("a name through the host's resolver"))
        t.ok("CONNECT tunnel failed, response 403" in text("git refused") and
             "returned error: 403" in text("git refused"),
             "git shows the proxy's 403, over HTTPS and HTTP", text("git refused"))
        t.ok("403 sandhook egress refused evil.test: no SANDHOOK_EGRESS_ALLOW entry matches it" in text("npm refused"),
             "npm shows the refusal and the setting", text("npm refused"))
        t.ok("Tunnel connection failed: 403 sandhook egress refused evil.test: no SANDHOOK_EGRESS_ALLOW entry"
             in text("pip refused"), "pip shows the refusal and the setting", text("pip refused"))
        t.ok(len(allowed) == 4 and all("tool_use_id=" + out[w][1] in " ".join(allowed) for w in
                                       ("allowed, plain HTTP", "allowed, HTTPS through CONNECT", "allowed, SOCKS5")),
             "each allowed connection is one log line with the call that made it", allowed)
        t.ok(all("session_id=" + sid in ln and "bytes_up=" in ln and "bytes_down=" in ln and "duration_ms=" in ln
                 and "address=" in ln for ln in allowed) and
             all(not ln.split("bytes_down=")[1].startswith("0 ") for ln in allowed),
             "  ...with the session, address, bytes each way and duration")
        refused = [ln for ln in lines if "verdict=refused" in ln]
        t.ok(len(refused) >= 9 and any("host=169.254.169.254" in ln for ln in refused),
             "each refusal is a log line too (%d)" % len(refused), refused)
        t.ok(not [p for p in procs_of(state, b"sandhook-egress")], "no proxy outlives its jail")
        t.eq([f for f in os.listdir(os.path.join(state, "run")) if f.startswith("egress.")], [],
             "its socket is gone")
        # The audit trail.
        trail = [json.loads(ln) for ln in open(audit)]
        calls_in = [e for e in trail if e["type"] == "tool_call"]
        conns = [e for e in trail if e["type"] == "egress_connection"]
        t.ok(len(calls_in) == len(calls) and all(
            e["session_id"] == sid and re.fullmatch("[0-9a-f]{64}", e["input_sha256"]) and
            re.fullmatch("[0-9a-f]{64}", e["output_sha256"]) and "is_error" in e and "duration_ms" in e
            for e in calls_in) and [e["tool_use_id"] for e in calls_in] == [ev["id"] for ev in uses],
             "the audit trail has each tool call: session, tool_use_id, input and output SHA-256, "
             "is_error, duration", calls_in[:1])
        t.ok(len(conns) == len(lines) and {e["verdict"] for e in conns} == {"allowed", "refused"} and
             all(e["tool_use_id"] in [ev["id"] for ev in uses] for e in conns),
             "  ...and each egress connection, tied to its call (%d)" % len(conns), conns[:1])
        t.ok([e["seq"] for e in trail] == list(range(1, len(trail) + 1)), "  ...numbered in order")
        v = subprocess.run([SANDHOOK, "audit", "verify", audit], capture_output=True, text=True)
        t.ok(v.returncode == 0 and "ok, %d lines" % len(trail) in v.stdout, "sandhook audit verify: the chain holds",
             v.stdout + v.stderr)
        head = v.stdout.split("head ")[-1].strip()
        t.ok("audit_head=" + head in log, "the last work_finished line carries the trail's head", head)
        raw = open(audit).read().split("\n")
        raw[2] = raw[2].replace('"time":"20', '"time":"19', 1)
        open(audit, "w").write("\n".join(raw))
        v = subprocess.run([SANDHOOK, "audit", "verify", audit], capture_output=True, text=True)
        t.ok(v.returncode == 1 and "line 3: it was changed" in v.stdout,
             "a line edited by hand is found, and named", v.stdout)
        final_checks(t, sc.fake, os.path.join(state, "sandhook.log"))
    t.done()


if __name__ == "__main__":
    main()
