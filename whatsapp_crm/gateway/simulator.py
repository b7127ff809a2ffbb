"""A fake Baileys WhatsApp gateway speaking the DESIGN.md §2 contract over real loopback HTTP.

Used by the tests, the CLI demo and the benchmarks. Each session follows a scripted scenario (QR at once, QR
late, QR generation errors, rotation, linking, hangs, proxy 502s, lying 200s, broken or huge bodies, a gateway
that forgets sessions). Standard library only, and never imports frappe.

Times are read from an injectable ``clock`` so a test can drive a session by hand; only real blocking
(``delay_s`` and ``hang``) uses wall time, through ``threading.Event`` waits that ``stop()`` releases at once.

With a webhook URL set, a sender thread also pushes events the way webhook.py reads them ("qr" on the first QR
and on each rotation, "connection" once linked, "logout" on DELETE), signed with HMAC or carrying the shared
secret. It signs with its own copy of the scheme so that it stays a standalone script and an independent
implementation for webhook.verify() to be checked against.

Run it as a dev server: ``python -m whatsapp_crm.gateway.simulator --port 3000 --scenario qr_error``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeGuard
from urllib.parse import unquote, urlsplit

FAULTS = ("hang", "unauthorized", "html_502", "success_false", "not_json", "huge_body", "session_lost")


@dataclass
class SessionOptions:
	qr_after_s: float = 0.0  # seconds after create before a QR exists
	qr_errors: int = 0  # first N GET /qr answer 500 QR_GENERATION_ERROR (status still says a QR is available)
	rotate_s: float = 20.0  # QR payload changes every rotate_s seconds (0 = never)
	# linked (connected) this long after the first QR was served; None = only via scan()
	scan_after_s: float | None = None
	delay_s: float = 0.0  # real sleep before every answer for this session ("slow")
	fault: str | None = None  # one of FAULTS
	huge_mb: float = 5.0  # body size for fault="huge_body"
	lost_after_s: float = 0.0  # fault="session_lost": forgotten this long after create, once

	def __post_init__(self) -> None:
		# A typo in a scenario would silently test the happy path: refuse it.
		if self.fault is not None and self.fault not in FAULTS:
			raise ValueError(f"unknown fault {self.fault!r}; expected one of {', '.join(FAULTS)}")


SCENARIOS: dict[str, SessionOptions] = {
	"qr_now": SessionOptions(),
	"qr_after": SessionOptions(qr_after_s=3.0),
	"qr_error": SessionOptions(qr_errors=2),
	"qr_rotating": SessionOptions(rotate_s=2.0),
	"linked": SessionOptions(scan_after_s=3.0),
	"hang": SessionOptions(fault="hang"),
	"slow": SessionOptions(delay_s=1.5),
	"unauthorized": SessionOptions(fault="unauthorized"),
	"html_502": SessionOptions(fault="html_502"),
	"success_false": SessionOptions(fault="success_false"),
	"not_json": SessionOptions(fault="not_json"),
	"huge_body": SessionOptions(fault="huge_body"),
	"session_lost": SessionOptions(fault="session_lost", lost_after_s=0.0),
}
DEFAULT_SCENARIO = "linked"

DEFAULT_PHONE = "34600111222"
MAX_BODY = 64 * 1024
CHUNK = 64 * 1024
_SESSION_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_JSON = "application/json"
_NGINX_502 = (
	b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
	b"<hr><center>nginx</center></body></html>"
)
_PHONE_RE = re.compile(r"\+?[0-9]{8,15}")
_PAIRING_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
WEBHOOK_MODES = ("hmac", "secret")
WEBHOOK_POLL_S = 0.05
WEBHOOK_TIMEOUT_S = 3.0
_UNAUTHORIZED = {"success": False, "error": "UNAUTHORIZED", "message": "Invalid API key"}
_NOT_FOUND = {"success": False, "error": "SESSION_NOT_FOUND", "message": "Session not found"}


def _resolve(scenario: str | SessionOptions) -> SessionOptions:
	if isinstance(scenario, SessionOptions):
		return scenario
	try:
		return SCENARIOS[scenario]
	except KeyError:
		raise ValueError(f"unknown scenario {scenario!r}; expected one of {', '.join(SCENARIOS)}") from None


def _valid_id(session_id: object) -> TypeGuard[str]:
	return isinstance(session_id, str) and _SESSION_ID_RE.fullmatch(session_id) is not None


def qr_payload(session_id: str, generation: int) -> str:
	"""A Baileys-looking raw QR string, deterministic per (session, generation) so rotation is observable."""

	def part(label: str, size: int) -> str:
		seed = f"{label}:{session_id}:{generation}".encode()
		raw = b"".join(hashlib.sha256(seed + bytes([i])).digest() for i in range(size // 32 + 1))
		return base64.b64encode(raw[:size]).decode("ascii")

	return f"2@{part('ref', 60)},{part('noise', 32)},{part('identity', 32)},{generation}"


def pairing_code(session_id: str, phone: str, count: int) -> str:
	"""8 characters of [A-Z0-9], deterministic per (session, phone digits, request number)."""
	digest = hashlib.sha256(f"pair:{session_id}:{phone}:{count}".encode()).digest()
	return "".join(_PAIRING_ALPHABET[b % len(_PAIRING_ALPHABET)] for b in digest[:8])


def _webhook_auth(body: bytes, secret: str, mode: str) -> dict[str, str]:
	"""Headers authenticating one webhook POST (the contract in webhook.py). No secret: none at all."""
	if not secret:
		return {}
	if mode == "secret":
		return {"X-Webhook-Secret": secret}
	ts = str(int(time.time()))
	digest = hmac.new(secret.encode("utf-8"), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
	return {"X-Webhook-Timestamp": ts, "X-Webhook-Signature": f"sha256={digest}"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
	# A redirected POST would turn into a GET elsewhere: report the 3xx instead.
	def redirect_request(self, *args: Any, **kwargs: Any) -> None:
		return None


@dataclass
class _Session:
	session_id: str
	created_at: float
	qr_errors_served: int = 0
	first_qr_at: float | None = None
	connected: bool = False
	phone: str | None = None
	pairing_requests: int = 0
	# what the webhook sender already announced for this session object (a re-created session starts over)
	wh_generation: int | None = None
	wh_connected: bool = False


class _Server(ThreadingHTTPServer):
	daemon_threads = True
	allow_reuse_address = True
	request_queue_size = 128  # benchmarks open many connections at once

	def __init__(self, address: tuple[str, int], simulator: GatewaySimulator) -> None:
		self.simulator = simulator
		self.stopping = threading.Event()
		self._conns: set[socket.socket] = set()
		self._conns_lock = threading.Lock()
		super().__init__(address, _Handler)

	def server_bind(self) -> None:
		# HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can take seconds in a sandbox.
		socketserver.TCPServer.server_bind(self)
		host, port = self.server_address[:2]
		self.server_name, self.server_port = str(host), int(port)

	def track(self, conn: socket.socket, add: bool) -> None:
		with self._conns_lock:
			if add:
				self._conns.add(conn)
			else:
				self._conns.discard(conn)

	def drop_connections(self) -> None:
		# Idle keep-alive threads would otherwise linger, still answering on reused client connections.
		with self._conns_lock:
			conns = list(self._conns)
		for conn in conns:
			try:
				conn.shutdown(socket.SHUT_RDWR)
			except OSError:
				pass

	def handle_error(self, request: Any, client_address: Any) -> None:
		# Quiet about clients hanging up (huge bodies, timeouts, stop()); loud about real simulator bugs.
		if not isinstance(sys.exc_info()[1], OSError):
			super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
	protocol_version = "HTTP/1.1"
	server_version = "whatsapp-crm-simulator/1.0"
	sys_version = ""
	disable_nagle_algorithm = True  # headers and body go out in two writes; avoid 40 ms delayed-ACK stalls
	timeout = 60  # idle keep-alive connections do not live forever
	server: _Server
	_entry: dict[str, Any] | None = None  # this request's line in the simulator's log

	def setup(self) -> None:
		super().setup()
		self.server.track(self.connection, True)

	def finish(self) -> None:
		self.server.track(self.connection, False)
		try:
			super().finish()
		except OSError:
			pass

	def log_message(self, format: str, *args: Any) -> None:
		pass

	def version_string(self) -> str:
		return self.server_version

	def do_GET(self) -> None:
		self._dispatch("GET")

	def do_POST(self) -> None:
		self._dispatch("POST")

	def do_DELETE(self) -> None:
		self._dispatch("DELETE")

	def do_PUT(self) -> None:
		self._dispatch("PUT")

	def do_PATCH(self) -> None:
		self._dispatch("PATCH")

	# -- plumbing --

	def _dispatch(self, method: str) -> None:
		self._entry = None
		if self.server.stopping.is_set():
			# Accepted in the instant stop() ran: do not keep serving from a stopped simulator.
			self.close_connection = True
			return
		try:
			self.server.simulator._handle(self, method)
		except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
			self.close_connection = True

	def send_bytes(self, status: int, body: bytes, content_type: str, close: bool = False) -> None:
		self.server.simulator._log_status(self, status)
		self.send_response(status)
		self.send_header("Content-Type", content_type)
		self.send_header("Content-Length", str(len(body)))
		if close:
			self.send_header("Connection", "close")
			self.close_connection = True
		self.end_headers()
		self.wfile.write(body)

	def send_json(self, status: int, payload: dict[str, Any], close: bool = False) -> None:
		self.send_bytes(status, json.dumps(payload).encode("utf-8"), _JSON, close)

	def send_huge(self, payload: dict[str, Any], size: int) -> None:
		# A valid JSON object padded to `size` bytes, streamed so the simulator never holds it in memory.
		head = json.dumps(payload)[:-1].encode("utf-8") + b', "padding": "'
		tail = b'"}'
		pad = max(0, size - len(head) - len(tail))
		self.server.simulator._log_status(self, 200)
		self.send_response(200)
		self.send_header("Content-Type", _JSON)
		self.send_header("Content-Length", str(len(head) + pad + len(tail)))
		self.end_headers()
		try:
			self.wfile.write(head)
			block = b"x" * CHUNK
			while pad > 0:
				n = min(pad, CHUNK)
				self.wfile.write(block[:n])
				pad -= n
			self.wfile.write(tail)
		except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
			self.close_connection = True  # the client gave up early, as a careful one should

	def read_body(self) -> bytes | None:
		"""The whole request body (keep-alive needs it consumed), or None after answering an error."""
		if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
			self.send_json(411, {"success": False, "error": "LENGTH_REQUIRED"}, close=True)
			return None
		raw = self.headers.get("Content-Length", "0").strip() or "0"
		try:
			length = int(raw)
			if length < 0:
				raise ValueError
		except ValueError:
			self.send_json(400, {"success": False, "error": "BAD_REQUEST"}, close=True)
			return None
		if length > MAX_BODY:
			# Not reading it: the connection is closed instead, so its bytes cannot be taken for a request.
			self.send_json(413, {"success": False, "error": "PAYLOAD_TOO_LARGE"}, close=True)
			return None
		body = self.rfile.read(length) if length else b""
		if len(body) < length:
			self.close_connection = True
			return None
		return body

	def hang_up(self) -> None:
		self.close_connection = True


def _parse_json_object(body: bytes) -> dict[str, Any] | None:
	try:
		data = json.loads(body.decode("utf-8")) if body else None
	except (UnicodeDecodeError, ValueError):
		return None
	return data if isinstance(data, dict) else None


def _route(method: str, path: str) -> tuple[str, str | None, str | None, bool]:
	"""(endpoint, raw session id segment, control action, method allowed) for a URL path."""
	parts = path.split("/")[1:]
	if parts == ["api", "health"]:
		return "health", None, None, method == "GET"
	if parts == ["api", "sessions"]:
		return "create", None, None, method == "POST"
	if len(parts) == 3 and parts[:2] == ["api", "sessions"]:
		return "delete", parts[2], None, method == "DELETE"
	if len(parts) == 4 and parts[:2] == ["api", "sessions"] and parts[3] in ("status", "qr"):
		return parts[3], parts[2], None, method == "GET"
	if len(parts) == 4 and parts[:2] == ["api", "sessions"] and parts[3] == "pairing-code":
		return "pairing", parts[2], None, method == "POST"
	if parts == ["_sim", "restart"]:
		return "control", None, "restart", method == "POST"
	if parts == ["_sim", "webhook"]:
		return "control", None, "webhook", method == "POST"
	if len(parts) == 4 and parts[:2] == ["_sim", "sessions"] and parts[3] in ("scan", "scenario"):
		return "control", parts[2], parts[3], method == "POST"
	return "other", None, None, True


class GatewaySimulator:
	"""A scripted Baileys gateway on loopback; thread-safe. start()/stop(), or use it as a context manager.

	Scenario per session: set_scenario() override, else the text after the id's last "--" when it names a
	scenario ("sales--qr_error"), else the constructor's default. restart() forgets sessions, keeps overrides.
	"""

	def __init__(
		self,
		api_key: str = "sim-secret-key",
		*,
		host: str = "127.0.0.1",
		port: int = 0,
		scenario: str | SessionOptions = DEFAULT_SCENARIO,
		clock: Callable[[], float] = time.monotonic,
		hang_max_s: float = 120.0,
		webhook_url: str | None = None,
		webhook_secret: str = "",
		webhook_mode: str = "hmac",
	) -> None:
		self.api_key = api_key
		self.host = host
		self.port = port
		self.default_options = _resolve(scenario)
		self.scenario_name = scenario if isinstance(scenario, str) else "custom"
		self.clock = clock
		self.hang_max_s = hang_max_s
		self._lock = threading.RLock()
		self._sessions: dict[str, _Session] = {}
		self._overrides: dict[str, SessionOptions] = {}
		# ids already forgotten once by session_lost; from then on they behave like qr_now
		self._lost: set[str] = set()
		self._log: list[dict[str, Any]] = []
		self._server: _Server | None = None
		self._thread: threading.Thread | None = None
		self._bound: tuple[str, int] | None = None
		# webhooks: (url, secret, mode) or None; events wait in one queue so each session's stay in order
		self._webhook: tuple[str, str, str] | None = None
		self._wh_queue: deque[dict[str, Any]] = deque()
		self._wh_log: list[dict[str, Any]] = []
		self._wh_wake = threading.Event()
		self._wh_stop: threading.Event | None = None
		self._wh_thread: threading.Thread | None = None
		self._wh_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
		self.set_webhook(webhook_url, webhook_secret, webhook_mode)

	# -- lifecycle --

	def start(self) -> GatewaySimulator:
		with self._lock:
			if self._server is not None:
				return self
			server = _Server((self.host, self.port), self)
			self._bound = (str(server.server_address[0]), int(server.server_address[1]))
			# A short poll interval keeps stop() fast; the listening socket already queues connections.
			thread = threading.Thread(
				target=server.serve_forever,
				kwargs={"poll_interval": 0.05},
				name="gateway-simulator",
				daemon=True,
			)
			thread.start()
			self._server, self._thread = server, thread
			# Always running (idle without a URL), so set_webhook() works on a started simulator too.
			self._wh_stop = threading.Event()
			self._wh_thread = threading.Thread(
				target=self._webhook_loop,
				args=(self._wh_stop,),
				name="gateway-simulator-webhooks",
				daemon=True,
			)
			self._wh_thread.start()
		return self

	def stop(self) -> None:
		with self._lock:
			server, thread = self._server, self._thread
			wh_stop, wh_thread = self._wh_stop, self._wh_thread
			self._server = self._thread = self._wh_thread = self._wh_stop = None
		if server is None:
			return
		if wh_stop is not None:
			wh_stop.set()
			self._wh_wake.set()
		server.stopping.set()  # releases hanging and delayed requests at once
		server.shutdown()
		server.server_close()
		server.drop_connections()
		if thread is not None:
			thread.join(timeout=5)
		if wh_thread is not None:
			wh_thread.join(timeout=WEBHOOK_TIMEOUT_S + 2)  # at most one delivery in flight

	def __enter__(self) -> GatewaySimulator:
		return self.start()

	def __exit__(self, *exc: object) -> None:
		self.stop()

	@property
	def url(self) -> str:
		if self._bound is None:
			raise RuntimeError("GatewaySimulator is not started")
		host, port = self._bound
		return f"http://{host}:{port}"

	# -- scripting --

	def set_scenario(self, session_id: str, scenario: str | SessionOptions) -> None:
		if not _valid_id(session_id):
			raise ValueError(f"invalid session id {session_id!r}")
		options = _resolve(scenario)
		with self._lock:
			self._overrides[session_id] = options
			self._lost.discard(session_id)  # an explicit choice replaces the post-loss qr_now behaviour

	def scan(self, session_id: str, phone: str = DEFAULT_PHONE) -> None:
		"""The user scans the QR: the session is connected at once. Unknown sessions are ignored."""
		self._scan(session_id, phone)

	def restart(self) -> None:
		"""Gateway restart: every session is forgotten. Per-session scenario overrides are kept."""
		with self._lock:
			self._sessions.clear()
			self._lost.clear()

	def set_webhook(self, url: str | None, secret: str = "", mode: str = "hmac") -> None:
		"""Where to POST events (None: nowhere), signed ("hmac") or with the shared secret ("secret").

		An empty secret sends events without credentials: useful to check that a receiver refuses them.
		"""
		if mode not in WEBHOOK_MODES:
			raise ValueError(f"unknown webhook mode {mode!r}; expected one of {', '.join(WEBHOOK_MODES)}")
		if not isinstance(secret, str):
			raise ValueError("webhook secret must be a string")
		if url is not None:
			parts = urlsplit(url) if isinstance(url, str) else None
			if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
				raise ValueError("webhook URL must start with http:// or https:// and name a host")
		with self._lock:
			self._webhook = (url, secret, mode) if url is not None else None
			if url is None:
				self._wh_queue.clear()
		self._wh_wake.set()

	@property
	def webhook_log(self) -> list[dict[str, Any]]:
		"""One entry per delivery attempt: event, session_id, status (HTTP or None), error (None when 2xx)."""
		with self._lock:
			return [dict(entry) for entry in self._wh_log]

	@property
	def webhook_failures(self) -> int:
		with self._lock:
			return sum(1 for entry in self._wh_log if entry["error"] is not None)

	# -- request log --

	@property
	def requests(self) -> list[dict[str, Any]]:
		with self._lock:
			return [dict(entry) for entry in self._log]

	def count(self, endpoint: str | None = None, session_id: str | None = None) -> int:
		with self._lock:
			return sum(
				1
				for e in self._log
				if (endpoint is None or e["endpoint"] == endpoint)
				and (session_id is None or e["session_id"] == session_id)
			)

	def reset_log(self) -> None:
		with self._lock:
			self._log.clear()

	# -- session state (all under self._lock) --

	def options_for(self, session_id: str) -> SessionOptions:
		with self._lock:
			if session_id in self._lost:
				return SCENARIOS["qr_now"]
			if session_id in self._overrides:
				return self._overrides[session_id]
			head, sep, tail = session_id.rpartition("--")
			if sep and head and tail in SCENARIOS:
				return SCENARIOS[tail]
			return self.default_options

	def _live(self, session_id: str, now: float) -> _Session | None:
		"""The session as it stands at `now`, after applying time-driven changes (loss, linking)."""
		session = self._sessions.get(session_id)
		if session is None:
			return None
		opts = self.options_for(session_id)
		if opts.fault == "session_lost" and now - session.created_at >= opts.lost_after_s:
			del self._sessions[session_id]
			self._lost.add(session_id)
			return None
		if (
			not session.connected
			and opts.scan_after_s is not None
			and session.first_qr_at is not None
			and now - session.first_qr_at >= opts.scan_after_s
		):
			session.connected, session.phone = True, DEFAULT_PHONE
		return session

	def _scan(self, session_id: str, phone: str) -> bool:
		with self._lock:
			session = self._live(session_id, self.clock())
			if session is None:
				return False
			session.connected, session.phone = True, phone
			return True

	def _qr_due(self, session: _Session, opts: SessionOptions, now: float) -> bool:
		return now - session.created_at >= opts.qr_after_s

	def _generation(self, session: _Session, opts: SessionOptions, now: float) -> int:
		if opts.rotate_s <= 0:
			return 0
		return max(0, int((now - session.created_at - opts.qr_after_s) // opts.rotate_s))

	def _status_payload(self, session: _Session, opts: SessionOptions, now: float) -> dict[str, Any]:
		payload: dict[str, Any] = {"success": True, "sessionId": session.session_id}
		if session.connected:
			payload.update(status="connected", hasQR=False, phone=session.phone)
		elif self._qr_due(session, opts, now):
			payload.update(status="qr", hasQR=True)
		else:
			payload.update(status="connecting", hasQR=False)
		return payload

	# -- webhooks --

	def _queue_event(self, event: str, session_id: str, **fields: Any) -> None:
		"""Under self._lock: one queue for every event keeps each session's events in order."""
		if self._webhook is None:
			return
		payload = {
			"event": event,
			"sessionId": session_id,
			"id": f"sim-{uuid.uuid4().hex}",
			"timestamp": int(time.time()),  # wall time: receivers compare it with their own clock
			**fields,
		}
		self._wh_queue.append(payload)
		self._wh_wake.set()

	def _poll_webhook_events(self) -> None:
		with self._lock:
			if self._webhook is None:
				return
			now = self.clock()
			for session_id in list(self._sessions):
				session = self._live(session_id, now)
				if session is None:
					continue
				if session.connected:
					if not session.wh_connected:
						session.wh_connected = True
						self._queue_event("connection", session_id, status="connected", phone=session.phone)
					continue
				opts = self.options_for(session_id)
				if not self._qr_due(session, opts, now):
					continue
				generation = self._generation(session, opts, now)
				if session.wh_generation != generation:
					session.wh_generation = generation
					if session.first_qr_at is None:
						session.first_qr_at = now  # the QR reached the app: scan_after_s counts from here
					self._queue_event("qr", session_id, qr=qr_payload(session_id, generation))

	def _webhook_loop(self, stop: threading.Event) -> None:
		while not stop.is_set():
			self._wh_wake.wait(WEBHOOK_POLL_S)
			self._wh_wake.clear()
			if stop.is_set():
				return
			self._poll_webhook_events()
			while not stop.is_set():
				with self._lock:
					if not self._wh_queue or self._webhook is None:
						break
					event = self._wh_queue.popleft()
					url, secret, mode = self._webhook
				self._deliver(url, secret, mode, event)

	def _deliver(self, url: str, secret: str, mode: str, event: dict[str, Any]) -> None:
		"""POST one event; every outcome is logged, nothing is raised (a real gateway shrugs too)."""
		body = json.dumps(event).encode("utf-8")
		headers = {
			"Content-Type": _JSON,
			"User-Agent": "whatsapp-crm-simulator/1.0",
			**_webhook_auth(body, secret, mode),
		}
		request = urllib.request.Request(url, data=body, headers=headers, method="POST")
		status: int | None = None
		error: str | None = None
		try:
			with self._wh_opener.open(request, timeout=WEBHOOK_TIMEOUT_S) as resp:
				status = resp.status
				resp.read(MAX_BODY)
		except urllib.error.HTTPError as exc:
			status, error = exc.code, f"HTTP {exc.code}"
			exc.close()
		except urllib.error.URLError as exc:
			error = f"URLError: {exc.reason}"[:200]
		except Exception as exc:  # the sender thread must survive any receiver
			error = f"{type(exc).__name__}: {exc}"[:200]
		if error is not None and secret:
			error = error.replace(secret, "***")
		with self._lock:
			self._wh_log.append(
				{"event": event["event"], "session_id": event["sessionId"], "status": status, "error": error}
			)

	# -- HTTP handling --

	def _log_status(self, handler: _Handler, status: int) -> None:
		with self._lock:
			if handler._entry is not None:
				handler._entry["status"] = status

	def _authorized(self, handler: _Handler) -> bool:
		given = handler.headers.get("X-API-Key", "")
		return hmac.compare_digest(given.encode("utf-8"), self.api_key.encode("utf-8"))

	def _handle(self, handler: _Handler, method: str) -> None:
		path = urlsplit(handler.path).path
		endpoint, raw_id, action, allowed = _route(method, path)
		session_id = unquote(raw_id) if raw_id is not None else None
		entry: dict[str, Any] = {
			"method": method,
			"path": path,
			"endpoint": endpoint,
			"session_id": session_id,
			"status": None,
		}
		with self._lock:
			self._log.append(entry)
			handler._entry = entry

		body = handler.read_body()
		if body is None:
			return
		if endpoint == "health" and allowed:
			with self._lock:
				now = self.clock()
				sessions = sum(1 for sid in list(self._sessions) if self._live(sid, now) is not None)
			handler.send_json(
				200,
				{
					"success": True,
					"status": "ok",
					"name": "whatsapp-crm-simulator",
					"version": "1.0",
					"sessions": sessions,
				},
			)
			return
		# Everything under the protected prefixes needs the key, even a route that does not exist.
		if path.startswith(("/api/sessions", "/_sim")) and not self._authorized(handler):
			handler.send_json(401, _UNAUTHORIZED)
			return
		if endpoint == "other":
			handler.send_json(404, {"success": False, "error": "NOT_FOUND", "message": "Not found"})
			return
		if not allowed:
			handler.send_json(
				405, {"success": False, "error": "METHOD_NOT_ALLOWED", "message": "Method not allowed"}
			)
			return
		if endpoint == "create":
			data = _parse_json_object(body)
			if data is None:
				handler.send_json(
					400, {"success": False, "error": "INVALID_JSON", "message": "Body must be a JSON object"}
				)
				return
			session_id = data.get("sessionId")
			with self._lock:
				entry["session_id"] = session_id if isinstance(session_id, str) else None
		if endpoint == "control" and action == "restart":
			self.restart()
			handler.send_json(200, {"success": True})
			return
		if endpoint == "control" and action == "webhook":
			self._control_webhook(handler, body)
			return
		if not _valid_id(session_id):
			handler.send_json(400, {"success": False, "error": "INVALID_SESSION_ID"})
			return
		if endpoint == "control":
			self._control(handler, action, session_id, body)
			return
		self._session_call(handler, endpoint, session_id, body)

	def _control_webhook(self, handler: _Handler, body: bytes) -> None:
		data = _parse_json_object(body)
		if data is None:
			handler.send_json(
				400, {"success": False, "error": "INVALID_JSON", "message": "Body must be a JSON object"}
			)
			return
		url, secret, mode = data.get("url"), data.get("secret", ""), data.get("mode", "hmac")
		try:
			self.set_webhook(url, secret, mode)
		except (TypeError, ValueError) as exc:
			handler.send_json(400, {"success": False, "error": "INVALID_WEBHOOK", "message": str(exc)})
			return
		# Never the secret back: this answer may be printed by whoever set it.
		handler.send_json(200, {"success": True, "url": url, "mode": mode})

	def _control(self, handler: _Handler, action: str | None, session_id: str, body: bytes) -> None:
		data = _parse_json_object(body) if body else {}
		if data is None:
			handler.send_json(
				400, {"success": False, "error": "INVALID_JSON", "message": "Body must be a JSON object"}
			)
			return
		if action == "scan":
			phone = data.get("phone", DEFAULT_PHONE)
			if not isinstance(phone, str) or not phone:
				handler.send_json(400, {"success": False, "error": "INVALID_PHONE"})
				return
			if not self._scan(session_id, phone):
				handler.send_json(404, _NOT_FOUND)
				return
			handler.send_json(
				200, {"success": True, "sessionId": session_id, "status": "connected", "phone": phone}
			)
			return
		name = data.get("scenario")
		if not isinstance(name, str) or name not in SCENARIOS:
			handler.send_json(
				400, {"success": False, "error": "UNKNOWN_SCENARIO", "scenarios": list(SCENARIOS)}
			)
			return
		self.set_scenario(session_id, name)
		handler.send_json(200, {"success": True, "sessionId": session_id, "scenario": name})

	def _session_call(self, handler: _Handler, endpoint: str, session_id: str, body: bytes) -> None:
		opts = self.options_for(session_id)
		stopping = handler.server.stopping
		if opts.delay_s > 0 and stopping.wait(opts.delay_s):
			handler.hang_up()  # shutting down: no answer
			return
		fault = opts.fault
		if fault == "unauthorized":
			handler.send_json(401, _UNAUTHORIZED)
			return
		if fault == "hang" and endpoint in ("create", "status", "qr", "pairing"):
			# Accept and never answer: the client's read timeout is what is under test.
			stopping.wait(self.hang_max_s)
			handler.hang_up()
			return
		if endpoint in ("status", "qr", "pairing") and fault in (
			"html_502",
			"success_false",
			"not_json",
			"huge_body",
		):
			self._send_fault(handler, fault, endpoint, session_id, opts)
			return
		phone = ""
		if endpoint == "pairing":
			data = _parse_json_object(body)
			if data is None:
				handler.send_json(
					400, {"success": False, "error": "INVALID_JSON", "message": "Body must be a JSON object"}
				)
				return
			raw_phone = data.get("phoneNumber")
			if not isinstance(raw_phone, str) or not _PHONE_RE.fullmatch(raw_phone):
				handler.send_json(
					400,
					{
						"success": False,
						"error": "INVALID_PHONE",
						"message": "phoneNumber must be 8-15 digits, with an optional leading +",
					},
				)
				return
			phone = raw_phone.removeprefix("+")

		with self._lock:
			now = self.clock()
			session = self._live(session_id, now)
			if endpoint == "create":
				if session is not None:
					status, payload = (
						409,
						{"success": False, "error": "SESSION_EXISTS", "message": "Session already exists"},
					)
				else:
					self._sessions[session_id] = _Session(session_id, now)
					status, payload = 201, {"success": True, "sessionId": session_id, "status": "connecting"}
			elif session is None:
				status, payload = 404, _NOT_FOUND
			elif endpoint == "delete":
				del self._sessions[session_id]
				self._queue_event("logout", session_id)
				status, payload = 200, {"success": True}
			elif endpoint == "pairing":
				if session.connected:
					status, payload = (
						409,
						{
							"success": False,
							"error": "ALREADY_CONNECTED",
							"message": "Session already connected",
						},
					)
				else:
					session.pairing_requests += 1
					code = pairing_code(session_id, phone, session.pairing_requests)
					status, payload = 200, {"success": True, "code": code}
			elif endpoint == "status":
				opts = self.options_for(session_id)  # may have changed to qr_now through a loss
				status, payload = 200, self._status_payload(session, opts, now)
			else:
				status, payload = self._qr_answer(session, self.options_for(session_id), now)
		handler.send_json(status, payload)

	def _qr_answer(self, session: _Session, opts: SessionOptions, now: float) -> tuple[int, dict[str, Any]]:
		if session.connected:
			return 409, {
				"success": False,
				"error": "ALREADY_CONNECTED",
				"message": "Session already connected",
			}
		if not self._qr_due(session, opts, now):
			return 404, {"success": False, "error": "QR_NOT_READY", "message": "QR code not available yet"}
		if session.qr_errors_served < opts.qr_errors:
			session.qr_errors_served += 1
			return 500, {
				"success": False,
				"error": "QR_GENERATION_ERROR",
				"message": "Failed to generate QR code",
			}
		if session.first_qr_at is None:
			session.first_qr_at = now
		return 200, {
			"success": True,
			"qr": qr_payload(session.session_id, self._generation(session, opts, now)),
		}

	def _send_fault(
		self, handler: _Handler, fault: str, endpoint: str, session_id: str, opts: SessionOptions
	) -> None:
		if fault == "html_502":
			handler.send_bytes(502, _NGINX_502, "text/html")
		elif fault == "success_false":
			# The script tag is deliberate: the client must not trust server text.
			message = "Something went wrong <script>alert(1)</script>"
			handler.send_json(200, {"success": False, "error": "INTERNAL_ERROR", "message": message})
		elif fault == "not_json":
			handler.send_bytes(200, b'{"success": tru', _JSON)
		else:
			if endpoint == "qr":
				payload: dict[str, Any] = {"success": True, "qr": qr_payload(session_id, 0)}
			elif endpoint == "pairing":
				payload = {"success": True, "code": pairing_code(session_id, "", 0)}
			else:
				payload = {"success": True, "sessionId": session_id, "status": "qr", "hasQR": True}
			handler.send_huge(payload, int(opts.huge_mb * 1024 * 1024))


def main(argv: list[str] | None = None) -> int:
	parser = argparse.ArgumentParser(description="Fake Baileys WhatsApp gateway for development and tests.")
	parser.add_argument("--host", default="127.0.0.1")
	parser.add_argument("--port", type=int, default=3000)
	parser.add_argument("--api-key", default=None, help="default: $WHATSAPP_CRM_API_KEY or sim-secret-key")
	parser.add_argument("--scenario", default=DEFAULT_SCENARIO, choices=sorted(SCENARIOS))
	args = parser.parse_args(argv)
	api_key = args.api_key or os.environ.get("WHATSAPP_CRM_API_KEY") or "sim-secret-key"

	done = threading.Event()

	def on_signal(signum: int, frame: object) -> None:
		done.set()

	# Handlers to put back, so that calling main() in-process leaves no trace.
	previous: dict[signal.Signals, Any] = {}
	for sig in (signal.SIGINT, signal.SIGTERM):
		try:
			previous[sig] = signal.signal(sig, on_signal)
		except ValueError:  # not the main thread: Ctrl-C still raises KeyboardInterrupt there
			pass
	try:
		try:
			sim = GatewaySimulator(api_key, host=args.host, port=args.port, scenario=args.scenario).start()
		except OSError as exc:
			print(f"Cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
			return 1
		try:
			# Never the key itself: this line ends up in terminals, CI logs and screenshots.
			print(f"Gateway simulator on {sim.url} (scenario: {args.scenario}, key: ****)", flush=True)
			while not done.wait(0.5):
				pass
		except KeyboardInterrupt:
			pass
		finally:
			sim.stop()
		return 0
	finally:
		for sig, handler in previous.items():
			signal.signal(sig, handler)


if __name__ == "__main__":
	raise SystemExit(main())
