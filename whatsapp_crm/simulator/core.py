"""The shared core of the simulated WhatsApp gateways (Baileys REST, Evolution API v2, WAHA).

Each session follows a scripted scenario (SessionOptions): QR at once or late, QR generation errors,
rotation, linking, a QR limit, no WhatsApp at all, hangs, proxy 502s, lying answers, broken, huge or trickling
bodies, a gateway that forgets sessions. Times are read from an injectable ``clock`` so that a test drives a
session by hand; only real blocking (delays, hangs, trickles, WAHA's QR wait) uses wall time, through
``threading.Event`` waits that ``stop()`` releases at once.

BaseSimulator owns the lifecycle, the session model, the request log, the control routes (``/_sim/...``,
authenticated with the type's own auth header, answering in one simulator format for every type), the common
faults and the webhook sender thread; a subclass routes requests and speaks its gateway's wire format.
Messaging: ``inbound()`` (a message arrives, or is typed on the linked phone), the type's send routes
(recorded for ``sent()``), ``ack()`` and automatic acks after each send (sent at once, delivered and read
``ack_delay_s`` apart on ``clock``), media kept in memory for the type's download route. ``NOT_ON_WHATSAPP``
is a number every type refuses (or fails) its own way. Every message and every receipt it got stays in the
store, delivered or not, for the type's history route (``count("history")``); ``set_receiver_down()`` (or
``POST /_sim/receiver {"down": true}``) drops webhook deliveries meanwhile, as a receiver that is unreachable.

Pacing (what a careful sender does around a send): each type's mark-read, typing and number-check routes
(endpoints ``read``, ``presence``, ``numbers``), with its gateway's answers, "not connected" ones included.
A number has no WhatsApp when it is ``NOT_ON_WHATSAPP`` or its digits end in ``000`` (model.on_whatsapp):
number checks say so, and a send to it fails the way the type's gateway fails it. Every session keeps a
pacing log (model.PacingLog, the newest 5,000 entries of each kind): each send the gateway accepted with its
receive time (``time.time()``), each presence told to a chat, each read mark. ``pacing(session_id)`` and
``GET /_sim/sessions/{id}/pacing`` (``{"success", "sessionId", "sends": [{"id", "to", "at"}], "presence":
[{"chat", "presence", "at"}], "reads": [{"chat", "ids", "at"}]}``) read it. ``pacing_routes=False`` plays a
gateway from before those routes: they answer as any route it does not have.

Control routes (``/_sim/...``, the type's own key): ``POST /_sim/restart``, ``/_sim/webhook``,
``/_sim/receiver``; ``POST /_sim/sessions/{id}/scan|scenario|inbound|ack``; ``GET /_sim/sessions/{id}/sent``
and ``/pacing``.
Never imports frappe.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from .faults import FaultAnswers

# SessionOptions, SCENARIOS and friends live in .model; importing them from here works too.
from .model import (
	ACK_STATUSES,
	DEFAULT_PHONE,
	DEFAULT_SCENARIO,
	DIGITS_RE,
	FAULTS,
	MAX_SEND_BODY,
	NOT_ON_WHATSAPP,
	PACING_ENDPOINTS,
	SCENARIOS,
	Call,
	Media,
	Message,
	PacingLog,
	Reaction,
	Route,
	Session,
	SessionOptions,
	SessionUnavailable,
	new_message_id,
	pairing_code,
	parse_json_object,
	parse_media,
	qr_payload,
	resolve,
	valid_id,
)
from .server import MAX_BODY, Handler, Server
from .webhooks import WEBHOOK_TIMEOUT_S, WebhookSender

# Control routes answer in one format whatever the type: they belong to the simulator, not the gateway.
_CTL_INVALID_JSON = {"success": False, "error": "INVALID_JSON", "message": "Body must be a JSON object"}
_CTL_NOT_FOUND = {"success": False, "error": "SESSION_NOT_FOUND", "message": "Session not found"}
_S = TypeVar("_S", bound="BaseSimulator")


class BaseSimulator(FaultAnswers, WebhookSender):
	"""A scripted gateway on loopback; thread-safe. start()/stop(), or use it as a context manager.

	Scenario per session: set_scenario() override, else the text after the id's last "--" when it names a
	scenario ("sales--qr_error"), else the constructor's default.
	"""

	gateway_type = "base"
	auth_header = "X-API-Key"
	qr_limit_ends = False  # whether SessionOptions.qr_limit ends a session
	hang_endpoints = (*FaultAnswers.hang_endpoints, *PACING_ENDPOINTS)

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
		webhook_mode: str | None = None,
		auto_ack: bool = True,
		ack_delay_s: float = 0.2,
		pacing_routes: bool = True,
	) -> None:
		self.api_key = api_key
		self.pacing_routes = pacing_routes  # False: a gateway from before the mark-read/typing/check routes
		self.auto_ack = auto_ack
		self.ack_delay_s = ack_delay_s
		self.host = host
		self.port = port
		self.default_options = resolve(scenario)
		self.scenario_name = scenario if isinstance(scenario, str) else "custom"
		self.clock = clock
		self.hang_max_s = hang_max_s
		self._lock = threading.RLock()
		self._sessions: dict[str, Session] = {}
		self._overrides: dict[str, SessionOptions] = {}
		# ids already forgotten once by session_lost; from then on they behave like qr_now
		self._lost: set[str] = set()
		self._log: list[dict[str, Any]] = []
		# messages by (session id, key id); sends in order; acks waiting for the clock (due, session, key, status)
		self._messages: dict[tuple[str, str], Message] = {}
		self._sent: list[Message] = []
		self._pending_acks: list[tuple[float, str, str, str]] = []
		self._stored = 0  # messages stored so far: each one's Message.seq
		self._pacing: dict[str, PacingLog] = {}  # by session id; kept across deletes and restarts
		self._server: Server | None = None
		self._thread: threading.Thread | None = None
		self._bound: tuple[str, int] | None = None
		self._init_webhooks()
		self.set_webhook(webhook_url, webhook_secret, webhook_mode)

	# -- lifecycle --

	def start(self: _S) -> _S:
		with self._lock:
			if self._server is not None:
				return self
			server = Server((self.host, self.port), self)
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
			self._start_webhooks()
		return self

	def stop(self) -> None:
		with self._lock:
			server, thread = self._server, self._thread
			self._server = self._thread = None
			wh_thread = self._stop_webhooks()
		if server is None:
			return
		server.stopping.set()  # releases hanging, delayed and trickling requests at once
		server.shutdown()
		server.server_close()
		server.drop_connections()
		if thread is not None:
			thread.join(timeout=5)
		if wh_thread is not None:
			wh_thread.join(timeout=WEBHOOK_TIMEOUT_S + 2)  # at most one delivery in flight

	def __enter__(self: _S) -> _S:
		return self.start()

	def __exit__(self, *exc: object) -> None:
		self.stop()

	@property
	def url(self) -> str:
		if self._bound is None:
			raise RuntimeError("BaileysSimulator is not started")
		host, port = self._bound
		return f"http://{host}:{port}"

	# -- scripting --

	def set_scenario(self, session_id: str, scenario: str | SessionOptions) -> None:
		if not valid_id(session_id):
			raise ValueError(f"invalid session id {session_id!r}")
		options = resolve(scenario)
		with self._lock:
			self._overrides[session_id] = options
			self._lost.discard(session_id)  # an explicit choice replaces the post-loss qr_now behaviour

	def scan(self, session_id: str, phone: str = DEFAULT_PHONE) -> None:
		"""The user scans the QR: the session is connected at once. Unknown or stopped sessions are ignored."""
		self._scan(session_id, phone)

	def restart(self) -> None:
		"""Gateway restart: every session is forgotten. Per-session scenario overrides are kept."""
		with self._lock:
			self._sessions.clear()
			self._lost.clear()

	# -- messaging --

	def inbound(
		self,
		session_id: str,
		chat: str,
		text: str | None = None,
		*,
		from_me: bool = False,
		lid: str | None = None,
		lid_only: bool = False,
		media: dict[str, Any] | None = None,
		reply_to: str | None = None,
		push_name: str | None = "Ana Cliente",
		message_id: str | None = None,
		repeat: int = 1,
		timestamp: int | None = None,
		reaction: str | None = None,
	) -> str:
		"""A message arrives on the chat with phone `chat` (from_me: typed on the linked phone into it).

		The type's message event is queued `repeat` times with the same message (gateways repeat them).
		`media`: {"data": bytes or base64, "mimetype", "filename", "caption"}. `reaction`: an emoji ("" takes
		one back) put on the known message `reply_to`, instead of text or media. Returns the message id as the
		type's events name it. ValueError for bad input; SessionUnavailable (a ValueError) for a session that
		is unknown or not linked.
		"""
		if not isinstance(chat, str) or not DIGITS_RE.fullmatch(chat):
			raise ValueError("chat must be 8-15 digits")
		if text is not None and not isinstance(text, str):
			raise ValueError("text must be a string")
		if lid is not None and (not isinstance(lid, str) or not lid.isdigit()):
			raise ValueError("lid must be digits")
		if lid_only and lid is None:
			raise ValueError("lid_only needs a lid")
		if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= 100:
			raise ValueError("repeat must be 1-100")
		if message_id is not None and (not isinstance(message_id, str) or not message_id):
			raise ValueError("message_id must be a non-empty string")
		if reply_to is not None and (not isinstance(reply_to, str) or not reply_to):
			raise ValueError("reply_to must be a message id")
		if push_name is not None and not isinstance(push_name, str):
			raise ValueError("push_name must be a string")
		if reaction is not None:
			if not isinstance(reaction, str):
				raise ValueError("reaction must be a string")
			if reply_to is None:
				raise ValueError("a reaction needs reply_to, the message it reacts to")
			if text is not None or media is not None:
				raise ValueError("a reaction carries no text or media")
		parsed: Media | None = None
		caption: str | None = None
		if media is not None:
			parsed = parse_media(media)
			caption = media.get("caption") or text  # a caption is the text a media message carries
			if caption is not None and not isinstance(caption, str):
				raise ValueError("media.caption must be a string")
		elif not text and reaction is None:
			raise ValueError("a message needs text or media")
		with self._lock:
			now = self.clock()
			session = self._linked(session_id, now)
			react: Reaction | None = None
			if reaction is not None:
				assert reply_to is not None
				target = self._messages.get((session_id, self._key_id(reply_to)))
				if target is None:
					raise SessionUnavailable("Message not found", 404, "MESSAGE_NOT_FOUND")
				react = Reaction(target.id, reaction, self._public_id(target))
				reply_to = None  # names the target, not a quote
			msg = Message(
				id=self._key_id(message_id) if message_id else new_message_id(),
				session_id=session_id,
				chat=chat,
				from_me=bool(from_me),
				outgoing=False,
				text=text if parsed is None else None,
				caption=caption,
				media=parsed,
				reply_to=self._key_id(reply_to) if reply_to else None,
				at=now,
				ts=int(time.time()) if timestamp is None else int(timestamp),
				lid=lid,
				lid_only=bool(lid_only),
				push_name=push_name,
				reaction=react,
			)
			self._store(msg)
			for _ in range(repeat):
				self._emit_message(session, msg)
			return self._public_id(msg)

	def sent(self, session_id: str | None = None) -> list[dict[str, Any]]:
		"""What the app sent through the send routes, oldest first (media described, without its bytes)."""
		with self._lock:
			return [m.sent_info() for m in self._sent if session_id is None or m.session_id == session_id]

	def pacing(self, session_id: str) -> dict[str, list[dict[str, Any]]]:
		"""The session's pacing log: ``{"sends": [{"id", "to", "at"}], "presence": [{"chat", "presence",
		"at"}], "reads": [{"chat", "ids", "at"}]}``, oldest first, ``at`` wall-clock seconds (time.time())."""
		with self._lock:
			log = self._pacing.get(session_id)
			return log.as_dict() if log is not None else PacingLog().as_dict()

	def _pacing_log(self, session_id: str) -> PacingLog:
		"""Under self._lock."""
		return self._pacing.setdefault(session_id, PacingLog())

	def _log_presence(self, session_id: str, chat: str, presence: str) -> None:
		"""Under self._lock: the gateway told the chat ``presence`` (composing, paused...)."""
		self._pacing_log(session_id).presence.append({"chat": chat, "presence": presence, "at": time.time()})

	def _log_read(self, session_id: str, chat: str, ids: list[str]) -> None:
		"""Under self._lock: the gateway sent read receipts for these messages of the chat."""
		self._pacing_log(session_id).reads.append({"chat": chat, "ids": list(ids), "at": time.time()})

	def ack(self, session_id: str, message_id: str, status: str) -> None:
		"""The recipient's phone reports `status` for a message: queues the type's ack event."""
		if status not in ACK_STATUSES:
			raise ValueError(f"status must be one of {', '.join(ACK_STATUSES)}")
		with self._lock:
			now = self.clock()
			session = self._live(session_id, now)
			if session is None:
				raise SessionUnavailable("Session not found", 404, "SESSION_NOT_FOUND")
			msg = self._messages.get((session_id, self._key_id(message_id)))
			if msg is None:
				raise SessionUnavailable("Message not found", 404, "MESSAGE_NOT_FOUND")
			self._ack_message(session, msg, status)

	def _linked(self, session_id: str, now: float) -> Session:
		"""Under self._lock: the session, when it exists and is linked."""
		session = self._live(session_id, now) if valid_id(session_id) else None
		if session is None:
			raise SessionUnavailable("Session not found", 404, "SESSION_NOT_FOUND")
		if not session.connected or not session.running:
			raise SessionUnavailable("Session is not connected", 409, "NOT_CONNECTED")
		return session

	def _store(self, msg: Message) -> None:
		msg.seq, self._stored = self._stored, self._stored + 1
		self._messages[(msg.session_id, msg.id)] = msg

	def _stored_messages(self, session_id: str) -> list[Message]:
		"""Under self._lock: the session's stored messages, oldest first (timestamp, then store order).

		What the history routes read: messages stay here whether or not their webhooks were delivered."""
		found = [m for (sid, _), m in self._messages.items() if sid == session_id]
		return sorted(found, key=lambda m: (m.ts, m.seq))

	def _ack_message(self, session: Session, msg: Message, status: str) -> None:
		"""Under self._lock: the gateway learns a receipt: kept on the message, then the type's ack event."""
		msg.acks.append(status)
		self._emit_ack(session, msg, status)

	def _message(self, session_id: str, message_id: str) -> Message | None:
		with self._lock:
			return self._messages.get((session_id, self._key_id(message_id)))

	def _record_send(
		self,
		session: Session,
		chat: str,
		*,
		text: str | None = None,
		caption: str | None = None,
		media: Media | None = None,
		reply_to: str | None = None,
		message_id: str | None = None,
		acks: tuple[str, ...] = ("sent", "delivered", "read"),
		extra: dict[str, Any] | None = None,
		reaction: Reaction | None = None,
	) -> Message:
		"""Under self._lock: a send the gateway accepted; the automatic acks follow (the first at once).

		A reaction gets no automatic acks (real gateways do send server acks for them; nobody needs them).
		"""
		if reaction is not None:
			acks = ()
		now = self.clock()
		msg = Message(
			id=message_id or new_message_id(),
			session_id=session.session_id,
			chat=chat,
			from_me=True,
			outgoing=True,
			text=text,
			caption=caption,
			media=media,
			reply_to=self._key_id(reply_to) if reply_to else None,
			at=now,
			ts=int(time.time()),
			extra=dict(extra or {}),
			reaction=reaction,
		)
		self._store(msg)
		self._sent.append(msg)
		self._pacing_log(session.session_id).sends.append({"id": msg.id, "to": chat, "at": time.time()})
		self._after_send(session, msg)
		# receipts come whether or not anybody listens: the store keeps them for the history routes
		if self.auto_ack and acks:
			self._ack_message(session, msg, acks[0])
			for step, status in enumerate(acks[1:], start=1):
				self._pending_acks.append((now + step * self.ack_delay_s, session.session_id, msg.id, status))
		return msg

	def _poll_webhook_events(self) -> None:
		super()._poll_webhook_events()
		with self._lock:
			if not self._pending_acks:
				return
			now = self.clock()
			due = [p for p in self._pending_acks if p[0] <= now]
			if not due:
				return
			self._pending_acks = [p for p in self._pending_acks if p[0] > now]
			for _, session_id, key_id, status in sorted(due, key=lambda p: p[0]):
				session = self._live(session_id, now)
				msg = self._messages.get((session_id, key_id))
				if session is not None and msg is not None:
					self._ack_message(session, msg, status)

	# -- the type's part of messaging (all under self._lock) --

	def _emit_message(self, session: Session, msg: Message) -> None:
		"""Queue one delivery of the type's event(s) for an inbound or phone-typed message."""
		raise NotImplementedError

	def _emit_ack(self, session: Session, msg: Message, status: str) -> None:
		raise NotImplementedError

	def _after_send(self, session: Session, msg: Message) -> None:
		"""Events the type sends for a message sent through its API (before the acks)."""

	def _public_id(self, msg: Message) -> str:
		"""The message id as the type's events name it."""
		return msg.id

	def _key_id(self, message_id: str) -> str:
		"""The key id in a message id the app may give (WAHA serializes ids)."""
		return message_id

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

	def _new_session(self, session_id: str, now: float, running: bool = True) -> Session:
		session = Session(session_id, now, running=running)
		self._sessions[session_id] = session
		return session

	def _live(self, session_id: str, now: float) -> Session | None:
		"""The session as it stands at `now`, after applying time-driven changes (loss, linking, the end)."""
		session = self._sessions.get(session_id)
		if session is None:
			return None
		if session.gone_at is not None and now >= session.gone_at:
			del self._sessions[session_id]
			return None
		opts = self.options_for(session_id)
		if opts.fault == "session_lost" and now - session.created_at >= opts.lost_after_s:
			del self._sessions[session_id]
			self._lost.add(session_id)
			return None
		if session.connected or session.failed or not session.running:
			return session
		linked = (
			opts.scan_after_s is not None
			and session.first_qr_at is not None
			and now - session.first_qr_at >= opts.scan_after_s
		)
		ended = self._limit_reached(session, opts, now)
		if linked and ended:
			# both happened since the last look: whichever came first wins
			assert session.first_qr_at is not None and opts.scan_after_s is not None
			link_at = session.first_qr_at + opts.scan_after_s
			linked = link_at < session.created_at + opts.qr_after_s + opts.qr_limit * opts.rotate_s
			ended = not linked
		if linked:
			session.connected, session.phone = True, DEFAULT_PHONE
		elif ended:
			session.failed = True
		return session

	def _limit_reached(self, session: Session, opts: SessionOptions, now: float) -> bool:
		if not self.qr_limit_ends or opts.qr_limit <= 0 or opts.rotate_s <= 0:
			return False
		return self._qr_due(session, opts, now) and self._generation(session, opts, now) >= opts.qr_limit

	def _scan(self, session_id: str, phone: str) -> bool:
		with self._lock:
			session = self._live(session_id, self.clock())
			if session is None or not session.running or session.failed:
				return False
			session.connected, session.phone = True, phone
			return True

	def _qr_due(self, session: Session, opts: SessionOptions, now: float) -> bool:
		return not opts.offline and now - session.created_at >= opts.qr_after_s

	def _generation(self, session: Session, opts: SessionOptions, now: float) -> int:
		if opts.rotate_s <= 0:
			return 0
		return max(0, int((now - session.created_at - opts.qr_after_s) // opts.rotate_s))

	def _serve_qr(self, session: Session, now: float) -> None:
		"""The QR reached the app: scan_after_s counts from here."""
		if session.first_qr_at is None:
			session.first_qr_at = now

	def _base_url(self) -> str:
		return self.url if self._bound is not None else f"http://{self.host}:{self.port}"

	# -- HTTP handling --

	def _log_status(self, handler: Handler, status: int) -> None:
		with self._lock:
			if handler._entry is not None:
				handler._entry["status"] = status

	def _authorized(self, handler: Handler, *also: str) -> bool:
		"""Constant-time match of the type's auth header against the key (or one of `also`)."""
		given = handler.headers.get(self.auth_header, "").encode("utf-8")
		return any(hmac.compare_digest(given, key.encode("utf-8")) for key in (self.api_key, *also) if key)

	def _route(self, method: str, path: str, query: dict[str, list[str]]) -> Route:
		raise NotImplementedError

	def _serve(self, handler: Handler, call: Call) -> None:
		raise NotImplementedError

	def _handle(self, handler: Handler, method: str) -> None:
		split = urlsplit(handler.path)
		path, query = split.path, parse_qs(split.query)
		route = self._route(method, path, query)
		if route.endpoint in PACING_ENDPOINTS and not self.pacing_routes:
			route = Route("other")  # a gateway from before them: the type's answer for a route it lacks
		session_id = unquote(route.raw_id) if route.raw_id is not None else None
		entry: dict[str, Any] = {
			"method": method,
			"path": path,
			"endpoint": route.endpoint,
			"session_id": session_id,
			"status": None,
		}
		with self._lock:
			self._log.append(entry)
			handler._entry = entry
		# only the routes that may carry base64 media read bodies beyond the usual limit
		big = route.endpoint == "send" or (route.endpoint == "control" and route.action == "inbound")
		body = handler.read_body(MAX_SEND_BODY if big else MAX_BODY)
		if body is None:
			return
		self._serve(handler, Call(method, path, route, session_id, body, query))

	def _set_logged_id(self, handler: Handler, session_id: object) -> None:
		# create names its session in the body: the log learns it once the body is read
		with self._lock:
			if handler._entry is not None:
				handler._entry["session_id"] = session_id if isinstance(session_id, str) else None

	def _serve_control(
		self, handler: Handler, action: str | None, session_id: str | None, body: bytes
	) -> None:
		"""The /_sim routes, once authenticated and the method checked."""
		if action == "restart":
			self.restart()
			handler.send_json(200, {"success": True})
			return
		if action == "webhook":
			self._control_webhook(handler, body)
			return
		if action == "receiver":
			self._control_receiver(handler, body)
			return
		if not valid_id(session_id):
			handler.send_json(400, {"success": False, "error": "INVALID_SESSION_ID"})
			return
		data = parse_json_object(body) if body else {}
		if data is None:
			handler.send_json(400, _CTL_INVALID_JSON)
			return
		if action in ("inbound", "ack", "sent", "pacing"):
			self._control_messaging(handler, action, session_id, data)
			return
		if action == "scan":
			phone = data.get("phone", DEFAULT_PHONE)
			if not isinstance(phone, str) or not phone:
				handler.send_json(400, {"success": False, "error": "INVALID_PHONE"})
				return
			if not self._scan(session_id, phone):
				handler.send_json(404, _CTL_NOT_FOUND)
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

	def _control_messaging(
		self, handler: Handler, action: str, session_id: str, data: dict[str, Any]
	) -> None:
		if action == "sent":
			handler.send_json(200, {"success": True, "messages": self.sent(session_id)})
			return
		if action == "pacing":
			handler.send_json(200, {"success": True, "sessionId": session_id, **self.pacing(session_id)})
			return
		try:
			if action == "ack":
				message_id, status = data.get("messageId"), data.get("status")
				if not isinstance(message_id, str) or not message_id:
					raise ValueError("messageId must be a string")
				if not isinstance(status, str):
					raise ValueError(f"status must be one of {', '.join(ACK_STATUSES)}")
				self.ack(session_id, message_id, status)
				handler.send_json(200, {"success": True, "messageId": message_id, "status": status})
				return
			media = data.get("media")
			if media is not None:
				if not isinstance(media, dict):
					raise ValueError("media must be an object")
				if not isinstance(media.get("data"), str):
					raise ValueError("media.data must be base64")  # bytes cannot travel in JSON
			message_id = self.inbound(
				session_id,
				data.get("chat"),  # type: ignore[arg-type]  # inbound() checks every field
				data.get("text"),
				from_me=data.get("fromMe") is True,
				lid=data.get("lid"),
				lid_only=data.get("lidOnly") is True,
				media=media,
				reply_to=data.get("replyTo"),
				push_name=data.get("pushName", "Ana Cliente"),
				message_id=data.get("messageId"),
				repeat=data.get("repeat", 1),
				timestamp=data.get("timestamp"),
				reaction=data.get("reaction"),
			)
		except SessionUnavailable as exc:
			handler.send_json(exc.status, {"success": False, "error": exc.word, "message": str(exc)})
			return
		except (TypeError, ValueError) as exc:
			handler.send_json(400, {"success": False, "error": "INVALID_MESSAGE", "message": str(exc)})
			return
		handler.send_json(200, {"success": True, "messageId": message_id})

	def _serve_control_route(
		self, handler: Handler, route: Route, session_id: str | None, body: bytes
	) -> None:
		if not self._authorized(handler):
			handler.send_json(401, self._unauthorized_payload())
		elif not route.allowed:
			handler.send_json(
				405, {"success": False, "error": "METHOD_NOT_ALLOWED", "message": "Method not allowed"}
			)
		else:
			self._serve_control(handler, route.action, session_id, body)

	def _control_receiver(self, handler: Handler, body: bytes) -> None:
		data = parse_json_object(body)
		if data is None:
			handler.send_json(400, _CTL_INVALID_JSON)
			return
		down = data.get("down")
		if not isinstance(down, bool):
			handler.send_json(
				400, {"success": False, "error": "INVALID_RECEIVER", "message": "down must be true or false"}
			)
			return
		self.set_receiver_down(down)
		handler.send_json(200, {"success": True, "down": down, "dropped": self.webhook_dropped})

	def _control_webhook(self, handler: Handler, body: bytes) -> None:
		data = parse_json_object(body)
		if data is None:
			handler.send_json(400, _CTL_INVALID_JSON)
			return
		url, secret = data.get("url"), data.get("secret", "")
		mode = data.get("mode", self.default_webhook_mode)
		try:
			self.set_webhook(url, secret, mode)
		except (TypeError, ValueError) as exc:
			handler.send_json(400, {"success": False, "error": "INVALID_WEBHOOK", "message": str(exc)})
			return
		# Never the secret back: this answer may be printed by whoever set it.
		handler.send_json(200, {"success": True, "url": url, "mode": mode})


__all__ = [
	"DEFAULT_PHONE",
	"DEFAULT_SCENARIO",
	"FAULTS",
	"NOT_ON_WHATSAPP",
	"SCENARIOS",
	"BaseSimulator",
	"SessionOptions",
	"pairing_code",
	"qr_payload",
]
