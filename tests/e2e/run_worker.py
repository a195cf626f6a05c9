#!/usr/bin/env python3
"""Without webhooks.  `sandhook run` is the always-on worker: its workers
long-poll the queue (block_ms) and serve every session queued, with no
webhook at all; a worker killed with -9 is started again; a second run
finds the slots held and says so; SIGTERM answers the call in flight,
stops its item and ends every process.  `sandhook handle` serves one item
claimed and acked by someone else (as `ant beta:worker poll --on-work`
does), its secret from the work item on stdin, and refuses to start
without the item's ids.  What sandhook-drain.timer starts serves a session
whose webhook never came.
"""
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import (ENV_ID, ENV_KEY, SANDHOOK, Checks, Scenario, drainer_log, final_checks,  # noqa: E402
                     gated, jail_procs, need_root, procs_of, shipped, stop_proc, tagged, until,
                     wait_for, write_config)

need_root()


def texts(fake, sid):
    return [r["content"][0].get("text") for r in fake.state(sid)["results"].values()]


def main():
    t = Checks()
    with Scenario() as sc:
        cfg, state = write_config(sc.tmp, sc.fake.url, SANDHOOK_MAX_SESSIONS=2,
                                  SANDHOOK_LOG_FILE=os.path.join(sc.tmp, "state", "sandhook.log"))
        log = os.path.join(state, "sandhook.log")

        def status():
            p = subprocess.run([SANDHOOK, "status", "--json", "--config", cfg], capture_output=True,
                               text=True, timeout=30)
            return json.loads(p.stdout)

        run = subprocess.Popen([SANDHOOK, "run", "--config", cfg], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: len(status()["drainers"]) == 2, 30, what="two run workers")
        t.ok([d["state"] for d in status()["drainers"]] == ["polling", "polling"],
             "sandhook run: two workers (SANDHOOK_MAX_SESSIONS=2), each polling in its slot")

        sids = [sc.fake.session([{"tool": "bash", "input": {"command": "echo run %d" % i}}])["session_id"]
                for i in range(3)]
        wait_for(lambda: all(sc.fake.state(s)["results"] for s in sids), 90, what="three sessions")
        t.eq([texts(sc.fake, s) for s in sids], [["run 0"], ["run 1"], ["run 2"]],
             "three sessions queued without any webhook: each call answered once, by the run workers")
        polls = [e for e in sc.fake.log()["requests"] if e["path"].endswith("/work/poll")]
        t.ok(polls and all("block_ms=999" in e["query"] for e in polls),
             "every poll is a long poll (block_ms=999)", polls[:2])

        wait_for(lambda: all(w["state"] == "stopped" for w in sc.fake.work()), 60,
                 what="the three items to end")
        victim = status()["drainers"][0]["pid"]
        os.kill(victim, signal.SIGKILL)
        t.ok(until(lambda: "event=run_worker_exited" in drainer_log(state) and
                   len([d for d in status()["drainers"] if d["state"] == "polling"]) == 2 and
                   victim not in [d["pid"] for d in status()["drainers"]], 30),
             "a worker killed with -9 is started again (run_worker_exited, a new pid polling)",
             status())

        second = subprocess.Popen([SANDHOOK, "run", "--config", cfg], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t.ok(until(lambda: "event=run_slots_busy" in drainer_log(state), 30),
             "a second sandhook run finds every slot held, and says what to do")
        second.send_signal(signal.SIGTERM)
        t.eq(second.wait(30), 0, "  ...and stops on SIGTERM")

        sid = sc.fake.session([{"tool": "bash", "input": {"command": gated("run_gate", "never")}}])["session_id"]
        wait_for(lambda: tagged("run_gate"), 60, what="the gated call to run")
        run.send_signal(signal.SIGTERM)
        rc = run.wait(60)
        t.eq(rc, 0, "SIGTERM: sandhook run exits 0")
        res = list(sc.fake.state(sid)["results"].values())
        t.ok(len(res) == 1 and res[0].get("is_error") and "cancelled" in res[0]["content"][0]["text"],
             "the call in flight got its cancellation", res)
        t.ok(until(lambda: not procs_of(state, b"sandhook-drain") and not jail_procs(state), 30),
             "no worker and no jail process is left")
        t.ok(all(w["state"] == "stopped" for w in sc.fake.work()), "every work item is stopped",
             sc.fake.work())

        # sandhook handle: the item claimed and acked by another poller.
        p = subprocess.run([SANDHOOK, "handle", "--config", cfg], capture_output=True, text=True,
                           timeout=30, env={"PATH": "/usr/bin:/bin"})
        t.ok(p.returncode == 2 and "ANTHROPIC_WORK_ID" in drainer_log(state) and
             "ant beta:worker poll --on-work" in drainer_log(state),
             "sandhook handle without the item's ids: exit 2, and the log says what runs it", p.returncode)
        sid = sc.fake.session([{"tool": "bash", "input": {"command": "echo handled"}}])["session_id"]

        def api(method, path):
            req = urllib.request.Request(sc.fake.url + path, method=method, data=b"" if method == "POST" else None,
                                         headers={"Authorization": "Bearer " + ENV_KEY,
                                                  "anthropic-version": "2023-06-01",
                                                  "anthropic-beta": "managed-agents-2026-04-01",
                                                  "Anthropic-Worker-ID": "ant-cli-test"})
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.read()

        work = json.loads(api("GET", "/v1/environments/%s/work/poll" % ENV_ID))
        api("POST", "/v1/environments/%s/work/%s/ack" % (ENV_ID, work["id"]))
        p = subprocess.run([SANDHOOK, "handle", "--config", cfg], input=json.dumps(work), text=True,
                           capture_output=True, timeout=120,
                           env={"PATH": "/usr/bin:/bin", "ANTHROPIC_WORK_ID": work["id"],
                                "ANTHROPIC_SESSION_ID": work["data"]["id"]})
        t.eq(p.returncode, 0, "sandhook handle, with the work item on stdin as the CLI passes it: exit 0")
        t.eq(texts(sc.fake, sid), ["handled"], "  ...its call answered once")
        w = [x for x in sc.fake.work() if x["id"] == work["id"]][0]
        t.eq(w["state"], "stopped", "  ...and its item stopped")
        calls = [e for e in sc.fake.log()["requests"] if work["id"] in e["path"] or sid in e["path"]]
        t.ok(not any(e["path"].endswith("/ack") and e["worker_id"] != "ant-cli-test" for e in calls) and
             any(e["credential"] == "sessions_token" for e in calls),
             "  ...not acked again, and served with the secret's sessions token", calls[-3:])
        # The timer's safety net: what sandhook-drain.service runs, as its
        # ExecStart says, serves a session whose webhook never came.
        exec_start = re.search(r"^ExecStart=(.*)$", shipped("systemd", "sandhook-drain.service"), re.M).group(1)
        argv = exec_start.replace("/etc/sandhook/sandhook.conf", cfg).split()
        sid = sc.fake.session([{"tool": "bash", "input": {"command": "echo timer"}}])["session_id"]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
        t.ok(p.returncode == 0 and texts(sc.fake, sid) == ["timer"] and
             all(w["state"] == "stopped" for w in sc.fake.work()),
             "sandhook-drain.service's command (%s) serves a session no webhook announced, and exits 0"
             % " ".join(argv[1:2]), (p.returncode, texts(sc.fake, sid)))
        stop_proc(run)
        final_checks(t, sc.fake, log)
    t.done()


if __name__ == "__main__":
    main()
