#!/usr/bin/env python3
"""What an operator sees: `sandhook status` (and --json) read from the
state directory while a call runs and after everything exited; the
Prometheus metrics through the shipped nginx location, in the textfile
collector's file and from `sandhook metrics`; the health location; every
counter the metrics promise moved by real deliveries, calls, API errors
and a lost lease, against a real nginx, the FastCGI pool, the fake and a
real jail.
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (ENV_KEY, SANDHOOK, SIGNING_KEY, Checks, Scenario, final_checks, gated, need_root,  # noqa: E402
                     nginx_front, procs_of, release, run_started, tagged, wait_for)

need_root()

SAMPLE = re.compile(r'^[a-z_]+(\{[a-z_]+="[^"\\]*"(,[a-z_]+="[^"\\]*")*\})? [0-9.e+-]+$')


def parse(text):
    """The exposition as {series: value}; None when a line is malformed."""
    out = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        if not SAMPLE.match(line):
            return None
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out


# SANDHOOK_MAX_SESSIONS's default follows the machine: four per CPU.
SLOTS = min(256, 4 * len(os.sched_getaffinity(0)))


def main():
    t = Checks()
    with Scenario() as sc:
        prom = os.path.join(sc.tmp, "textfile", "sandhook.prom")
        os.makedirs(os.path.dirname(prom))
        web, state, log = nginx_front(sc, SANDHOOK_METRICS_FILE=prom)
        cfg = os.path.join(sc.tmp, "sandhook.conf")

        def status(*args):
            p = subprocess.run([SANDHOOK, "status", "--config", cfg] + list(args),
                               capture_output=True, text=True, timeout=30)
            return p.returncode, p.stdout, p.stderr

        def get(path, method="GET"):
            return web.post(path, None, {}, method=method)

        rc, out, err = status()
        t.ok(rc == 0 and "0 of %d slots busy" % SLOTS in out and "no drainer running" in out and
             "recent work items: none" in out, "status with nothing running: says so, exit 0",
             (rc, out, err))
        doc = json.loads(status("--json")[1])
        t.ok(doc["drainers"] == [] and doc["slots"] == SLOTS and doc["state_dir"] == state,
             "status --json with nothing running", doc)

        sid = sc.fake.session([{"tool": "bash", "input": {"command": gated("obs_gate", "done")}}])["session_id"]
        body, headers = run_started(sid)
        t.eq(web.post("/hooks/sandhook", body, headers)[0], 202, "run_started answered 202")
        wait_for(lambda: tagged("obs_gate"), 60, what="the gated call to run")
        doc = json.loads(status("--json")[1])
        serving = [d for d in doc["drainers"] if d["state"] == "serving"]
        t.ok(len(serving) == 1 and serving[0].get("session_id") == sid and
             serving[0].get("work_id", "").startswith("work_") and
             serving[0].get("call", {}).get("tool") == "bash" and
             serving[0]["call"].get("tool_use_id") and "running_s" in serving[0]["call"] and
             str(serving[0]["pid"]) in procs_of(state, b"sandhook-drain"),
             "status --json while the call runs: the drainer, its pid, work, session and the call in flight",
             doc)
        rc, out, _ = status()
        t.ok("1 of %d slots busy" % SLOTS in out and "serving" in out and sid in out and "call bash" in out,
             "status (text) shows the same", out)
        code, text, _, hdrs = get("/sandhook/metrics")
        m = parse(text) if code == 200 else None
        t.ok(m is not None and m.get("sandhook_slots_busy") == 1 and
             m.get("sandhook_drainers_running") == 1 and
             hdrs.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
             "GET /sandhook/metrics through nginx: well-formed, one slot busy", (code, text[:400]))
        code, text, _, _ = get("/sandhook/health")
        h = json.loads(text) if code == 200 else {}
        t.ok(code == 200 and h.get("status") == "ok" and h.get("slots_busy") == 1,
             "GET /sandhook/health: 200, ok, one slot busy", (code, text))
        t.eq(get("/sandhook/health", "HEAD")[0], 200, "HEAD /sandhook/health: 200")
        t.eq(get("/sandhook/metrics", "POST")[0], 403, "POST to the metrics location: refused by nginx")

        release("obs_gate")
        wait_for(lambda: sc.fake.state(sid)["results"], 60, what="the call's result")
        wait_for(lambda: not procs_of(state, b"sandhook-drain"), 60, what="the drainer to exit")
        doc = json.loads(status("--json")[1])
        work = [w for w in doc["recent_work"] if w.get("session_id") == sid]
        t.ok(doc["drainers"] == [] and work and work[0]["outcome"] == "done" and
             work[0]["duration_ms"] > 0 and "time" in work[0],
             "status after the drainer exited: no drainer, the item's outcome in recent work", doc)

        def session_with_fault(what, command, **fault):
            sc.fake.faults(**fault)
            sid = sc.fake.session([{"tool": "bash", "input": {"command": command}}])["session_id"]
            body, headers = run_started(sid)
            t.eq(web.post("/hooks/sandhook", body, headers)[0], 202, "%s: run_started answered 202" % what)
            wait_for(lambda: sc.fake.state(sid)["results"], 120, what=what + "'s result")
            wait_for(lambda: not procs_of(state, b"sandhook-drain"), 60, what="the drainer to exit")
            return body, headers

        # An API error and a lost lease, from the fake's faults.
        session_with_fault("three failed polls", "echo two", poll_5xx=3)
        body, headers = session_with_fault("a lost lease", "sleep 3; echo three", heartbeat_412=1)

        # A bad delivery, so the 401 series moves too.
        t.eq(web.post("/hooks/sandhook", body, dict(headers, **{"webhook-signature": "v1,AAAA"}))[0],
             401, "a delivery with a bad signature answered 401")

        code, text, _, _ = get("/sandhook/metrics")
        m = parse(text) or {}
        t.ok(m.get('sandhook_deliveries_total{status="202"}') == 3 and
             m.get('sandhook_deliveries_total{status="401"}') == 1,
             "deliveries by status: three 202, one 401", {k: v for k, v in m.items() if "deliver" in k})
        t.ok(m.get('sandhook_work_items_total{outcome="done"}', 0) >= 3 and
             m.get('sandhook_work_items_total{outcome="lease_lost"}') == 1,
             "work items by outcome: done, and the lost lease",
             {k: v for k, v in m.items() if "work_items" in k})
        t.eq(m.get("sandhook_lease_losses_total"), 1.0, "lease losses: one")
        t.ok(m.get('sandhook_tool_calls_total{tool="bash",error="none"}', 0) >= 3 and
             m.get('sandhook_tool_call_duration_seconds_count{tool="bash"}') ==
             sum(v for k, v in m.items() if k.startswith('sandhook_tool_calls_total{tool="bash"')) and
             m.get('sandhook_tool_call_duration_seconds_bucket{tool="bash",le="+Inf"}') ==
             m.get('sandhook_tool_call_duration_seconds_count{tool="bash"}') and
             m.get('sandhook_tool_call_duration_seconds_sum{tool="bash"}', 0) >= 3.0,
             "tool calls by tool and error, and the duration histogram adds up (one call slept 3 s)",
             {k: v for k, v in m.items() if "tool" in k and "bash" in k})
        buckets = [v for k, v in m.items() if k.startswith('sandhook_tool_call_duration_seconds_bucket{tool="bash"')]
        t.ok(buckets == sorted(buckets), "the histogram's buckets are cumulative", buckets)
        t.eq(m.get('sandhook_api_errors_total{endpoint="work_poll",status="503"}'), 3.0,
             "API errors by endpoint and status: the three failed polls")
        t.ok(any(k.startswith('sandhook_api_errors_total{endpoint="work_heartbeat",status="412"') for k in m),
             "API errors: the heartbeat's 412", [k for k in m if "api_errors" in k])

        doc = json.loads(status("--json")[1])
        t.ok(any(e.get("event") == "poll_failed" and "status=503" in e.get("line", "")
                 for e in doc["recent_errors"]),
             "status lists the failed poll among recent errors, with its log line", doc["recent_errors"])
        outcomes = [w["outcome"] for w in doc["recent_work"]]
        t.ok("lease_lost" in outcomes and outcomes.count("done") >= 2,
             "status's recent work items: newest first, the lost lease among them", outcomes)

        t.ok(os.path.exists(prom), "the textfile collector's file was written", prom)
        file_m = parse(open(prom).read()) if os.path.exists(prom) else None
        t.ok(file_m is not None and set(file_m) >= {k for k in m if "deliveries" not in k} and
             file_m.get("sandhook_lease_losses_total") == 1,
             "its contents: well-formed, every series, the same counts", (file_m or {}).keys())
        t.eq([f for f in os.listdir(os.path.dirname(prom)) if not f.endswith(".prom")], [],
             "no temporary file left beside it (written by rename)")
        p = subprocess.run([SANDHOOK, "metrics", "--config", cfg], capture_output=True, text=True, timeout=30)
        cli = parse(p.stdout) if p.returncode == 0 else None
        t.ok(cli is not None and cli.get("sandhook_lease_losses_total") == 1 and
             cli.get('sandhook_deliveries_total{status="401"}') == 1,
             "sandhook metrics prints the same exposition", p.stdout[:300] + p.stderr)

        p = subprocess.run([SANDHOOK, "status", "--no-config"], capture_output=True, text=True, timeout=30,
                           env={"PATH": "/usr/bin:/bin", "SANDHOOK_STATE_DIR": "/nonexistent/state"})
        t.ok(p.returncode == 1 and "cannot read the state directory /nonexistent/state" in p.stderr and
             "SANDHOOK_STATE_DIR" in p.stderr,
             "status on a state directory that is not there: exit 1, says which and where to look",
             (p.returncode, p.stderr))
        shown = status()[1] + json.dumps(doc)
        t.ok(ENV_KEY not in shown and SIGNING_KEY[len("whsec_"):] not in shown, "status shows no secret")
        final_checks(t, sc.fake, log)
    t.done()


if __name__ == "__main__":
    main()
