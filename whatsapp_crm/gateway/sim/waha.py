"""WAHA (WhatsApp HTTP API, NOWEB engine) as it answers, including WAHA Core 2024.10.8 (``core_2024=True``).

Auth header ``X-Api-Key`` (Core 2024 checks no key at all, and runs only the session named ``default``, which
always exists). ``POST /api/sessions`` ``{"name", "start", "config"}``; ``GET /api/sessions[/{name}]``
(``STOPPED|STARTING|SCAN_QR_CODE|WORKING|FAILED``); ``POST /api/sessions/{name}/start|stop|logout``;
``DELETE /api/sessions/{name}``; ``GET /api/{name}/auth/qr`` waits up to ``qr_route_wait_s`` (real seconds)
for the QR, then answers 422; ``?format=raw`` gives ``{"value"}``, ``Accept: application/json`` gives
``{"mimetype", "data"}``, otherwise a binary PNG (``png_only``: always the PNG, as older versions did);
``POST /api/{name}/auth/request-code``; ``GET /ping``, ``/health``, ``/api/server/version``.
Errors are NestJS's ``{"statusCode", "message", "error"}``; unknown routes and methods are 404s.

Webhooks: ``session.status`` on every status change (SCAN_QR_CODE carries no QR), with WAHA's own
HMAC-SHA512 of the body when a key is configured.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from http import HTTPStatus
from typing import Any

from .core import BaseSimulator
from .model import (
	PHONE_RE,
	SCRIPT_MESSAGE,
	Call,
	Route,
	Session,
	SessionOptions,
	control_route,
	pairing_code,
	parse_json_object,
	qr_payload,
	valid_id,
)
from .png import qr_png
from .server import Handler
from .webhooks import Hook, check_url

ENGINE = "NOWEB"
DEFAULT_SESSION = "default"
PLUS_ONLY = (
	"WAHA Core support only 'default' session. If you want to run more then one WhatsApp account - please get "
	"WAHA PLUS version. Check this out: https://waha.devlike.pro/docs/how-to/plus-version/"
)
QR_WAIT_STEP_S = 0.05  # how often a waiting QR request looks again (a test may move a fake clock meanwhile)
_UNAUTHORIZED = {"message": "Unauthorized", "statusCode": 401}
_LIFECYCLE = ("start", "stop", "logout")


def error(status: int, message: Any) -> dict[str, Any]:
	return {"statusCode": status, "message": message, "error": HTTPStatus(status).phrase}


def _not_found(name: str) -> dict[str, Any]:
	return error(404, f'Session "{name}" does not exist')


def _route(method: str, path: str) -> Route:
	parts = path.split("/")[1:]
	control = control_route(parts, method)
	if control is not None:
		return control
	if method == "GET" and parts in (["ping"], ["health"], ["api", "server", "version"]):
		return Route("health", action=parts[-1], public=parts == ["ping"])
	if parts in (["api", "sessions"], ["api", "sessions", ""]) and method in ("GET", "POST"):
		return Route("create", action="create") if method == "POST" else Route("list", action="list")
	if len(parts) == 3 and parts[:2] == ["api", "sessions"] and parts[2]:
		ops = {"GET": "status", "DELETE": "delete", "PUT": "update"}
		if method in ops:
			return Route(ops[method], parts[2], action=ops[method])
	if len(parts) == 4 and parts[:2] == ["api", "sessions"] and parts[2] and parts[3] in _LIFECYCLE:
		if method == "POST":
			return Route(parts[3], parts[2], action=parts[3])
	if len(parts) == 4 and parts[0] == "api" and parts[1]:
		if parts[2:] == ["auth", "qr"] and method == "GET":
			return Route("qr", parts[1], action="qr")
		if parts[2:] == ["auth", "request-code"] and method == "POST":
			return Route("pairing", parts[1], action="pairing")
	return Route("other")


class WahaSimulator(BaseSimulator):
	"""A scripted WAHA. restart() keeps sessions, STOPPED with their link, as after a real WAHA restart."""

	gateway_type = "waha"
	auth_header = "X-Api-Key"
	json_content_type = "application/json; charset=utf-8"
	hang_endpoints = ("create", "status", "qr", "pairing", "start")
	qr_limit_ends = True

	def __init__(
		self,
		api_key: str = "sim-secret-key",
		*,
		core_2024: bool = False,
		qr_route_wait_s: float = 5.0,
		**kwargs: Any,
	) -> None:
		self.core_2024 = core_2024
		self.qr_route_wait_s = qr_route_wait_s
		self.version = "2024.10.8" if core_2024 else "2026.6.1"
		super().__init__(api_key, **kwargs)
		self._ensure_default()

	def _ensure_default(self) -> None:
		# Core 2024's one session is always there, stopped until started.
		if self.core_2024:
			with self._lock:
				if DEFAULT_SESSION not in self._sessions:
					self._new_session(DEFAULT_SESSION, self.clock(), running=False).wh_status = "STOPPED"

	def restart(self) -> None:
		with self._lock:
			now = self.clock()
			for session_id in list(self._sessions):
				session = self._live(session_id, now)
				if session is not None:
					session.running = session.failed = False
					session.wh_status = "STOPPED"  # nobody heard it: the server was down
			self._lost.clear()
		self._ensure_default()

	# -- routing --

	def _route(self, method: str, path: str, query: dict[str, list[str]]) -> Route:
		return _route(method, path)

	def _serve(self, handler: Handler, call: Call) -> None:
		route, name = call.route, call.session_id
		if route.endpoint == "control":
			self._serve_control_route(handler, route, name, call.body)
		elif route.endpoint == "other":
			handler.send_json(
				404, {"message": f"Cannot {call.method} {call.path}", "error": "Not Found", "statusCode": 404}
			)
		elif not route.public and not self.core_2024 and not self._authorized(handler):
			handler.send_json(401, _UNAUTHORIZED)
		elif route.endpoint == "health":
			self._server_info(handler, route.action)
		elif route.action == "list":
			with self._lock:
				now = self.clock()
				rows = [self._info(s, now) for sid in list(self._sessions) if (s := self._live(sid, now))]
			handler.send_json(200, rows)
		elif route.action == "create":
			self._create(handler, call)
		elif not valid_id(name):
			handler.send_json(404, _not_found(name or ""))  # such a name cannot exist
		elif not self._common_faults(handler, route.endpoint, name, self.options_for(name)):
			if route.action == "qr":
				self._qr(handler, name, call)
			elif route.action == "pairing":
				self._pairing(handler, name, call.body)
			else:
				self._session_call(handler, route.endpoint, name, call.body)

	def _server_info(self, handler: Handler, which: str | None) -> None:
		if which == "ping":
			handler.send_json(200, {"message": "pong"})
		elif which == "version":
			handler.send_json(
				200, {"version": self.version, "engine": ENGINE, "tier": "CORE", "browser": None}
			)
		elif self.core_2024:
			handler.send_json(422, error(422, "Available only in Plus version"))
		else:
			handler.send_json(200, {"status": "ok"})

	# -- routes --

	def _create(self, handler: Handler, call: Call) -> None:
		data = parse_json_object(call.body)
		if data is None:
			handler.send_json(400, error(400, ["body must be a JSON object"]))
			return
		name = data.get("name", DEFAULT_SESSION)  # WAHA's default name
		self._set_logged_id(handler, name)
		if not valid_id(name):
			handler.send_json(400, error(400, ["name must match /^[A-Za-z0-9_-]{1,64}$/"]))
			return
		config = data.get("config")
		try:
			hooks = _hooks(config)
		except ValueError as exc:
			handler.send_json(400, error(400, [str(exc)]))
			return
		if self.core_2024 and name != DEFAULT_SESSION:
			handler.send_json(422, error(422, PLUS_ONLY))
			return
		if self._common_faults(handler, "create", name, self.options_for(name)):
			return
		start = data.get("start", True) is not False
		with self._lock:
			now = self.clock()
			if self._live(name, now) is not None:
				handler.send_json(422, error(422, f"Session '{name}' already exists. Use PUT to update it."))
				return
			session = self._new_session(name, now, running=start)
			session.extra["config"] = config if isinstance(config, dict) else {}
			session.hooks = hooks
			status = self._announce(session, now, "STARTING" if start else "STOPPED")
		handler.send_json(201, {"name": name, "status": status, "config": session.extra["config"]})

	def _session_call(self, handler: Handler, endpoint: str, name: str, body: bytes) -> None:
		with self._lock:
			now = self.clock()
			session = self._live(name, now)
			if session is None:
				handler.send_json(404, _not_found(name))
				return
			if endpoint == "status":
				status, payload = 200, self._info(session, now)
			elif endpoint == "start":
				if session.running:
					status, payload = 422, error(422, f"Session '{name}' is already started.")
				else:
					session.start(now)
					self._announce(session, now, "STARTING")
					status, payload = 201, {**self._info(session, now), "status": "STARTING", "me": None}
			elif endpoint in ("stop", "logout"):
				session.running = False
				if endpoint == "logout":
					session.connected, session.phone, session.wh_connected = False, None, False
				self._announce(session, now)
				status, payload = 201, self._info(session, now)
			elif endpoint == "update":
				data = parse_json_object(body)
				try:
					session.hooks = _hooks(data.get("config") if data else None)
				except ValueError as exc:
					handler.send_json(400, error(400, [str(exc)]))
					return
				session.extra["config"] = (data or {}).get("config") or {}
				status, payload = 200, self._info(session, now)
			else:
				session.running = False
				self._announce(session, now)
				del self._sessions[name]
				status, payload = 200, None
		if payload is None:
			handler.send_bytes(200, b"", None)  # NestJS answers a void handler with an empty 200
		else:
			handler.send_json(status, payload)

	def _qr(self, handler: Handler, name: str, call: Call) -> None:
		"""Wait (real time, up to qr_route_wait_s) while STARTING; then the QR in the asked format, or 422."""
		deadline = time.monotonic() + self.qr_route_wait_s
		while True:
			with self._lock:
				now = self.clock()
				session = self._live(name, now)
				if session is None:
					handler.send_json(404, _not_found(name))
					return
				opts = self.options_for(name)
				status = self._status(session, opts, now)
				if status == "SCAN_QR_CODE":
					if session.qr_errors_served < opts.qr_errors:
						session.qr_errors_served += 1
						handler.send_json(500, _qr_failed())
						return
					self._serve_qr(session, now)
					payload = qr_payload(name, self._generation(session, opts, now))
					break
			left = deadline - time.monotonic()
			if status != "STARTING" or left <= 0:
				message = f"Can get QR code only in SCAN_QR_CODE status. The current status is '{status}'"
				handler.send_json(422, error(422, message))
				return
			if handler.server.stopping.wait(min(left, QR_WAIT_STEP_S)):
				handler.hang_up()
				return
		if call.arg("format") == "raw" and not opts.png_only:
			handler.send_json(200, {"value": payload})
		elif "application/json" in handler.headers.get("Accept", "") and not opts.png_only:
			data = base64.b64encode(qr_png(payload)).decode("ascii")
			handler.send_json(200, {"mimetype": "image/png", "data": data})
		else:
			handler.send_bytes(200, qr_png(payload), "image/png")

	def _pairing(self, handler: Handler, name: str, body: bytes) -> None:
		data = parse_json_object(body)
		phone = data.get("phoneNumber") if data is not None else None
		if not isinstance(phone, str) or not PHONE_RE.fullmatch(phone):
			handler.send_json(422, error(422, "phoneNumber must be 8-15 digits"))
			return
		with self._lock:
			now = self.clock()
			session = self._live(name, now)
			if session is None:
				status, payload = 404, _not_found(name)
			elif (current := self._status(session, self.options_for(name), now)) != "SCAN_QR_CODE":
				message = f"Can request code only in SCAN_QR_CODE status. The current status is '{current}'"
				status, payload = 422, error(422, message)
			else:
				session.pairing_requests += 1
				code = pairing_code(name, phone.removeprefix("+"), session.pairing_requests)
				status, payload = 200, {"code": f"{code[:4]}-{code[4:]}"}
		handler.send_json(status, payload)

	# -- state --

	def _status(self, session: Session, opts: SessionOptions, now: float) -> str:
		if not session.running:
			return "STOPPED"
		if session.connected:
			return "WORKING"
		if session.failed:
			return "FAILED"
		return "SCAN_QR_CODE" if self._qr_due(session, opts, now) else "STARTING"

	def _info(self, session: Session, now: float) -> dict[str, Any]:
		status = self._status(session, self.options_for(session.session_id), now)
		return {
			"name": session.session_id,
			"status": status,
			"config": session.extra.get("config") or {},
			"me": self._me(session) if status == "WORKING" else None,
			"engine": {"engine": ENGINE},
		}

	def _me(self, session: Session) -> dict[str, str]:
		return {"id": f"{session.phone}@c.us", "pushName": "Sim"}

	# -- wire format for the shared answers --

	def _unauthorized_payload(self) -> dict[str, Any]:
		return _UNAUTHORIZED

	def _body_error(self, status: int, word: str) -> dict[str, Any]:
		return error(status, word)

	def _success_false(self) -> tuple[int, dict[str, Any]]:
		return 500, {"statusCode": 500, "message": SCRIPT_MESSAGE}

	def _not_json_body(self) -> bytes:
		return b'{"name": "default", "status": "SCAN'

	def _huge_payload(self, endpoint: str, session_id: str) -> dict[str, Any]:
		if endpoint == "qr":
			return {"value": qr_payload(session_id, 0)}
		if endpoint == "pairing":
			return {"code": "ABCD-EFGH"}
		return {"name": session_id, "status": "SCAN_QR_CODE", "config": {}, "me": None}

	# -- webhooks --

	def _announce(self, session: Session, now: float, status: str | None = None) -> str:
		"""Under self._lock: queue session.status if the status changed since the last event; the status.

		create and start pass STARTING: WAHA says it first even when the QR follows at once.
		"""
		status = status or self._status(session, self.options_for(session.session_id), now)
		if status != session.wh_status:
			session.wh_status = status
			self._queue(session, "session.status", self._event_body(session, status))
		return status

	def _event_body(self, session: Session, status: str) -> dict[str, Any]:
		return {
			"id": f"evt_{uuid.uuid4().hex}",
			"timestamp": int(time.time() * 1000),
			"event": "session.status",
			"session": session.session_id,
			"me": self._me(session) if status == "WORKING" else None,
			"payload": {"status": status},
			"engine": ENGINE,
			"environment": {"version": self.version, "engine": ENGINE, "tier": "CORE", "browser": None},
		}

	def _webhook_poll_session(self, session: Session, opts: SessionOptions, now: float) -> None:
		self._announce(session, now)

	def _webhook_request(self, hook: Hook, entry: dict[str, Any]) -> tuple[str, bytes, dict[str, str]] | None:
		if hook.events and not {"*", entry["event"]} & set(hook.events):
			return None
		body = json.dumps(entry["data"]).encode("utf-8")
		headers = {
			"Content-Type": "application/json",
			"X-Webhook-Request-Id": f"req_{uuid.uuid4().hex}",
			"X-Webhook-Timestamp": str(int(time.time() * 1000)),
		}
		if self.core_2024:
			# WAHA Core 2024's sender sets only these: its hmac key and customHeaders are accepted, then ignored.
			return hook.url, body, headers
		headers.update(dict(hook.headers))
		if hook.secret and hook.mode == "secret":
			headers["X-Webhook-Secret"] = hook.secret
		elif hook.secret:
			digest = hmac.new(hook.secret.encode("utf-8"), body, hashlib.sha512).hexdigest()
			headers.update({"X-Webhook-Hmac": digest, "X-Webhook-Hmac-Algorithm": "sha512"})
		return hook.url, body, headers


def _qr_failed() -> dict[str, Any]:
	return {
		"statusCode": 500,
		"message": "Internal server error",
		"exception": {
			"message": "QR generation failed",
			"stack": (
				"Error: QR generation failed\n"
				"    at WhatsappSessionNoWebCore.getQR (/app/dist/core/engines/noweb/session.noweb.core.js:1:1)"
			),
		},
	}


def _hooks(config: object) -> list[Hook]:
	"""config.webhooks -> the session's targets; ValueError says what is wrong."""
	if config is None:
		return []
	if not isinstance(config, dict):
		raise ValueError("config must be an object")
	webhooks = config.get("webhooks") or []
	if not isinstance(webhooks, list):
		raise ValueError("config.webhooks must be an array")
	hooks = []
	for item in webhooks:
		if not isinstance(item, dict):
			raise ValueError("config.webhooks must hold objects")
		try:
			url = check_url(item.get("url"))
		except ValueError:
			raise ValueError("config.webhooks.url must be a URL address") from None
		key = (item.get("hmac") or {}).get("key") if isinstance(item.get("hmac"), dict) else None
		custom = item.get("customHeaders") or []
		headers = tuple(
			(str(h["name"]), str(h["value"]))
			for h in custom
			if isinstance(h, dict) and "name" in h and "value" in h
		)
		events = tuple(str(e) for e in item.get("events") or [] if isinstance(e, str))
		hooks.append(Hook(url, key if isinstance(key, str) else "", "hmac", headers, events))
	return hooks


__all__ = ["WahaSimulator"]
