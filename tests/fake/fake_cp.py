#!/usr/bin/env python3
"""A fake Claude Managed Agents control plane for sandhook's tests.

It follows ../shared/spec/protocol.md: the work queue (poll, ack, heartbeat
with compare-and-swap and 412, stop), sessions, the SSE event stream, event
list and post, Anthropic error bodies, and a scripted "agent" that emits tool
calls one after another.  It checks what workers send and records every
violation (a result for an unknown or already answered call, a wrong
credential, ...) so tests can assert there were none.

Control endpoints for tests live under /_fake/.  Standard library only.
"""
import argparse
import base64
import datetime
import hashlib
import heapq
import itertools
import json
import queue
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOCK = threading.RLock()
# Told whenever a work item stops: /_fake/work/wait answers on it, so a
# benchmark that waits for a drain's end costs the fake no polling.
STOPPED = threading.Condition(LOCK)


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def new_id(prefix):
    return prefix + uuid.uuid4().hex[:24]


class State:
    def __init__(self, env_id, env_key, ttl, empty_poll):
        self.env_id = env_id
        self.env_key = env_key
        self.ttl = ttl
        self.empty_poll = empty_poll
        self.work = {}          # id -> dict
        self.work_order = []
        self.sessions = {}      # id -> Session
        self.tokens = {}        # sessions token -> work id
        self.revoked = set()    # tokens of claims that were lost
        self.faults = {}
        self.skills = {}        # skill id -> {"name", "legacy", "versions": [...]}
        self.stores = {}        # memory store id -> {memory id: memory}
        self.memory_writes = []  # (action, store, path) as the workers sent them
        self.log = []
        self.violations = []
        self.max_active = 0       # the most work items held at once
        self.page_size = None
        self.no_secret = False
        self.memory_delay = 0
        self.fetched = {}         # session id -> Event, set by a GET of it

    def fetch_event(self, sid):
        with LOCK:
            return self.fetched.setdefault(sid, threading.Event())

    def violation(self, text):
        self.violations.append(text)


class Session:
    def __init__(self, sid, spec):
        self.id = sid
        self.status = spec.get("status", "idle")
        self.script = list(spec.get("script", []))
        self.terminate = spec.get("terminate", True)
        self.end_delay = spec.get("end_delay", 0.2)
        # The agent's "thinking" before its first step; 0 for the benchmarks,
        # which time the worker alone.
        self.first_delay = spec.get("first_delay", 0.3)
        self.events = []
        self.subscribers = []
        self.step = 0
        self.pending = None      # tool_use id awaiting a result
        self.results = {}        # tool_use id -> posted result event
        self.started = False
        self.finished = False
        self.skills = spec.get("skills", [])
        self.resources = spec.get("resources", [])

    def public(self):
        return {"type": "session", "id": self.id, "status": self.status,
                "agent": {"type": "agent", "id": "agent_fake", "skills": self.skills,
                          "tools": [{"type": "agent_toolset_20260401"}]},
                "resources": self.resources, "metadata": {}}


ST = None


def emit(sess, ev):
    """Appends an event to the session's history and pushes it to streams."""
    ev.setdefault("id", new_id("sevt_"))
    ev["processed_at"] = now_iso()
    with LOCK:
        sess.events.append(ev)
        subs = list(sess.subscribers)
    for q in subs:
        q.put(ev)
    return ev


class Scheduler:
    """Runs every delayed step, in time order, on one thread: a thread per
    step made the fake's own CPU a large part of a many-session drain that
    shares the machine with it."""

    def __init__(self):
        self.heap, self.seq = [], itertools.count()
        self.cond = threading.Condition()
        threading.Thread(target=self.run, daemon=True).start()

    def add(self, delay, fn, args):
        with self.cond:
            heapq.heappush(self.heap, (time.monotonic() + delay, next(self.seq), fn, args))
            self.cond.notify()

    def run(self):
        while True:
            with self.cond:
                while not self.heap or self.heap[0][0] > time.monotonic():
                    self.cond.wait(self.heap[0][0] - time.monotonic() if self.heap else None)
                _, _, fn, args = heapq.heappop(self.heap)
            try:
                fn(*args)
            except Exception:           # as a Timer thread would: said, and the rest go on
                traceback.print_exc()


SCHED = None

# Rate limits on posting events, each a fault, with the waits the API may
# ask: seconds, and the retry-after-ms the official SDK reads first.
RATE_LIMITS = {
    "post_429_retry_after": {"Retry-After": "2"},
    "post_429_long": {"Retry-After": "6"},
    "post_429_retry_after_ms": {"Retry-After": "30", "retry-after-ms": "1500"},
}

# The secret of the broken work object --empty-poll no_id answers with.
NO_ID_SECRET = base64.b64encode(b'{"sessions_token": "sk-ant-no-id-never-logged"}').decode()


def later(delay, fn, *args):
    SCHED.add(delay, fn, args)


def advance(sess):
    """Emits the agent's next step: one tool call, or the end of the turn."""
    with LOCK:
        if sess.finished or sess.pending:
            return
        if sess.step >= len(sess.script):
            sess.finished = True
            sess.status = "idle"
            emit(sess, {"type": "agent.message", "content": [{"type": "text", "text": "done"}]})
            emit(sess, {"type": "session.status_idle", "stop_reason": {"type": "end_turn"}})
            if sess.terminate:
                later(sess.end_delay, terminate, sess)
            return
        step = sess.script[sess.step]
        sess.step += 1
        sess.status = "running"
    if "custom" in step:
        ev = emit(sess, {"type": "agent.custom_tool_use", "name": step["custom"],
                         "input": step.get("input", {}), "session_thread_id": None})
        emit(sess, {"type": "session.status_idle",
                    "stop_reason": {"type": "requires_action", "event_ids": [ev["id"]]}})
        later(step.get("wait", 0.6), advance, sess)
        return
    ev = {"type": "agent.tool_use", "name": step["tool"], "input": step.get("input", {}),
          "session_thread_id": None}
    if "permission" in step:
        ev["evaluated_permission"] = step["permission"]
    answered_by_worker = step["tool"] in ("bash", "read", "write", "edit", "glob", "grep")
    perm = step.get("permission", "allow")
    confirm = step.get("confirm")
    # The call is marked pending before any stream can see it: a worker may
    # answer it before this thread runs again, and post_events only advances
    # the script when the answer matches the pending call.
    ev["id"] = new_id("sevt_")
    if answered_by_worker and (perm == "allow" or (perm != "deny" and confirm == "allow")):
        with LOCK:
            sess.pending = ev["id"]
    ev = emit(sess, ev)
    if perm not in ("allow",):
        emit(sess, {"type": "session.status_idle",
                    "stop_reason": {"type": "requires_action", "event_ids": [ev["id"]]}})
    if perm == "deny" or not answered_by_worker:
        later(step.get("wait", 0.6), advance, sess)
        return
    if perm != "allow":
        if confirm is None:
            later(step.get("wait", 0.6), advance, sess)
            return
        later(step.get("confirm_delay", 0.2), emit, sess,
              {"type": "user.tool_confirmation", "tool_use_id": ev["id"], "result": confirm})
        if confirm != "allow":
            later(step.get("wait", 0.6), advance, sess)


def terminate(sess):
    with LOCK:
        sess.status = "terminated"
    emit(sess, {"type": "session.status_terminated"})


def memory_invalid(path, content):
    """The server's refusals (section 8.3), and REFUSE_ME as a test's way to
    have a file refused."""
    if not isinstance(path, str) or not path.startswith("/") or len(path.encode()) > 1024 or \
            any(p in ("", ".", "..") for p in path[1:].split("/")):
        return 400, "invalid memory path %r" % (path,)
    if not isinstance(content, str):
        return 400, "content must be a string"
    if len(content.encode()) > 102400:
        return 413, "content is larger than 102400 bytes"
    if "REFUSE_ME" in content:
        return 400, "content refused"
    return None


def memory_set(m, content):
    m["content"] = content
    m["content_sha256"] = hashlib.sha256(content.encode()).hexdigest()
    m["content_size_bytes"] = len(content.encode())
    m["memory_version_id"] = new_id("memver_")
    m["updated_at"] = now_iso()


def memory_new(store_id, path, content):
    m = {"type": "memory", "id": new_id("mem_"), "memory_store_id": store_id, "path": path,
         "created_at": now_iso()}
    memory_set(m, content)
    return m


def memory_public(m, full):
    return dict(m, content=m["content"] if full else None)


def make_secret(token):
    raw = json.dumps({"sessions_token": token, "api_base_url": "http://unused.invalid"}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def work_public(w, with_secret=False):
    out = {k: w[k] for k in ("type", "id", "environment_id", "state", "data", "metadata",
                             "created_at", "acknowledged_at", "started_at",
                             "latest_heartbeat_at", "stop_requested_at", "stopped_at")}
    out["secret"] = make_secret(w["token"]) if with_secret else None
    return out


def enqueue(sid):
    wid = new_id("work_")
    w = {"type": "work", "id": wid, "environment_id": ST.env_id, "state": "queued",
         "data": {"type": "session", "id": sid}, "metadata": {}, "created_at": now_iso(),
         "acknowledged_at": None, "started_at": None, "latest_heartbeat_at": None,
         "stop_requested_at": None, "stopped_at": None, "token": None, "polled_at": None,
         "last_hb": None, "lease_until": 0, "claims": 0, "heartbeats": 0}
    ST.work[wid] = w
    ST.work_order.append(wid)
    return w


def requeue(w, why):
    w["state"] = "queued"
    w["last_hb"] = None
    w["lease_until"] = 0
    w["polled_at"] = None
    if w["token"]:
        ST.tokens.pop(w["token"], None)
        ST.revoked.add(w["token"])
    w["token"] = None
    ST.log.append({"event": "requeued", "work_id": w["id"], "why": why})


def expire_leases():
    t = time.time()
    for w in ST.work.values():
        if w["state"] in ("starting", "active") and w["lease_until"] and t > w["lease_until"]:
            requeue(w, "lease expired")


def claimable(w, reclaim_ms):
    if w["state"] != "queued":
        return False
    if w["polled_at"] is None:
        return True
    return (time.time() - w["polled_at"]) * 1000 >= reclaim_ms


class Headers(dict):
    """Request headers by lower-cased name; the first of repeated ones, as
    http.server's message object gives."""

    def get(self, name, default=None):
        return dict.get(self, name.lower(), default)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # An event stream's frames go out in separate writes: with Nagle's
    # algorithm on, each after the first waits for the client's delayed ACK
    # (40 ms on Linux), which no real API adds.
    disable_nagle_algorithm = True
    server_version = "fake-control-plane/1"

    def log_message(self, fmt, *args):
        pass

    def parse_request(self):
        """The request line and headers of HTTP/1.x, without the email
        package that http.server parses them with: it was the largest part
        of the fake's CPU in a drain, where the fake shares the cores with
        the worker it measures.  Anything else is answered 400 (or 431)."""
        self.command, self.request_version, self.close_connection = None, "HTTP/1.1", True
        self.requestline = line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = line.split(" ")
        if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1") or not words[1].startswith("/"):
            self.send_error(400, "Bad request line %r" % line)
            return False
        self.command, self.path, self.request_version = words
        headers = Headers()
        for _ in range(101):
            raw = self.rfile.readline(65537)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, colon, value = str(raw, "iso-8859-1").partition(":")
            if len(raw) > 65536 or not colon or not name or name != name.strip():
                self.send_error(400, "Bad header line")
                return False
            headers.setdefault(name.lower(), value.strip())
        else:
            self.send_error(431, "Too many headers")
            return False
        self.headers = headers
        conn = headers.get("connection", "").lower()
        self.close_connection = conn == "close" or (self.request_version == "HTTP/1.0" and conn != "keep-alive")
        if headers.get("expect", "").lower() == "100-continue" and self.request_version == "HTTP/1.1":
            return self.handle_expect_100()
        return True

    # ---- helpers ----
    def send_json(self, status, obj, headers=None):
        body = b"" if obj is None and status == 204 else json.dumps(obj).encode()
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers(body)

    def end_headers(self, body=b""):
        """The blank line after the headers, and the body with it: one
        write, one segment, one wake-up of the worker reading it (and one
        release of the GIL, which every thread of the fake contends for)."""
        self._headers_buffer.append(b"\r\n" + body)
        self.flush_headers()

    def error(self, status, etype, message, details=None):
        err = {"type": etype, "message": message}
        if details:
            err["details"] = details
        self.send_json(status, {"type": "error", "error": err})

    def body_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return "invalid"

    def credential(self):
        auth = self.headers.get("Authorization", "")
        if self.headers.get("x-api-key"):
            ST.violation("x-api-key sent on %s" % self.path)
        if not auth.startswith("Bearer "):
            return None, None
        tok = auth[7:]
        if tok == ST.env_key:
            return "environment_key", tok
        if tok in ST.tokens:
            return "sessions_token", tok
        if tok in ST.revoked:
            # A worker must not heartbeat, stop or post on a claim it lost.
            # The session's fetch goes out beside the first heartbeat (as
            # the official worker sends it), so it can arrive after a 412
            # to that heartbeat: a read the worker could not yet know was
            # on a lost claim, answered 401 like any other.
            path = urlparse(self.path).path
            parts = path.split("/")
            if not (self.command == "GET" and len(parts) == 4 and parts[1:3] == ["v1", "sessions"]):
                ST.violation("%s %s with a lost claim's token" % (self.command, path))
        return None, tok

    def record(self, kind):
        u = urlparse(self.path)
        ST.log.append({"method": self.command, "path": u.path, "query": u.query,
                       "credential": kind, "time": time.time(),
                       # The client's port: one per TCP connection.
                       "peer": self.client_address[1],
                       "beta": self.headers.get("anthropic-beta"),
                       "version": self.headers.get("anthropic-version"),
                       "worker_id": self.headers.get("Anthropic-Worker-ID"),
                       "user_agent": self.headers.get("User-Agent")})

    def fault(self, name):
        with LOCK:
            n = ST.faults.get(name)
            if n:
                ST.faults[name] = n - 1
                return True
        return False

    # ---- dispatch ----
    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        u = urlparse(self.path)
        parts = [p for p in u.path.split("/") if p]
        q = parse_qs(u.query)
        try:
            if parts[:1] == ["_fake"]:
                return self.control(method, parts[1:], q)
            kind, tok = self.credential()
            with LOCK:
                self.record(kind)
                away = ST.faults.get("outage")
            if away:
                # The control plane away: every API call fails, as a load
                # balancer in front of a dead backend answers.
                return self.error(503, "overloaded_error", "injected outage")
            if kind is None:
                return self.error(401, "authentication_error", "invalid bearer credential")
            if parts[:2] == ["v1", "environments"] and len(parts) >= 4 and parts[3] == "work":
                return self.work_route(method, parts, q, kind, tok)
            if parts[:2] == ["v1", "sessions"] and len(parts) >= 3:
                return self.session_route(method, parts, q, kind, tok)
            if parts[:2] == ["v1", "skills"] and len(parts) >= 4 and method == "GET":
                return self.skill_route(parts, q, kind, tok)
            if parts[:2] == ["v1", "memory_stores"] and len(parts) >= 4 and parts[3] == "memories":
                return self.memory_route(method, parts, q, kind)
            return self.error(404, "not_found_error", "no such route %s" % u.path)
        except (BrokenPipeError, ConnectionResetError):
            return None

    # ---- work queue ----
    def work_route(self, method, parts, q, kind, tok):
        if parts[2] != ST.env_id:
            return self.error(404, "not_found_error", "environment not found")
        if len(parts) == 5 and parts[4] == "stats" and method == "GET":
            if kind != "environment_key":
                ST.violation("work stats with %s" % kind)
            with LOCK:
                queued = [w for w in ST.work.values() if w["state"] == "queued"]
                starting = [w for w in ST.work.values() if w["state"] == "starting"]
            return self.send_json(200, {"type": "work_queue_stats", "depth": len(queued),
                                        "pending": len(starting), "oldest_queued_at": None,
                                        "workers_polling": 0})
        if len(parts) == 5 and parts[4] == "poll" and method == "GET":
            if kind != "environment_key":
                ST.violation("poll with %s" % kind)
            if self.fault("poll_5xx"):
                return self.error(503, "overloaded_error", "injected poll failure")
            if "block_ms" in q and q["block_ms"][0] == "0":
                return self.error(400, "invalid_request_error", "block_ms must be 1-999")
            reclaim = int(q.get("reclaim_older_than_ms", ["5000"])[0])
            deadline = time.time() + int(q.get("block_ms", ["0"])[0]) / 1000.0
            while True:
                with LOCK:
                    expire_leases()
                    for wid in ST.work_order:
                        w = ST.work[wid]
                        if claimable(w, reclaim):
                            w["polled_at"] = time.time()
                            w["claims"] += 1
                            if ST.no_secret:
                                # An older server: no per-item secret at all.
                                return self.send_json(200, work_public(w))
                            w["token"] = new_id("sk-ant-req-fake-")
                            ST.tokens[w["token"]] = wid
                            return self.send_json(200, work_public(w, with_secret=True))
                if time.time() >= deadline:
                    break
                time.sleep(0.05)
            if ST.empty_poll == "null":
                return self.send_json(200, None)
            if ST.empty_poll == "no_id":
                # A broken answer: a work object whose id is empty, with
                # a secret the worker must neither use nor log.
                return self.send_json(200, {"type": "work", "id": "", "secret": NO_ID_SECRET,
                                            "data": {"type": "session", "id": "sesn_none"}})
            if ST.empty_poll == "empty":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            return self.send_json(204, None)
        if len(parts) < 6:
            return self.error(404, "not_found_error", "no such work route")
        with LOCK:
            w = ST.work.get(parts[4])
        if not w:
            return self.error(404, "not_found_error", "work not found")
        action = parts[5]
        if kind == "sessions_token" and ST.tokens.get(tok) != w["id"]:
            ST.violation("%s with another item's token" % action)
            return self.error(401, "authentication_error", "token does not match this work item")
        if action == "ack":
            if kind != "environment_key":
                ST.violation("ack with %s" % kind)
            if self.headers.get("Content-Length") not in (None, "0"):
                ST.violation("ack sent a body")
            with LOCK:
                if w["state"] != "queued" or w["polled_at"] is None:
                    return self.error(409, "invalid_request_error", "work is not claimable")
                w["state"] = "starting"
                ST.max_active = max(ST.max_active, sum(
                    1 for x in ST.work.values() if x["state"] in ("starting", "active", "stopping")))
                w["acknowledged_at"] = now_iso()
                w["lease_until"] = time.time() + ST.ttl
                return self.send_json(200, work_public(w))
        if action == "heartbeat":
            return self.heartbeat(w, q)
        if action == "stop":
            body = self.body_json()
            if not isinstance(body, dict) or body.get("force") is not True:
                ST.violation("stop without force=true: %r" % (body,))
            with LOCK:
                if w["state"] == "stopped":
                    return self.error(409, "invalid_request_error", "work already stopped")
                w["state"] = "stopped"
                w["stopped_at"] = now_iso()
                STOPPED.notify_all()
                return self.send_json(200, work_public(w))
        return self.error(404, "not_found_error", "no such work action")

    def heartbeat(self, w, q):
        expected = q.get("expected_last_heartbeat", [None])[0]
        if self.fault("heartbeat_awaits_fetch"):
            # Answered only once the worker fetched the session (or after
            # 10 s): a worker that waits for this answer before fetching
            # shows as beat_saw_fetch false.
            saw = ST.fetch_event(w["data"]["id"]).wait(10)
            with LOCK:
                w["beat_saw_fetch"] = saw
        with LOCK:
            expire_leases()
            w["heartbeats"] += 1
            if self.fault("heartbeat_412"):
                requeue(w, "injected 412")
                expected = "forced-mismatch"
            current = w["last_hb"] or "NO_HEARTBEAT"
            if expected != current or w["state"] not in ("starting", "active", "stopping"):
                return self.error(412, "invalid_request_error",
                                  "Heartbeat precondition failed: expected %s, actual was %s"
                                  % (expected, w["last_hb"] or "NULL"),
                                  {"error_code": "heartbeat_precondition_failed",
                                   "current_state": {"state": w["state"],
                                                     "last_heartbeat": w["last_hb"],
                                                     "lease_extended": False,
                                                     "ttl_seconds": ST.ttl}})
            if w["state"] == "starting":
                w["state"] = "active"
                w["started_at"] = now_iso()
                sess = ST.sessions.get(w["data"]["id"])
                if sess and not sess.started:
                    sess.started = True
                    later(sess.first_delay, advance, sess)
            w["last_hb"] = now_iso()
            w["latest_heartbeat_at"] = w["last_hb"]
            w["lease_until"] = time.time() + ST.ttl
            state = w["state"]
            extended = state == "active"
            if self.fault("heartbeat_stopping"):
                w["state"] = state = "stopping"
                extended = False
            return self.send_json(200, {"type": "work_heartbeat", "last_heartbeat": w["last_hb"],
                                        "lease_extended": extended, "state": state,
                                        "ttl_seconds": ST.ttl})

    # ---- sessions ----
    def session_route(self, method, parts, q, kind, tok):
        with LOCK:
            sess = ST.sessions.get(parts[2])
        if not sess:
            return self.error(404, "not_found_error", "session not found")
        if kind == "sessions_token":
            w = ST.work.get(ST.tokens.get(tok))
            if not w or w["data"]["id"] != sess.id:
                ST.violation("session call with another session's token")
                return self.error(403, "permission_error", "token not valid for this session")
        if len(parts) == 3 and method == "GET":
            ST.fetch_event(sess.id).set()
            return self.send_json(200, sess.public())
        if len(parts) == 5 and parts[3:] == ["events", "stream"] and method == "GET":
            return self.stream(sess)
        if len(parts) == 4 and parts[3] == "events" and method == "GET":
            limit = int(q.get("limit", ["100"])[0])
            if ST.page_size:
                limit = min(limit, ST.page_size)
            start = int(q.get("page", ["0"])[0] or 0)
            with LOCK:
                data = sess.events[start:start + limit]
                nxt = str(start + limit) if start + limit < len(sess.events) else None
            return self.send_json(200, {"data": data, "next_page": nxt})
        if len(parts) == 4 and parts[3] == "events" and method == "POST":
            return self.post_events(sess)
        return self.error(404, "not_found_error", "no such session route")

    # ---- skills ----
    def skill_route(self, parts, q, kind, tok):
        """GA skills (section 13.1): retrieve a version by id, number or
        "latest", then its content by the skver_ id.  A skill made with
        legacy=true, or any call with the old beta header, answers in the
        legacy shape: numeric versions only, a listing, no ids."""
        with LOCK:
            w = ST.work.get(ST.tokens.get(tok)) if kind == "sessions_token" else None
            # The official worker starts its heartbeat loop before the
            # session fetch but does not await it, so a busy machine can
            # deliver a skill call first: the ack is the order it keeps.
            # sandhook's stricter order is checked by skills.py.
            if w is not None and not w["acknowledged_at"]:
                ST.violation("skill %s before the item was acknowledged" % "/".join(parts[2:]))
            skill = ST.skills.get(parts[2])
        if not skill:
            return self.error(404, "not_found_error", "skill not found")
        beta = self.headers.get("anthropic-beta") or ""
        legacy = skill["legacy"] or "skills-2025-10-02" in beta
        if not skill["legacy"] and beta:
            ST.violation("anthropic-beta %r sent to the GA skills API" % beta)
        versions = skill["versions"]
        if len(parts) == 4 and parts[3] == "versions":
            if not legacy:
                return self.error(404, "not_found_error", "no such route")
            start = int(q.get("page", ["0"])[0] or 0)
            data = [{"type": "skill_version", "version": v["version"], "name": skill["name"]}
                    for v in versions[start:start + 1]]
            nxt = str(start + 1) if start + 1 < len(versions) else None
            return self.send_json(200, {"data": data, "has_more": nxt is not None,
                                        "next_page": nxt})
        if len(parts) < 5 or parts[3] != "versions":
            return self.error(404, "not_found_error", "no such route")
        ref = parts[4]
        if legacy and not ref.isdigit():
            return self.error(400, "invalid_request_error",
                              "version must be an integer version, not %r" % ref)
        if ref == "latest":
            v = versions[-1]
        else:
            v = next((v for v in versions if ref in (v["id"], v["version"])), None)
        if not v:
            return self.error(404, "not_found_error", "skill version not found")
        if len(parts) == 5:
            out = {"type": "skill_version", "skill_id": parts[2], "version": v["version"],
                   "name": skill["name"], "description": "a fake skill",
                   "directory": skill["name"], "created_at": now_iso()}
            if not legacy:
                out["id"] = v["id"]
            return self.send_json(200, out)
        if len(parts) == 6 and parts[5] == "content":
            if "application/binary" not in (self.headers.get("Accept") or ""):
                ST.violation("skill content fetched without Accept: application/binary")
            if not legacy and ref != v["id"]:
                ST.violation("skill content fetched by %r, not the skver_ id" % ref)
            self.send_response(200)
            self.send_header("Content-Type", "application/binary")
            self.send_header("Content-Length", str(len(v["archive"])))
            self.end_headers()
            self.wfile.write(v["archive"])
            return None
        return self.error(404, "not_found_error", "no such route")

    # ---- memory stores (section 8) ----
    def memory_route(self, method, parts, q, kind):
        if ST.memory_delay:
            time.sleep(ST.memory_delay)     # a slow server, for the end-of-item bounds
        if kind != "sessions_token":
            ST.violation("%s %s with the %s" % (method, urlparse(self.path).path, kind))
            return self.error(403, "permission_error", "memory stores need the sessions token")
        if "agent-memory-2026-07-22" not in (self.headers.get("anthropic-beta") or ""):
            ST.violation("memory call without anthropic-beta agent-memory-2026-07-22")
        with LOCK:
            store = ST.stores.get(parts[2])
            if store is None:
                return self.error(404, "not_found_error", "memory store not found")
            if len(parts) == 4 and method == "GET":
                view = q.get("view", ["basic"])[0]
                limit = int(q.get("limit", ["20"])[0])
                if limit > (20 if view == "full" else 100):
                    return self.error(400, "invalid_request_error", "limit too large for view=%s" % view)
                items = sorted(store.values(), key=lambda m: m["path"])
                start = int(q.get("page", ["0"])[0] or 0)
                page = items[start:start + limit]
                nxt = str(start + limit) if start + limit < len(items) else None
                return self.send_json(200, {"data": [memory_public(m, view == "full") for m in page],
                                            "next_page": nxt})
            if len(parts) == 4 and method == "POST":
                body = self.body_json() or {}
                path, content = body.get("path"), body.get("content")
                err = memory_invalid(path, content)
                if err:
                    return self.error(err[0], "invalid_request_error", err[1])
                if any(m["path"] == path for m in store.values()):
                    return self.error(409, "invalid_request_error", "a memory exists at %s" % path)
                m = memory_new(parts[2], path, content)
                store[m["id"]] = m
                ST.memory_writes.append(("create", parts[2], path))
                return self.send_json(200, memory_public(m, False))
            m = store.get(parts[4]) if len(parts) == 5 else None
            if m is None:
                return self.error(404, "not_found_error", "memory not found")
            if method == "GET":
                return self.send_json(200, memory_public(m, True))
            if method == "POST":
                body = self.body_json() or {}
                content = body.get("content")
                err = memory_invalid(m["path"], content)
                if err:
                    return self.error(err[0], "invalid_request_error", err[1])
                pre = (body.get("precondition") or {}).get("content_sha256")
                if pre is None:
                    ST.violation("memory update without a content_sha256 precondition")
                if pre != m["content_sha256"]:
                    if m["content"] == content:
                        return self.send_json(200, memory_public(m, False))
                    return self.error(409, "memory_precondition_failed_error",
                                      "content_sha256 precondition failed")
                memory_set(m, content)
                ST.memory_writes.append(("update", parts[2], m["path"]))
                return self.send_json(200, memory_public(m, False))
            if method == "DELETE":
                want = q.get("expected_content_sha256", [None])[0]
                if want is not None and want != m["content_sha256"]:
                    return self.error(409, "memory_precondition_failed_error",
                                      "expected_content_sha256 does not match")
                del store[m["id"]]
                ST.memory_writes.append(("delete", parts[2], m["path"]))
                return self.send_json(200, {"type": "memory_deleted", "id": m["id"]})
        return self.error(404, "not_found_error", "no such memory route")

    def post_events(self, sess):
        body = self.body_json()
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            return self.error(400, "invalid_request_error", "events must be a list")
        if self.fault("post_5xx"):
            return self.error(500, "api_error", "injected failure")
        for name, headers in RATE_LIMITS.items():
            if self.fault(name):
                return self.send_json(429, {"type": "error", "error": {"type": "rate_limit_error",
                                                                       "message": "injected"}}, headers)
        if self.fault("post_400_and_drop"):
            # A refusal no retry gets past, then the stream drops: the
            # worker's next reconcile must post the result again.
            with LOCK:
                for q in sess.subscribers:
                    q.put(None)
            return self.error(400, "invalid_request_error", "injected refusal")
        out = []
        with LOCK:
            for ev in body["events"]:
                if ev.get("type") != "user.tool_result":
                    return self.error(400, "invalid_request_error", "unsupported event type")
                tid = ev.get("tool_use_id")
                call = next((e for e in sess.events
                             if e["type"] == "agent.tool_use" and e["id"] == tid), None)
                if call is None:
                    ST.violation("result for unknown tool_use %s" % tid)
                    return self.error(400, "invalid_request_error", "unknown tool_use_id")
                if tid in sess.results:
                    ST.violation("second result for %s" % tid)
                    return self.error(400, "invalid_request_error", "tool_use already answered")
                if call.get("evaluated_permission", "allow") == "deny":
                    ST.violation("result for denied call %s" % tid)
                content = ev.get("content")
                if not isinstance(content, list) or not content or \
                        not isinstance(ev.get("is_error"), bool):
                    ST.violation("malformed result for %s" % tid)
                sess.results[tid] = ev
                out.append(dict(ev))
        for ev in out:
            emit(sess, ev)
        with LOCK:
            if sess.pending in [e["tool_use_id"] for e in out]:
                sess.pending = None
                later(0.05, advance, sess)
        return self.send_json(200, {"data": out})

    def stream(self, sess):
        q = queue.Queue()
        with LOCK:
            sess.subscribers.append(q)
            drop_after = ST.faults.get("drop_stream_after")
            if drop_after:
                ST.faults["drop_stream_after"] = None
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        sent = 0
        try:
            self.wfile.write(b": connected\n\n")
            self.wfile.flush()
            while True:
                try:
                    ev = q.get(timeout=2.0)
                except queue.Empty:
                    self.wfile.write(b"event: ping\ndata: {}\n\n")
                    self.wfile.flush()
                    continue
                if ev is None:
                    ST.log.append({"event": "stream_dropped", "session": sess.id})
                    break
                data = json.dumps(ev)
                self.wfile.write(("event: %s\ndata: %s\n\n" % (ev["type"], data)).encode())
                self.wfile.flush()
                sent += 1
                if drop_after and sent >= drop_after:
                    ST.log.append({"event": "stream_dropped", "session": sess.id})
                    break
                if ev["type"] in ("session.status_terminated", "session.deleted"):
                    time.sleep(0.2)
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with LOCK:
                if q in sess.subscribers:
                    sess.subscribers.remove(q)

    # ---- control ----
    def control(self, method, parts, q):
        if parts == ["sessions", "batch"] and method == "POST":
            # {"ids": [...], spec}: every session queued under one hold of
            # the lock, so a benchmark's clock starts when all are claimable.
            spec = self.body_json() or {}
            ids = spec.get("ids") or []
            if len(set(ids)) != len(ids):
                return self.error(400, "invalid_request_error", "a session id is repeated in the batch")
            with LOCK:
                works = []
                for sid in ids:
                    if sid in ST.sessions:
                        return self.error(409, "invalid_request_error", "session %s exists" % sid)
                for sid in ids:
                    ST.sessions[sid] = Session(sid, spec)
                    works.append(enqueue(sid)["id"])
            return self.send_json(200, {"work_ids": works})
        if parts == ["sessions"] and method == "POST":
            spec = self.body_json() or {}
            sid = spec.get("id") or new_id("sesn_")
            with LOCK:
                sess = ST.sessions.get(sid)
                if sess:
                    # A dormant session gets a new message: more script, and
                    # a new work item for it.
                    sess.script.extend(spec.get("script", []))
                    sess.terminate = spec.get("terminate", True)
                    sess.finished = False
                    sess.started = False
                else:
                    sess = Session(sid, spec)
                    ST.sessions[sid] = sess
                w = enqueue(sid)
            return self.send_json(200, {"session_id": sid, "work_id": w["id"]})
        if len(parts) == 3 and parts[0] == "sessions" and parts[2] == "terminate" and method == "POST":
            # The session ends when the test says so, not after a delay.
            with LOCK:
                sess = ST.sessions.get(parts[1])
            if not sess:
                return self.error(404, "not_found_error", "no session")
            terminate(sess)
            return self.send_json(200, {})
        if len(parts) == 2 and parts[0] == "sessions" and method == "GET":
            with LOCK:
                sess = ST.sessions.get(parts[1])
                if not sess:
                    return self.error(404, "not_found_error", "no session")
                return self.send_json(200, {"id": sess.id, "status": sess.status,
                                            "finished": sess.finished, "events": sess.events,
                                            "results": sess.results})
        if parts == ["work"] and method == "GET":
            with LOCK:
                return self.send_json(200, {"data": [
                    dict(work_public(w), claims=w["claims"], heartbeats=w["heartbeats"],
                         beat_saw_fetch=w.get("beat_saw_fetch"))
                    for w in ST.work.values()]})
        if parts == ["work", "wait"] and method == "POST":
            # {"ids": [session ids], "timeout_s": N}: answers once every
            # work item of each of them is stopped, or when N runs out.
            spec = self.body_json() or {}
            want, deadline = set(spec.get("ids") or []), time.monotonic() + float(spec.get("timeout_s", 60))

            def left():
                stopped = {}
                for w in ST.work.values():
                    sid = w["data"]["id"]
                    stopped[sid] = stopped.get(sid, True) and w["state"] == "stopped"
                return sum(not stopped.get(sid) for sid in want)
            with LOCK:
                while left() and time.monotonic() < deadline:
                    STOPPED.wait(deadline - time.monotonic())
                return self.send_json(200, {"left": left()})
        if parts == ["work"] and method == "POST":
            spec = self.body_json() or {}
            with LOCK:
                w = enqueue(spec.get("session_id", "none"))
                w["data"] = spec.get("data", w["data"])
            return self.send_json(200, {"work_id": w["id"]})
        if parts == ["skills"] and method == "POST":
            spec = self.body_json() or {}
            sid = spec.get("skill_id") or new_id("skill_")
            with LOCK:
                skill = ST.skills.setdefault(sid, {"name": spec.get("name", sid),
                                                   "legacy": bool(spec.get("legacy")),
                                                   "versions": []})
                v = {"id": new_id("skver_"), "version": str(1759178010641129 + len(skill["versions"])),
                     "archive": base64.b64decode(spec.get("archive", ""))}
                skill["versions"].append(v)
            return self.send_json(200, {"skill_id": sid, "id": v["id"], "version": v["version"]})
        if parts == ["memory_stores"] and method == "POST":
            spec = self.body_json() or {}
            sid = new_id("memstore_")
            with LOCK:
                ST.stores[sid] = {}
                for path, content in (spec.get("memories") or {}).items():
                    m = memory_new(sid, path, content)
                    ST.stores[sid][m["id"]] = m
            return self.send_json(200, {"memory_store_id": sid})
        if len(parts) == 2 and parts[0] == "memory_stores" and method == "GET":
            with LOCK:
                store = ST.stores.get(parts[1])
                if store is None:
                    return self.error(404, "not_found_error", "no store")
                return self.send_json(200, {"memories": {m["path"]: m["content"] for m in store.values()},
                                            "writes": [w for w in ST.memory_writes if w[1] == parts[1]]})
        if len(parts) == 2 and parts[0] == "memory_stores" and method == "POST":
            # Remote edits by someone else: {"path", "content"} (null
            # deletes), or {"changes": [...]} of those, made at once so no
            # worker's listing sees half of them.
            body = self.body_json() or {}
            with LOCK:
                store = ST.stores[parts[1]]
                for spec in body.get("changes", [body]):
                    m = next((m for m in store.values() if m["path"] == spec["path"]), None)
                    if spec.get("content") is None:
                        if m:
                            del store[m["id"]]
                    elif m:
                        memory_set(m, spec["content"])
                    else:
                        m = memory_new(parts[1], spec["path"], spec["content"])
                        store[m["id"]] = m
            return self.send_json(200, {})
        if parts == ["faults"] and method == "POST":
            with LOCK:
                ST.faults.update(self.body_json() or {})
            return self.send_json(200, ST.faults)
        if parts == ["config"] and method == "POST":
            cfg = self.body_json() or {}
            with LOCK:
                ST.ttl = cfg.get("ttl", ST.ttl)
                ST.page_size = cfg.get("page_size", ST.page_size)
                ST.empty_poll = cfg.get("empty_poll", ST.empty_poll)
                ST.no_secret = cfg.get("no_secret", ST.no_secret)
                ST.memory_delay = cfg.get("memory_delay", ST.memory_delay)
            return self.send_json(200, {})
        if parts == ["log"] and method == "GET":
            with LOCK:
                return self.send_json(200, {"requests": ST.log, "violations": ST.violations,
                                            "max_active": ST.max_active})
        if parts == ["health"]:
            return self.send_json(200, {"ok": True})
        return self.error(404, "not_found_error", "no such control route")


def main():
    global ST, SCHED
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--environment-id", default="env_fake")
    ap.add_argument("--environment-key", default="sk-ant-oat01-fake-environment-key")
    ap.add_argument("--ttl", type=int, default=30)
    ap.add_argument("--empty-poll", choices=["204", "null", "empty", "no_id"], default="204")
    args = ap.parse_args()
    ST = State(args.environment_id, args.environment_key, args.ttl, args.empty_poll)
    SCHED = Scheduler()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(srv.server_address[1]))
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
