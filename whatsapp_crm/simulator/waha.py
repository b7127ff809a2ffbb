"""WAHA (WhatsApp HTTP API, NOWEB engine) as it answers, by ``version``: 2024.10.8 (``core_2024=True``),
2025.10.3 or 2026.6.1 (the default).

Versions: 2024.10.8 checks no key, runs only ``default`` and has no history filters; its webhook envelopes
carry no ``id`` or ``timestamp``. 2025.10.3 wants the key on every route but ``/ping`` (401
``{"message": "Unauthorized", "statusCode": 401}``), still runs only ``default``, sends envelopes with
``id`` ``evt_<ulid>`` and a group's receipts as ``message.ack.group``. 2026.6.1 runs any number of sessions.
``engine="GOWS"`` answers as NOWEB does, plus ``ask_passkey()``: the session reports ``PASSKEY_REQUIRED`` (or
``PASSKEY_CONFIRMATION_REQUIRED``) until the phone approves the link (``scan()``).

Auth header ``X-Api-Key`` (Core 2024 checks no key at all, and runs only the session named ``default``, which
always exists). ``POST /api/sessions`` ``{"name", "start", "config"}``; ``GET /api/sessions[/{name}]``
(``STOPPED|STARTING|SCAN_QR_CODE|WORKING|FAILED``); ``POST /api/sessions/{name}/start|stop|logout``;
``DELETE /api/sessions/{name}``; ``GET /api/{name}/auth/qr`` waits up to ``qr_route_wait_s`` (real seconds)
for the QR, then answers 422; ``?format=raw`` gives ``{"value"}``, ``Accept: application/json`` gives
``{"mimetype", "data"}``, otherwise a binary PNG (``png_only``: always the PNG, as older versions did);
``POST /api/{name}/auth/request-code``; ``GET /ping``, ``/health``, ``/api/server/version``.
Errors are NestJS's ``{"statusCode", "message", "error"}``; unknown routes and methods are 404s.

Messaging as NOWEB: ``POST /api/sendText`` ``{"session", "chatId", "text", "reply_to"}`` answers 201 with
Baileys' WebMessageInfo as JSON (longs as strings, status ``PENDING``); ``/api/sendFile`` and ``/api/sendImage``
likewise, except on Core 2024, where they are Plus-only (422). A session that is not WORKING makes a send
wait ``qr_route_wait_s`` (real: 5 s) for it, then 422; a stopped or unknown one is a 404. NOWEB checks no
number: a send to ``NOT_ON_WHATSAPP`` (or any number ending in ``000``) is accepted and then acked ERROR.
``PUT /api/reaction`` ``{"session", "messageId": "false_<digits>@c.us_<id>", "reaction"}`` (``""`` takes it
back) answers 200 with the reaction's WebMessageInfo (``message.reactionMessage``); a malformed messageId is
NOWEB's 500, an unknown one a 422 (a real NOWEB does not look). ``GET /api/files/{session}/{file}`` serves
media.

Pacing, as 2024.10.8's NOWEB answers (checked against a real one): ``POST /api/sendSeen`` ``{"session",
"chatId", "messageId": "false_<digits>@c.us_<id>"}`` marks that one message read and answers an empty 201
(NOWEB reads only ``messageId``: without it, or malformed, a 500); ``POST /api/startTyping`` and
``/api/stopTyping`` ``{"session", "chatId"}`` answer 201 ``{"result": true}``; ``GET
/api/contacts/check-exists?phone=&session=`` answers 200 ``{"numberExists": false}`` for ``NOT_ON_WHATSAPP``
and any number ending in ``000`` (a send to one is accepted, then acked ERROR), else ``{"numberExists": true,
"chatId": "<digits>@c.us"}``. A session that is not WORKING answers as a send does (404, or 422 after the
wait); a name other than ``default`` on Core before 2026.6 gets its 422.

Webhooks: ``session.status`` on every status change (SCAN_QR_CODE carries no QR), ``message`` (arrived),
``message.any`` (arrived, phone-typed and API-sent: Baileys emits its own messages), ``message.ack`` (only
for own messages), ``message.reaction`` (arrived, phone-typed and API-sent reactions, which fire no
``message``/``message.any``), with WAHA's own HMAC-SHA512 of the body when a key is configured.

History: ``GET /api/{name}/chats/{chatId}/messages`` (``chatId`` ``all`` for every chat) reads the NOWEB
store: ``filter.timestamp.gte``/``lte`` (unix s), ``filter.fromMe``, ``limit`` (default 100), ``offset``,
``sortOrder`` (default ``desc``: newest first) and ``downloadMedia`` (default true; false leaves ``media``
null, as NOWEB downloads nothing then). A JSON list of the ``message`` webhook's payloads, reactions left out,
our own messages carrying their latest receipt as ``ack``/``ackName``. The store is on only with the session's
``config.noweb.store.enabled`` true: otherwise 400 ``Enable NOWEB store ...``. A session that is not WORKING
answers as a send does (404, or 422 after the wait). Core 2024 has no ``all`` and no filters: ``all`` is a chat
id like any other there, so it answers ``[]`` (its ``/api/server/version`` says 2024.10.8).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import mimetypes
import secrets
import time
import uuid
from typing import Any
from urllib.parse import unquote

from .core import BaseSimulator
from .model import (
	DEFAULT_PHONE,
	DIGITS_RE,
	PACING_ENDPOINTS,
	PHONE_RE,
	SCRIPT_MESSAGE,
	Call,
	Media,
	Message,
	Reaction,
	Route,
	Session,
	SessionOptions,
	control_route,
	new_message_id,
	on_whatsapp,
	pairing_code,
	parse_json_object,
	parse_media,
	qr_payload,
	valid_id,
)
from .png import qr_png
from .server import Handler, phrase
from .webhooks import Hook, check_url

ENGINE = "NOWEB"
ENGINES = ("NOWEB", "GOWS")
VERSIONS = ("2024.10.8", "2025.10.3", "2026.6.1")
PASSKEY_STATUSES = ("PASSKEY_REQUIRED", "PASSKEY_CONFIRMATION_REQUIRED")
GROUP_MEMBER = "34600123123"  # who reads the app's group messages
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
DEFAULT_SESSION = "default"
PLUS_ONLY = (
	"WAHA Core support only 'default' session. If you want to run more then one WhatsApp account - please get "
	"WAHA PLUS version. Check this out: https://waha.devlike.pro/docs/how-to/plus-version/"
)
QR_WAIT_STEP_S = 0.05  # how often a waiting QR request looks again (a test may move a fake clock meanwhile)
_UNAUTHORIZED = {"message": "Unauthorized", "statusCode": 401}
_LIFECYCLE = ("start", "stop", "logout")
_SENDS = ("sendText", "sendFile", "sendImage")
_PACING = {"sendSeen": "read", "startTyping": "presence", "stopTyping": "presence"}
PLUS_FEATURE = "The feature is available only in Plus version. Check this out: https://waha.devlike.pro/"
# WAMessageAck by the simulator's ack names
_ACKS = {"sent": (1, "SERVER"), "delivered": (2, "DEVICE"), "read": (3, "READ"), "played": (4, "PLAYED")}
_ACKS["failed"] = (-1, "ERROR")
STORE_OFF = (
	'Enable NOWEB store "config.noweb.store.enabled=True" and "config.noweb.store.full_sync=True" when starting a '
	"new session. Read more: https://waha.devlike.pro/docs/engines/noweb#store"
)
HISTORY_LIMIT = 100  # GetChatMessagesQuery's limit when none is given
ALL_CHATS = "all"
# the Baileys status NOWEB's store keeps for each receipt (WebMessageInfo.Status by name)
_STATUSES = {
	"sent": "SERVER_ACK",
	"delivered": "DELIVERY_ACK",
	"read": "READ",
	"played": "PLAYED",
	"failed": "ERROR",
}
MESSAGE_ID_FORMAT = "Message id be in format false_11111111111@c.us_AAAAAAAAAAAAAAAAAAAA"  # sic
_EXTENSIONS = {"image/jpeg": "jpeg", "audio/ogg": "oga", "audio/mpeg": "mpga", "text/plain": "txt"}  # mime's


def error(status: int, message: Any) -> dict[str, Any]:
	return {"statusCode": status, "message": message, "error": phrase(status)}


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
	if len(parts) == 2 and parts[0] == "api" and parts[1] in _SENDS and method == "POST":
		return Route("send", action=parts[1])
	if parts == ["api", "reaction"] and method == "PUT":
		return Route("send", action="reaction")
	if len(parts) == 2 and parts[0] == "api" and parts[1] in _PACING and method == "POST":
		return Route(_PACING[parts[1]], action=parts[1])
	if parts == ["api", "contacts", "check-exists"] and method == "GET":
		return Route("numbers", action="check-exists")
	if (
		len(parts) == 5
		and parts[0] == "api"
		and parts[1]
		and parts[2] == "chats"
		and parts[3]
		and parts[4] == "messages"
		and method == "GET"
	):
		return Route("history", parts[1], action=unquote(parts[3]))
	if len(parts) == 4 and parts[:2] == ["api", "files"] and parts[2] and parts[3] and method == "GET":
		return Route("media", parts[2], action=unquote(parts[3]))
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
	hang_endpoints = (
		"create",
		"status",
		"qr",
		"pairing",
		"start",
		"send",
		"media",
		"history",
		*PACING_ENDPOINTS,
	)
	qr_limit_ends = True

	def __init__(
		self,
		api_key: str = "sim-secret-key",
		*,
		core_2024: bool = False,
		qr_route_wait_s: float = 5.0,
		version: str | None = None,
		engine: str = ENGINE,
		**kwargs: Any,
	) -> None:
		version = version or ("2024.10.8" if core_2024 else "2026.6.1")
		if version not in VERSIONS or (core_2024 and version != "2024.10.8"):
			raise ValueError(f"unknown WAHA version {version!r}; expected one of {', '.join(VERSIONS)}")
		if engine not in ENGINES:
			raise ValueError(f"unknown WAHA engine {engine!r}; expected one of {', '.join(ENGINES)}")
		self.version, self.engine = version, engine
		self.core_2024 = version == "2024.10.8"
		self.one_session = version != "2026.6.1"  # Core before 2026.6 runs only "default"
		self.qr_route_wait_s = qr_route_wait_s
		super().__init__(api_key, **kwargs)
		self._ensure_default()

	def ask_passkey(self, session_id: str, confirmation: bool = False) -> None:
		"""GOWS: WhatsApp wants the phone to approve the link; scan() approves it."""
		if self.engine != "GOWS":
			raise ValueError("only the GOWS engine asks for a passkey")
		with self._lock:
			session = self._live(session_id, self.clock())
			if session is None or not session.running or session.connected:
				raise ValueError(f"session {session_id!r} is not linking")
			session.extra["passkey"] = PASSKEY_STATUSES[bool(confirmation)]

	def _scan(self, session_id: str, phone: str) -> bool:
		with self._lock:
			linked = super()._scan(session_id, phone)
			if linked:
				self._sessions[session_id].extra.pop("passkey", None)
			return linked

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
		elif route.endpoint == "send":
			self._send(handler, call)
		elif route.endpoint in PACING_ENDPOINTS:
			self._pacing_call(handler, call)
		elif not valid_id(name):
			handler.send_json(404, _not_found(name or ""))  # such a name cannot exist
		elif not self._common_faults(handler, route.endpoint, name, self.options_for(name)):
			if route.endpoint == "media":
				self._file(handler, name, route.action or "")
			elif route.endpoint == "history":
				self._chat_messages(handler, name, route.action or "", call)
			elif route.action == "qr":
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
				200, {"version": self.version, "engine": self.engine, "tier": "CORE", "browser": None}
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
		if self.one_session and name != DEFAULT_SESSION:
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

	def _send(self, handler: Handler, call: Call) -> None:
		data = parse_json_object(call.body)
		if data is None:
			handler.send_json(400, error(400, ["body must be a JSON object"]))
			return
		name = data.get("session", DEFAULT_SESSION)
		self._set_logged_id(handler, name)
		if not valid_id(name):
			handler.send_json(404, _not_started(str(name)))
			return
		if self.one_session and name != DEFAULT_SESSION:
			handler.send_json(422, error(422, PLUS_ONLY))
			return
		if self._common_faults(handler, "send", name, self.options_for(name)):
			return
		if not self._wait_working(handler, name):
			return
		action = call.route.action
		if action == "reaction":
			self._send_reaction(handler, name, data)
			return
		if action != "sendText" and self.core_2024:
			handler.send_json(422, error(422, PLUS_FEATURE))  # NOWEB Core: AvailableInPlusVersion
			return
		chat = _chat_digits(data.get("chatId"))
		group = chat is None and (chat := _group_digits(data.get("chatId"))) is not None
		text, caption, reply_to = data.get("text"), data.get("caption"), data.get("reply_to")
		problems = [] if chat is not None else ["chatId must be like 11111111111@c.us"]
		if action == "sendText" and not isinstance(text, str):
			problems.append("text must be a string")
		if caption is not None and not isinstance(caption, str):
			problems.append("caption must be a string")
		if reply_to is not None and not isinstance(reply_to, str):
			problems.append("reply_to must be a string")
		media: Media | None = None
		if action != "sendText":
			try:
				media = parse_media(data.get("file"))
			except ValueError as exc:
				problems.append(f"file: {exc}")
		if problems:
			handler.send_json(400, error(400, problems))
			return
		assert chat is not None
		with self._lock:
			now = self.clock()
			session = self._live(name, now)
			if session is None or self._status(session, self.options_for(name), now) != "WORKING":
				handler.send_json(404, _not_started(name))  # stopped between the wait and now
				return
			msg = self._record_send(
				session,
				chat,
				text=text if media is None else None,
				caption=caption if media is not None else None,
				media=media,
				reply_to=reply_to,
				message_id=new_message_id(36),  # Baileys 6.7's generateMessageID: 40 characters
				# NOWEB checks no number: the send succeeds, the server's ack says it failed
				acks=("sent", "delivered", "read") if on_whatsapp(chat) else ("failed",),
				extra={"kind": "imageMessage" if action == "sendImage" else None, "group": group},
			)
			answer = msg.extra["answer"]
		handler.send_json(201, answer)

	def _pacing_call(self, handler: Handler, call: Call) -> None:
		"""sendSeen, startTyping, stopTyping and contacts/check-exists (see the module's docstring)."""
		action = call.route.action
		if action == "check-exists":
			data: dict[str, Any] | None = {}
			name: Any = call.arg("session") or DEFAULT_SESSION
		else:
			data = parse_json_object(call.body)
			if data is None:
				handler.send_json(400, error(400, ["body must be a JSON object"]))
				return
			name = data.get("session", DEFAULT_SESSION)
		self._set_logged_id(handler, name)
		if not valid_id(name):
			handler.send_json(404, _not_started(str(name)))
			return
		if self.one_session and name != DEFAULT_SESSION:
			handler.send_json(422, error(422, PLUS_ONLY))
			return
		if self._common_faults(handler, call.route.endpoint, name, self.options_for(name)):
			return
		if not self._wait_working(handler, name):
			return
		with self._lock:
			now = self.clock()
			session = self._live(name, now)
			if session is None or self._status(session, self.options_for(name), now) != "WORKING":
				handler.send_json(404, _not_started(name))  # stopped between the wait and now
				return
			if action == "check-exists":
				phone = call.arg("phone")
				if phone is None:  # request.phone.split: a TypeError
					where = "checkNumberStatus"
					message = "Cannot read properties of undefined (reading 'split')"
					handler.send_json(500, _internal_error(message, where))
					return
				digits = phone.split("@")[0]
				if DIGITS_RE.fullmatch(digits) and on_whatsapp(digits):
					handler.send_json(200, {"numberExists": True, "chatId": f"{digits}@c.us"})
				else:
					handler.send_json(200, {"numberExists": False})
				return
			assert data is not None
			if action == "sendSeen":
				message_id = data.get("messageId")
				if not isinstance(message_id, str):  # parseMessageIdSerialized(undefined): a TypeError
					message = "Cannot read properties of undefined (reading 'includes')"
					handler.send_json(500, _internal_error(message, "parseMessageIdSerialized"))
					return
				parts = message_id.split("_")
				if len(parts) != 3:
					handler.send_json(500, _internal_error(MESSAGE_ID_FORMAT, "parseMessageIdSerialized"))
					return
				self._log_read(name, parts[1].split("@")[0], [parts[2]])
				answer = None  # sock.readMessages resolves to nothing: NestJS sends an empty 201
			else:
				chat_id = data.get("chatId")
				if not isinstance(chat_id, str):  # ensureSuffix(undefined): a TypeError
					message = "Cannot read properties of undefined (reading 'includes')"
					handler.send_json(500, _internal_error(message, "ensureSuffix"))
					return
				presence = "composing" if action == "startTyping" else "paused"
				self._log_presence(name, chat_id.split("@")[0], presence)
				answer = {"result": True}
		if answer is None:
			handler.send_bytes(201, b"", None)
		else:
			handler.send_json(201, answer)

	def _send_reaction(self, handler: Handler, name: str, data: dict[str, Any]) -> None:
		"""setReaction: parseMessageIdSerialized, then sock.sendMessage(remoteJid, {react}) as the answer."""
		message_id, emoji = data.get("messageId"), data.get("reaction")
		if not isinstance(message_id, str) or not isinstance(emoji, str):
			handler.send_json(400, error(400, ["messageId and reaction must be strings"]))
			return
		parts = message_id.split("_")
		if len(parts) != 3:
			handler.send_json(500, _internal_error(MESSAGE_ID_FORMAT, "parseMessageIdSerialized"))
			return
		chat = _chat_digits(parts[1])
		if chat is None:
			handler.send_json(
				400, error(400, ["messageId must be like false_11111111111@c.us_AAAAAAAAAAAAAAAAAAAA"])
			)
			return
		with self._lock:
			now = self.clock()
			session = self._live(name, now)
			if session is None or self._status(session, self.options_for(name), now) != "WORKING":
				handler.send_json(404, _not_started(name))
				return
			target = self._messages.get((name, parts[2]))
			if target is None:
				# the wording NOWEB uses when a message it looks for is missing (forwardMessage)
				handler.send_json(422, error(422, f"Message with id '{message_id}' not found"))
				return
			key = {"remoteJid": f"{chat}@s.whatsapp.net", "fromMe": parts[0] == "true", "id": parts[2]}
			msg = self._record_send(
				session,
				chat,
				message_id=new_message_id(36),
				extra={"react_key": key},
				reaction=Reaction(target.id, emoji, message_id),
			)
			answer = msg.extra["answer"]
		handler.send_json(200, answer)  # a PUT: NestJS answers 200

	def _chat_messages(self, handler: Handler, name: str, chat_id: str, call: Call) -> None:
		"""getChatMessages from the NOWEB store (see the module's docstring)."""
		query, problems = _history_query(call, self.core_2024)
		if problems:
			handler.send_json(400, error(400, problems))  # the validation pipe runs before the handler
			return
		if not self._wait_working(handler, name):
			return
		with self._lock:
			now = self.clock()
			session = self._live(name, now)
			if session is None or self._status(session, self.options_for(name), now) != "WORKING":
				handler.send_json(404, _not_started(name))  # stopped between the wait and now
				return
			if not _store_enabled(session.extra.get("config")):
				handler.send_json(400, error(400, STORE_OFF))
				return
			every = chat_id == ALL_CHATS and not self.core_2024  # Core 2024 looks for a chat named "all"
			chat = None if every else _chat_digits(chat_id)
			rows = [
				m
				for m in self._stored_messages(name)
				if m.reaction is None  # processIncomingMessage leaves reactions out
				and (every or (chat is not None and m.chat == chat))
				and (query["gte"] is None or m.ts >= query["gte"])
				and (query["lte"] is None or m.ts <= query["lte"])
				and (query["from_me"] is None or m.from_me == query["from_me"])
			]
			if query["desc"]:
				rows.reverse()
			page = rows[query["offset"] :][: query["limit"]]
			answer = [self._stored_payload(session, m, query["media"]) for m in page]
		handler.send_json(200, answer)

	def _stored_payload(self, session: Session, msg: Message, with_media: bool) -> dict[str, Any]:
		"""Under self._lock: toWAMessage of the stored message, its latest receipt applied."""
		payload = self._wa_message(session, msg)
		data = dict(payload["_data"])
		if msg.from_me and msg.acks:
			payload["ack"], payload["ackName"] = _ACKS[msg.acks[-1]]
			data["status"] = _STATUSES[msg.acks[-1]]
		if not with_media and payload["hasMedia"]:
			payload["media"] = None  # nothing downloaded: no file, no URL (hasMedia still says there is one)
			payload.pop("mediaUrl", None)
			data.pop("media", None)
		payload["_data"] = data
		return payload

	def _wait_working(self, handler: Handler, name: str) -> bool:
		"""getWorkingSession: a running session gets qr_route_wait_s to be WORKING; False once answered."""
		deadline = time.monotonic() + self.qr_route_wait_s
		while True:
			with self._lock:
				now = self.clock()
				session = self._live(name, now)
				if session is None or not session.running:
					handler.send_json(404, _not_started(name))
					return False
				status = self._status(session, self.options_for(name), now)
			if status == "WORKING":
				return True
			left = deadline - time.monotonic()
			if left <= 0:
				message = {
					"error": "Session status is not as expected. Try again later or restart the session",
					"session": name,
					"status": status,
					"expected": ["WORKING"],
				}
				handler.send_json(422, message)
				return False
			if handler.server.stopping.wait(min(left, QR_WAIT_STEP_S)):
				handler.hang_up()
				return False

	def _file(self, handler: Handler, name: str, file: str) -> None:
		msg = self._message(name, file.rsplit(".", 1)[0])
		if msg is None or msg.media is None:
			handler.send_json(
				404,
				{"message": f"Cannot GET /api/files/{name}/{file}", "error": "Not Found", "statusCode": 404},
			)
			return
		handler.send_bytes(200, msg.media.data, msg.media.mimetype)

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
		if session.extra.get("passkey"):
			return session.extra["passkey"]
		return "SCAN_QR_CODE" if self._qr_due(session, opts, now) else "STARTING"

	def _info(self, session: Session, now: float) -> dict[str, Any]:
		status = self._status(session, self.options_for(session.session_id), now)
		return {
			"name": session.session_id,
			"status": status,
			"config": session.extra.get("config") or {},
			"me": self._me(session) if status == "WORKING" else None,
			"engine": {"engine": self.engine},
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
		if endpoint == "send":
			key = {"remoteJid": f"{DEFAULT_PHONE}@s.whatsapp.net", "fromMe": True, "id": "3EB0" + "0" * 36}
			return {"key": key, "status": "PENDING"}
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
		return self._envelope(session, "session.status", {"status": status}, status == "WORKING")

	def _envelope(self, session: Session, event: str, payload: dict[str, Any], me: bool) -> dict[str, Any]:
		# Core 2024's callWebhook sets neither an id nor a timestamp
		stamp = {} if self.core_2024 else {"id": f"evt_{_ulid()}", "timestamp": int(time.time() * 1000)}
		return {
			**stamp,
			"event": event,
			"session": session.session_id,
			"me": self._me(session) if me else None,
			"payload": payload,
			"engine": self.engine,
			"environment": {"version": self.version, "engine": self.engine, "tier": "CORE", "browser": None},
		}

	# -- messaging events (under self._lock) --

	def _public_id(self, msg: Message) -> str:
		return f"{'true' if msg.from_me else 'false'}_{_cus(msg)}_{msg.id}"  # NOWEB's buildMessageId

	def _key_id(self, message_id: str) -> str:
		parts = message_id.split("_")
		return parts[2] if len(parts) == 3 else message_id  # false_<chat>@c.us_<key id>, or the key id

	def _emit_message(self, session: Session, msg: Message) -> None:
		if msg.reaction is not None:
			self._emit_reaction(session, msg)
			return
		payload = self._wa_message(session, msg)
		if not msg.from_me:
			self._queue(session, "message", self._envelope(session, "message", payload, True))
		self._queue(session, "message.any", self._envelope(session, "message.any", payload, True))

	def _after_send(self, session: Session, msg: Message) -> None:
		if msg.reaction is not None:
			# WebMessageInfo.toJSON of the reaction sendMessage built: longs as strings
			react = {
				"key": msg.extra["react_key"],
				"text": msg.reaction.emoji,
				"senderTimestampMs": str(msg.ts * 1000),
			}
			msg.extra["answer"] = {
				"key": {"remoteJid": _jid(msg), "fromMe": True, "id": msg.id},
				"message": {"reactionMessage": react},
				"messageTimestamp": str(msg.ts),
				"status": "PENDING",
			}
			self._emit_reaction(session, msg)  # emitOwnEvents: the upsert comes back as message.reaction
			return
		# emitOwnEvents: the sent message comes back through messages.upsert, so message.any sees it
		payload = self._wa_message(session, msg)
		msg.extra["answer"] = {k: v for k, v in payload["_data"].items() if k != "media"}
		self._queue(session, "message.any", self._envelope(session, "message.any", payload, True))

	def _emit_ack(self, session: Session, msg: Message, status: str) -> None:
		if not msg.from_me:
			return  # NOWEB reports acks of its own messages only
		ack, name = _ACKS[status]
		# getFromToParticipant: a 1:1 chat's key has no participant, so "to" and "participant" stay undefined
		payload = {"id": self._public_id(msg), "from": _cus(msg), "fromMe": True, "ack": ack, "ackName": name}
		event = "message.ack"
		if msg.extra.get("group"):
			payload["participant"] = f"{GROUP_MEMBER}@c.us"  # whose phone it reached
			event = "message.ack" if self.core_2024 else "message.ack.group"
		self._queue(session, event, self._envelope(session, event, payload, True))

	def _emit_reaction(self, session: Session, msg: Message) -> None:
		"""processMessageReaction: a 1:1 key has no participant, so "to" and "participant" stay undefined."""
		assert msg.reaction is not None
		if msg.outgoing:
			key = msg.extra["react_key"]  # buildMessageId of the key the app gave
			target = (
				f"{'true' if key['fromMe'] else 'false'}_{key['remoteJid'].split('@')[0]}@c.us_{key['id']}"
			)
		else:
			target = msg.reaction.named  # normaliseKey: the target's key from our side
		payload = {
			"id": self._public_id(msg),
			"timestamp": msg.ts,
			"from": _cus(msg),
			"fromMe": msg.from_me,
			"reaction": {"text": msg.reaction.emoji, "messageId": target},
		}
		self._queue(session, "message.reaction", self._envelope(session, "message.reaction", payload, True))

	def _wa_message(self, session: Session, msg: Message) -> dict[str, Any]:
		"""NOWEB's toWAMessage of the message, with the Baileys message as `_data`."""
		key: dict[str, Any] = {"remoteJid": _jid(msg), "fromMe": msg.from_me, "id": msg.id}
		if msg.lid is not None and not msg.lid_only:
			key["remoteJidAlt"] = f"{msg.chat}@s.whatsapp.net"  # Baileys 6.7 has no field of its own for it
		quoted = self._messages.get((msg.session_id, msg.reply_to)) if msg.reply_to else None
		context: dict[str, Any] | None = None
		reply: dict[str, Any] | None = None
		if msg.reply_to is not None:
			author = (session.phone or DEFAULT_PHONE) if quoted is None or quoted.from_me else quoted.chat
			author_jid = (
				f"{quoted.lid}@lid" if quoted is not None and quoted.lid and not quoted.from_me else None
			)
			context = {"stanzaId": msg.reply_to, "participant": author_jid or f"{author}@s.whatsapp.net"}
			quoted_body = None
			if quoted is not None:
				context["quotedMessage"] = {"conversation": quoted.text or quoted.caption or ""}
				quoted_body = quoted.text or quoted.caption
			reply = {"id": msg.reply_to, "participant": author_jid or f"{author}@c.us", "body": quoted_body}
		content = self._content(msg, context)
		media = self._media_info(session, msg)
		data: dict[str, Any] = {"key": key}
		if msg.outgoing:
			# WebMessageInfo.toJSON: longs as strings, enums by name
			data.update(message=content, messageTimestamp=str(msg.ts), status="PENDING")
		else:
			data["messageTimestamp"] = msg.ts
			if msg.push_name is not None:
				data["pushName"] = msg.push_name if not msg.from_me else "Sim"
			data.update(broadcast=False, message=content)
			if msg.from_me:
				data["status"] = "SERVER_ACK"
		if media is not None:
			data["media"] = media
		if msg.outgoing:
			ack, ack_name = 0, "PENDING"
		elif msg.from_me:
			ack, ack_name = 1, "SERVER"
		else:
			ack, ack_name = None, "UNKNOWN"  # sic: no status on a received message, NaN - 1 goes out as null
		payload: dict[str, Any] = {
			"id": self._public_id(msg),
			"timestamp": msg.ts,
			"from": _cus(msg),
			"fromMe": msg.from_me,
			"body": msg.text if msg.media is None else msg.caption,
			"hasMedia": media is not None,
		}
		if media is not None:
			payload.update(media=media, mediaUrl=media["url"])
		payload.update(ack=ack, ackName=ack_name, replyTo=reply, _data=data)
		return payload

	def _content(self, msg: Message, context: dict[str, Any] | None) -> dict[str, Any]:
		if msg.media is None:
			if msg.outgoing or context is not None:
				text: dict[str, Any] = {"text": msg.text or ""}
				if context is not None:
					text["contextInfo"] = context
				return {"extendedTextMessage": text}
			return {"conversation": msg.text or ""}
		kind = msg.extra.get("kind") or _media_kind(msg.media)
		path = f"/v/t62.7119-24/sim_{msg.id}.enc?ccb=11-4"
		body: dict[str, Any] = {"url": f"https://mmg.whatsapp.net{path}", "mimetype": msg.media.mimetype}
		if msg.caption is not None:
			body["caption"] = msg.caption
		body.update(
			fileSha256=base64.b64encode(hashlib.sha256(msg.media.data).digest()).decode("ascii"),
			fileLength=str(len(msg.media.data)),
			mediaKey=base64.b64encode(hashlib.sha256(msg.id.encode()).digest()).decode("ascii"),
		)
		if kind == "documentMessage":
			body["fileName"] = msg.media.filename
		body.update(directPath=path, mediaKeyTimestamp=str(msg.ts))
		if context is not None:
			body["contextInfo"] = context
		return {kind: body}

	def _media_info(self, session: Session, msg: Message) -> dict[str, Any] | None:
		if msg.media is None:
			return None
		mimetype = msg.media.mimetype
		ext = _EXTENSIONS.get(mimetype) or (mimetypes.guess_extension(mimetype) or ".bin").lstrip(".")
		kind = msg.extra.get("kind") or _media_kind(msg.media)
		return {
			"url": f"{self._base_url()}/api/files/{session.session_id}/{msg.id}.{ext}",
			"filename": msg.media.filename
			if kind == "documentMessage"
			else None,  # getFilename: documents only
			"mimetype": mimetype,
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


def _store_enabled(config: object) -> bool:
	noweb = config.get("noweb") if isinstance(config, dict) else None
	store = noweb.get("store") if isinstance(noweb, dict) else None
	return isinstance(store, dict) and store.get("enabled") is True


def _history_query(call: Call, core_2024: bool) -> tuple[dict[str, Any], list[str]]:
	"""GetChatMessagesQuery and its filter, as class-validator reads the query string; the problems found."""
	problems: list[str] = []

	def number(name: str, default: int | None, low: int) -> int | None:
		raw = call.arg(name)
		if raw is None or raw == "":
			return default
		try:
			value = int(raw)
		except ValueError:
			problems.append(f"{name} must be a number conforming to the specified constraints")
			return default
		if value < low:
			problems.append(f"{name} must not be less than {low}")
		return value

	query: dict[str, Any] = {"limit": number("limit", HISTORY_LIMIT, 1), "media": True}
	if call.arg("downloadMedia") is not None:
		query["media"] = call.arg("downloadMedia").lower() not in ("false", "0", "no")  # parseBool
	if core_2024:
		# 2024.10.8 reads only limit and downloadMedia
		query.update(offset=0, gte=None, lte=None, from_me=None, desc=True)
		return query, problems
	query.update(
		offset=number("offset", 0, 0) or 0,
		gte=number("filter.timestamp.gte", None, 0),
		lte=number("filter.timestamp.lte", None, 0),
	)
	from_me = call.arg("filter.fromMe")
	if from_me not in (None, "", "true", "false"):
		problems.append("filter.fromMe must be a boolean value")
	query["from_me"] = None if from_me in (None, "") else from_me == "true"
	order = (call.arg("sortOrder") or "desc").lower()
	if order not in ("asc", "desc"):
		problems.append("sortOrder must be one of the following values: asc, desc")
	query["desc"] = order != "asc"
	return query, problems


def _not_started(name: str) -> dict[str, Any]:
	message = (
		f"We didn't find a session with name '{name}'.\n"
		f"Please start it first by using POST /api/sessions/{name}/start request"
	)
	return error(404, message)


def _chat_digits(chat_id: object) -> str | None:
	"""The phone in a chatId (11111111111@c.us, @s.whatsapp.net or bare digits: ensureSuffix adds @c.us)."""
	if not isinstance(chat_id, str):
		return None
	user, _, server = chat_id.partition("@")
	if server not in ("", "c.us", "s.whatsapp.net") or not DIGITS_RE.fullmatch(user):
		return None
	return user


def _group_digits(chat_id: object) -> str | None:
	"""The id of a group chatId (120363000000000000@g.us)."""
	if not isinstance(chat_id, str) or not chat_id.endswith("@g.us"):
		return None
	user = chat_id.removesuffix("@g.us")
	return user if user.isdigit() and 10 <= len(user) <= 24 else None


def _jid(msg: Message) -> str:
	if msg.extra.get("group"):
		return f"{msg.chat}@g.us"
	return f"{msg.lid}@lid" if msg.lid is not None else f"{msg.chat}@s.whatsapp.net"


def _cus(msg: Message) -> str:
	# toCusFormat: a phone jid becomes @c.us, a lid and a group stay as they are
	if msg.extra.get("group"):
		return f"{msg.chat}@g.us"
	return f"{msg.lid}@lid" if msg.lid is not None else f"{msg.chat}@c.us"


def _ulid() -> str:
	"""A ULID (48 bits of milliseconds, 80 random), in Crockford's base32 as WAHA's event ids spell it."""
	value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
	return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def _media_kind(media: Media) -> str:
	top = media.mimetype.split("/")[0]
	return f"{top}Message" if top in ("image", "video", "audio") else "documentMessage"


def _qr_failed() -> dict[str, Any]:
	return _internal_error("QR generation failed", "WhatsappSessionNoWebCore.getQR")


def _internal_error(message: str, where: str) -> dict[str, Any]:
	"""WAHA's answer to an uncaught Error: a 500 with the exception."""
	return {
		"statusCode": 500,
		"message": "Internal server error",
		"exception": {
			"message": message,
			"stack": (
				f"Error: {message}\n    at {where} (/app/dist/core/engines/noweb/session.noweb.core.js:1:1)"
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
