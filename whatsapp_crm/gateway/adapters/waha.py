"""WAHA (WhatsApp HTTP API; its NOWEB engine is Baileys).

Auth ``X-Api-Key`` (WAHA Core 2024 checks no key at all, so none is required here). Create
``POST /api/sessions`` ``{"name", "start": true}`` (422 "already exists" is success, and the session is then
started); state ``GET /api/sessions/{name}`` (``STOPPED|STARTING|SCAN_QR_CODE|WORKING|FAILED``; a STOPPED
session, e.g. after a gateway restart, is started again); QR ``GET /api/{name}/auth/qr?format=raw``, which
waits up to 5 s and answers 422 while there is none, and on older versions answers a binary PNG whatever was
asked; pairing ``POST /api/{name}/auth/request-code``; logout and ``DELETE``; ``GET /api/server/version``.

Messages: ``POST /api/sendText`` ``{"session", "chatId": "<digits>@c.us", "text"}`` and ``POST /api/sendFile``
(a Plus feature: Core refuses it, MediaNotSupported); events ``message.any`` (received, and typed on the phone),
``message`` and ``message.ack`` (-1 error, 1 server, 2 device, 3 read, 4 played; a group's receipts come as
``message.ack.group`` from 2025 on, read alike); an inbound file is served at the ``media.url`` the event
names, fetched from the gateway's own address. Envelopes from 2025 on carry an ``id`` (``evt_<ulid>``), the
event id a receiver de-duplicates by; Core 2024 sends none (its body is the replay key then).

Pacing (docs/gateways.md, 'Pacing calls per gateway'), as WAHA 2024.10.8's NOWEB takes them:
``POST /api/sendSeen`` ``{"session", "chatId", "messageId": "false_<chat>@c.us_<id>"}`` marks one message a
request (NOWEB reads only ``messageId``; without it, a 500); ``POST /api/startTyping`` and ``/api/stopTyping``
``{"session", "chatId"}``; ``GET /api/contacts/check-exists?phone=&session=`` answers ``{"numberExists",
"chatId"}`` for one number a request. The requests of one call share the caller's time. A session that is not
WORKING answers 422 "not as expected" after a 5 s wait: NotConnected. NestJS' 404 ``Cannot POST ...`` for the
route itself: NotSupported.

WAHA 2025.10.3+ refuses a request without a key (401); its GOWS engine reports ``PASSKEY_REQUIRED`` and
``PASSKEY_CONFIRMATION_REQUIRED`` while the phone must approve the link: waiting, never a QR or a failure.

WAHA Core before 2026.6 runs only the session named ``default``; other names get a 422 that says so, which is
final (SessionNotAllowed). Only that answer says so: neither the version nor the name is taken for it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from .. import texts
from ..client import (
	Budget,
	CreateResult,
	GatewayClient,
	Health,
	QrAnswer,
	WebhookTarget,
	error_words,
	number_checks,
	out_of_time,
	pairing_code_from,
	short,
	validate_session_id,
)
from ..errors import (
	BadResponse,
	ConfigNotApplied,
	GatewayError,
	GatewayTimeout,
	HistoryUnavailable,
	QrGenerationError,
	QrNotReady,
	ServerError,
	SessionNotAllowed,
	SessionNotFound,
	Unauthorized,
	Unreachable,
)
from ..messaging import (
	DELIVERED,
	FAILED,
	MAX_MEDIA_BYTES,
	READ,
	SENT,
	Ack,
	HistoryPage,
	InboundMessage,
	Media,
	MediaRef,
	NumberCheck,
	OutgoingMessage,
	SendResult,
	chat_of,
	checked_chat,
	checked_media,
	checked_numbers,
	checked_read_ids,
	clean_mimetype,
	collect_page,
	int_of,
	is_person,
	message_id,
	name_of,
	reaction_of,
	safe_filename,
	text_of,
)
from ..phones import jid_digits, phone_digits
from ..status import Kind, SessionState
from ..transport import Reply
from ..webhook import EVENT_ID_RE, MAX_STATUS_CHARS, WebhookEvent, WebhookRejected, bounded, session_name
from .baileys import key_check

STATES = {
	"starting": Kind.WAITING,
	"stopped": Kind.WAITING,  # started again below
	"scan_qr_code": Kind.QR,
	"working": Kind.CONNECTED,
	"failed": Kind.ENDED,
	# GOWS: the phone must approve the link (acquire_qr says so in plain words)
	"passkey_required": Kind.WAITING,
	"passkey_confirmation_required": Kind.WAITING,
}
WEBHOOK_EVENTS = ["session.status", "message.any", "message.ack", "message.reaction"]
ACKS = {-1: FAILED, 1: SENT, 2: DELIVERED, 3: READ, 4: READ}
FILES_PATH = "/api/files/"


def with_query_secret(url: str, secret: str) -> str:
	return f"{url}{'&' if '?' in url else '?'}{urlencode({'secret': secret})}"


# NOWEB keeps messages only with its store on; the app asks for it on every session it creates.
NOWEB_STORE = {"store": {"enabled": True, "fullSync": True}}
# The first WAHA with GET /api/{session}/chats/all/messages and its filter.timestamp (2024.10.8 has neither:
# it reads "all" as a chat id and answers an empty list).
HISTORY_SINCE = (2024, 11)
_VERSION_RE = re.compile(r"^(\d{4})\.(\d{1,2})(?:\.(\d+))?")
_VERSION_TTL_S = 600.0
_versions: dict[str, tuple[float, tuple[int, int] | None]] = {}
_versions_lock = threading.Lock()


def version_tuple(value: Any) -> tuple[int, int] | None:
	m = _VERSION_RE.match(value.strip()) if isinstance(value, str) else None
	return (int(m.group(1)), int(m.group(2))) if m else None


# A key no real gateway uses, to tell whether this one checks keys at all.
WRONG_KEY = "whatsapp-crm-not-a-key"


class WahaClient(GatewayClient):
	gateway_type = "waha"
	label = "WAHA"
	auth_header = "X-Api-Key"
	key_required = False  # Core 2024 checks none; 2025.10.3+ refuses a request without one
	key_needed_message = texts.DOCTOR_WAHA_KEY_NEEDED
	history_newest_first = True  # read_messages pages newest first
	simulated_versions = ("2024.10.8", "2025.10.3", "2026.6.1")
	real_versions = ("2024.10.8",)

	def _describe(self, data: Any) -> tuple[bool, str | None, str | None]:
		return error_words(data)

	def create_session(
		self, session_id: str, *, timeout: float | None = None, webhook: WebhookTarget | None = None
	) -> CreateResult:
		validate_session_id(session_id)
		webhook = webhook or self.webhook
		budget = Budget(timeout, self.timeouts.read)
		# The NOWEB store keeps messages the app can read back after missed webhooks (other engines ignore it).
		config: dict[str, Any] = {"noweb": NOWEB_STORE}
		body: dict[str, Any] = {"name": session_id, "start": True, "config": config}
		if webhook is not None:
			# WAHA Plus signs with the HMAC key and sends custom headers; WAHA Core 2024 ignores both (seen on
			# 2024.10.8), so the secret also rides in the URL, the one thing every version sends back.
			config["webhooks"] = [
				{
					"url": with_query_secret(webhook.url, webhook.secret),
					"events": WEBHOOK_EVENTS,
					"hmac": {"key": webhook.secret},
					"customHeaders": [{"name": "X-Webhook-Secret", "value": webhook.secret}],
				}
			]
		reply = self._send("POST", "/api/sessions", json_body=body, timeout=budget.left())
		if reply.status == 422:
			message = (error_words(reply.data)[2] or "").lower()
			if "only 'default'" in message or "support only" in message:
				raise SessionNotAllowed(
					"this WAHA edition runs only the session named 'default'", **reply.context()
				)
			if "already exists" not in message:
				self._check(reply)  # raises the typed error for any other refusal
				raise BadResponse("the gateway refused to create the session", **reply.context())
			# An existing session keeps its old config (WAHA Core's "default" always exists): update it. A
			# refused update does not stop the link: the QR comes first, the missing settings are said apart.
			config_error = None
			try:
				update = self._send(
					"PUT",
					f"/api/sessions/{self._seg(session_id)}",
					json_body={"config": config},
					timeout=budget.left(),
				)
				self._check(update, not_found=SessionNotFound, want=object)
			except (SessionNotFound, Unauthorized):
				raise
			except GatewayError as e:
				config_error = ConfigNotApplied(
					f"the gateway refused the session's settings ({e.code})", **e.context()
				)
			self._start(session_id, budget.left())
			return CreateResult(
				session_id, created=False, raw_status=None, http_status=422, config_error=config_error
			)
		data = self._check(reply)
		return CreateResult(
			session_id, created=True, raw_status=short(data.get("status")), http_status=reply.status
		)

	def get_status(self, session_id: str, *, timeout: float | None = None) -> SessionState:
		budget = Budget(timeout, self.timeouts.read)
		reply = self._send("GET", f"/api/sessions/{self._seg(session_id)}", timeout=budget.left())
		data = self._check(reply, not_found=SessionNotFound)
		raw = data.get("status") if isinstance(data.get("status"), str) else None
		if raw is None:
			raise BadResponse("the answer holds no session status", **reply.context())
		word = raw.strip().lower()
		kind = STATES.get(word, Kind.WAITING)
		state = SessionState(
			kind=kind,
			raw_status=raw[:64],
			has_qr=kind == Kind.QR,
			http_status=reply.status,
			unknown_status=word not in STATES,
		)
		if kind == Kind.CONNECTED:
			me = data.get("me")
			state.phone = jid_digits(me.get("id") if isinstance(me, dict) else me)
		elif word == "stopped":
			# After a gateway restart: starting it resumes a linked session without a new scan.
			self._start(session_id, budget.left())
		return state

	def get_qr(self, session_id: str, *, timeout: float | None = None) -> QrAnswer:
		reply = self._send(
			"GET", f"/api/{self._seg(session_id)}/auth/qr", params={"format": "raw"}, timeout=timeout
		)
		if reply.status == 200 and reply.content_type == "image/png":
			return QrAnswer(payload=self._png_reply(reply), http_status=200)
		try:
			data = self._check(reply, not_found=SessionNotFound, not_ready=(400, 422))
		except ServerError as e:
			if reply.status == 500 and reply.obj is not None:
				# WAHA's own 500 (not a proxy's page) on the QR route: it failed to make the QR.
				raise QrGenerationError("the gateway failed to generate the QR", **e.context())
			raise
		value = data.get("value")
		if isinstance(value, str) and value.strip():
			return QrAnswer(payload=value.strip(), http_status=reply.status)
		mimetype, b64 = data.get("mimetype"), data.get("data")
		if isinstance(mimetype, str) and isinstance(b64, str) and b64.strip():
			return QrAnswer(payload=f"data:{mimetype.strip()};base64,{b64.strip()}", http_status=reply.status)
		raise QrNotReady("the answer holds no QR", **reply.context())

	def delete_session(self, session_id: str, *, timeout: float | None = None) -> bool:
		seg = self._seg(session_id)
		return self._logout_then_delete(
			("POST", f"/api/sessions/{seg}/logout"), ("DELETE", f"/api/sessions/{seg}"), timeout
		)

	def request_pairing_code(self, session_id: str, phone: str, *, timeout: float | None = None) -> str:
		digits = phone_digits(phone)
		reply = self._send(
			"POST",
			f"/api/{self._seg(session_id)}/auth/request-code",
			json_body={"phoneNumber": digits},
			timeout=timeout,
		)
		data = self._check(reply, not_found=SessionNotFound, not_ready=(422,))
		code = pairing_code_from(data.get("code"))
		if not code:
			raise BadResponse("the answer holds no 8-character pairing code", **reply.context())
		return code

	def health(self, *, timeout: float | None = None) -> Health:
		started = time.monotonic()
		budget = Budget(timeout, self.timeouts.read)
		try:
			reply = self._send("GET", "/api/server/version", timeout=budget.left())
		except (Unreachable, GatewayTimeout) as e:
			return Health(False, None, e.http_status, None, error=e, gateway_type=self.gateway_type)
		latency_ms = int((time.monotonic() - started) * 1000)
		info = reply.obj or {}
		key_accepted, error = key_check(self, budget.left())
		key_checked = True
		if key_accepted:
			try:
				wrong = self._send(
					"GET", "/api/server/version", headers={self.auth_header: WRONG_KEY}, timeout=budget.left()
				)
				key_checked = wrong.status in (401, 403)
			except GatewayError:
				pass
		details = {k: short(info.get(k)) for k in ("engine", "tier") if short(info.get(k))}
		return Health(
			reachable=True,
			key_accepted=key_accepted,
			http_status=reply.status,
			latency_ms=latency_ms,
			name=self.label,
			version=short(info.get("version")),
			status="ok" if reply.status == 200 else None,
			error=error,
			gateway_type=self.gateway_type,
			key_checked=key_checked,
			details=details,
		)

	def send_message(
		self, session_id: str, message: OutgoingMessage, *, timeout: float | None = None
	) -> SendResult:
		validate_session_id(session_id)
		chat_id = f"{message.to}@c.us"
		if message.reaction is not None:
			target = f"{str(message.reply_from_me).lower()}_{chat_id}_{message.reply_to}"
			body = {"session": session_id, "messageId": target, "reaction": message.reaction}
			return self._sent(self._send("PUT", "/api/reaction", json_body=body, timeout=timeout), _sent_id)
		body: dict[str, Any] = {"session": session_id, "chatId": chat_id}
		if message.media is not None:
			media = message.media
			route = "/api/sendFile"
			body["file"] = {"mimetype": media.mimetype, "filename": media.filename, "data": media.b64()}
			if message.text:
				body["caption"] = message.text
		else:
			route, body["text"] = "/api/sendText", message.text
		if message.reply_to:
			# WAHA names a quoted message by its serialized id.
			body["reply_to"] = f"{str(message.reply_from_me).lower()}_{chat_id}_{message.reply_to}"
		reply = self._send("POST", route, json_body=body, timeout=timeout)
		return self._sent(reply, _sent_id)

	def download_media(
		self, session_id: str, message: InboundMessage, *, timeout: float | None = None
	) -> Media:
		ref = message.media
		# Only the path of the URL the event named is used, on the gateway's own address: an event can
		# never make the app fetch from elsewhere.
		path = urlsplit(ref.url).path if ref and ref.url else ""
		if not path.startswith(FILES_PATH) or ".." in path:
			raise BadResponse("the message names no file on the gateway")
		reply = self.http.request("GET", path, timeout=timeout, max_bytes=MAX_MEDIA_BYTES)
		if reply.status >= 300:
			self._check(reply, not_found=SessionNotFound, want=object)
		return checked_media(reply.raw, reply.content_type or ref.mimetype, ref.filename)

	def read_messages(
		self,
		session_id: str,
		*,
		since: int,
		until: int,
		cursor: str | None = None,
		limit: int = 50,
		timeout: float | None = None,
	) -> HistoryPage:
		"""``GET /api/{name}/chats/all/messages`` with ``filter.timestamp`` bounds, ``limit`` and ``offset``.
		NOWEB answers 400 while its store is off; versions before 2024.11 have no such route (see
		HISTORY_SINCE): both raise HistoryUnavailable."""
		budget = Budget(timeout, self.timeouts.read)
		if cursor is None:
			self._check_history_version(budget.left())
		offset = int(cursor) if cursor and cursor.isdigit() else 0
		size = max(1, min(int(limit), 100))
		params = {
			"filter.timestamp.gte": str(max(0, since)),
			"filter.timestamp.lte": str(until),
			"limit": str(
				size + 1
			),  # one more than the page: a full last page costs no empty request after it
			"offset": str(offset),
			# NOWEB sets "media" (the file's URL) only on the messages it downloads: without it a missed file
			# comes back as a message with no file at all (2024.10: hasMedia false; later: media null).
			"downloadMedia": "true",
		}
		reply = self._send(
			"GET", f"/api/{self._seg(session_id)}/chats/all/messages", params=params, timeout=budget.left()
		)
		message = (error_words(reply.data)[2] or "").lower()
		if reply.status == 400 and "store" in message:
			raise HistoryUnavailable(
				"the NOWEB store is off",
				reason="store_off",
				gateway_type=self.gateway_type,
				**reply.context(),
			)
		if reply.status == 404 and message.startswith("cannot get"):
			raise HistoryUnavailable(
				"the gateway has no chats/all/messages route",
				gateway_type=self.gateway_type,
				**reply.context(),
			)
		rows = self._check(reply, not_found=SessionNotFound, want=list)
		more = len(rows) > size
		found, acks, skipped, _oldest = collect_page(rows[:size], _inbound, _row_ack, since, until)
		return HistoryPage(tuple(found), tuple(acks), str(offset + size) if more else None, skipped)

	def history_problem(self, *, timeout: float | None = None) -> str | None:
		try:
			self._check_history_version(Budget(timeout, self.timeouts.read).left())
		except HistoryUnavailable as e:
			return e.reason
		except GatewayError:
			return None  # unreachable now: the reachability check says so
		return None

	def _check_history_version(self, timeout: float) -> None:
		"""HistoryUnavailable for a WAHA older than HISTORY_SINCE (its version is kept a few minutes)."""
		now = time.monotonic()
		with _versions_lock:
			known = _versions.get(self.base_url)
		if known is None or now - known[0] > _VERSION_TTL_S:
			try:
				reply = self._send("GET", "/api/server/version", timeout=timeout)
				version = version_tuple((reply.obj or {}).get("version")) if reply.status == 200 else None
			except (Unreachable, GatewayTimeout):
				raise
			except GatewayError:
				version = None
			known = (now, version)
			with _versions_lock:
				_versions[self.base_url] = known
		if known[1] is not None and known[1] < HISTORY_SINCE:
			raise HistoryUnavailable(
				f"WAHA {known[1][0]}.{known[1][1]} has no message history route",
				reason="route_missing",
				gateway_type=self.gateway_type,
			)

	@classmethod
	def webhook_event(cls, data: dict[str, Any]) -> WebhookEvent | None:
		"""WAHA's event body (``{"id", "timestamp" (ms), "event", "session", "me", "payload": {...}}``), or
		None when the body is not WAHA's. ``session.status`` SCAN_QR_CODE carries no QR: ``needs_qr``."""
		if not isinstance(data.get("session"), str) or not isinstance(data.get("payload"), dict):
			return None
		session_id = session_name(data["session"], "session")
		event_id = (
			data.get("id") if isinstance(data.get("id"), str) and EVENT_ID_RE.match(data["id"]) else None
		)
		stamp = data.get("timestamp")
		timestamp = (
			stamp // 1000 if isinstance(stamp, int) and not isinstance(stamp, bool) and stamp > 0 else None
		)
		common = {
			"session_id": session_id,
			"event_id": event_id,
			"timestamp": timestamp,
			"qr": None,
			"gateway_type": "waha",
		}
		name = str(data.get("event", "")).strip().lower()
		if name in ("message", "message.any"):
			message = _inbound(data["payload"])
			if message is not None:
				return WebhookEvent(kind="message", message=message, status=None, phone=None, **common)
		if name == "message.reaction":
			message = _reaction(data["payload"])
			if message is not None:
				return WebhookEvent(kind="message", message=message, status=None, phone=None, **common)
		if name in ("message.ack", "message.ack.group"):  # 2025+ sends a group's receipts on their own
			ack = _ack(data["payload"])
			if ack is not None:
				return WebhookEvent(kind="ack", ack=ack, status=None, phone=None, **common)
		if name != "session.status":
			return WebhookEvent(kind="ignored", status=None, phone=None, **common)
		raw = bounded(data["payload"].get("status"), "status", MAX_STATUS_CHARS)
		if raw is None:
			raise WebhookRejected("MALFORMED", "a session.status event without a status")
		kind = STATES.get(raw.lower(), Kind.WAITING)
		phone = None
		if kind == Kind.CONNECTED:
			me = data.get("me") if isinstance(data.get("me"), dict) else data["payload"].get("me")
			phone = jid_digits(bounded(me.get("id"), "me.id", 64)) if isinstance(me, dict) else None
		return WebhookEvent(
			kind="connection",
			status=raw,
			phone=phone,
			state_kind=kind,
			needs_qr=kind == Kind.QR,
			**common,
		)

	def mark_read(
		self, session_id: str, chat: str, message_ids: Sequence[str], *, timeout: float | None = None
	) -> None:
		validate_session_id(session_id)
		chat_id = f"{checked_chat(chat)}@c.us"
		ids = checked_read_ids(message_ids)
		budget = Budget(timeout, self.timeouts.read)
		for done, mid in enumerate(ids):
			out_of_time(budget, done, len(ids))
			body = {"session": session_id, "chatId": chat_id, "messageId": f"false_{chat_id}_{mid}"}
			self._paced_waha("POST", "/api/sendSeen", "mark messages read", budget.left(), json_body=body)

	def start_typing(self, session_id: str, chat: str, *, timeout: float | None = None) -> None:
		self._typing(session_id, chat, "/api/startTyping", timeout)

	def stop_typing(self, session_id: str, chat: str, *, timeout: float | None = None) -> None:
		self._typing(session_id, chat, "/api/stopTyping", timeout)

	def check_numbers(
		self, session_id: str, numbers: Sequence[str], *, timeout: float | None = None
	) -> dict[str, NumberCheck]:
		validate_session_id(session_id)
		wanted = checked_numbers(numbers)
		budget = Budget(timeout, self.timeouts.read)
		found: dict[str, NumberCheck] = {}
		for done, number in enumerate(wanted):
			out_of_time(budget, done, len(wanted))
			reply = self._send(
				"GET",
				"/api/contacts/check-exists",
				params={"phone": number, "session": session_id},
				timeout=budget.left(),
			)
			data = self._waha_answer(reply, "check numbers", want=dict)
			row = {"number": number, "exists": data.get("numberExists") is True, "jid": data.get("chatId")}
			found |= number_checks(reply, [number], [row], lambda r: (r["number"], r["exists"], r["jid"]))
		return found

	def _typing(self, session_id: str, chat: str, route: str, timeout: float | None) -> None:
		validate_session_id(session_id)
		body = {"session": session_id, "chatId": f"{checked_chat(chat)}@c.us"}
		self._paced_waha("POST", route, "show typing", timeout, json_body=body)

	def _paced_waha(self, method: str, path: str, what: str, timeout: float | None, **kwargs: Any) -> Any:
		return self._waha_answer(self._send(method, path, timeout=timeout, **kwargs), what)

	def _waha_answer(self, reply: Reply, what: str, *, want: type = object) -> Any:
		"""A pacing answer; Core's "only 'default'" 422 is SessionNotAllowed here too."""
		if reply.status == 422:
			message = (error_words(reply.data)[2] or "").lower()
			if "only 'default'" in message or "support only" in message:
				raise SessionNotAllowed(
					"this WAHA edition runs only the session named 'default'", **reply.context()
				)
		return self._paced_reply(reply, what, want=want)

	def _start(self, session_id: str, timeout: float) -> None:
		reply = self._send("POST", f"/api/sessions/{self._seg(session_id)}/start", timeout=timeout)
		if reply.status == 422:
			return  # already started
		self._check(reply, not_found=SessionNotFound, want=object)


def _sent_id(data: dict[str, Any]) -> Any:
	"""NOWEB answers Baileys' message (``key.id``); WEBJS its own (``id._serialized``)."""
	key, ident = data.get("key"), data.get("id")
	if isinstance(key, dict):
		return key.get("id")
	return ident.get("_serialized") if isinstance(ident, dict) else ident


def _inbound(payload: dict[str, Any]) -> InboundMessage | None:
	from_me = payload.get("fromMe") is True
	raw = payload.get("_data") if isinstance(payload.get("_data"), dict) else {}
	key = raw.get("key") if isinstance(raw.get("key"), dict) else {}
	# The chat: NOWEB's raw key names it; "from" is the chat on NOWEB 2024 even for our own messages,
	# while other engines put our own number there and the chat in "to".
	jid = key.get("remoteJid") or (
		payload.get("to") if from_me and payload.get("to") else payload.get("from")
	)
	mid = message_id(payload.get("id"))
	if mid is None or not is_person(jid) or is_person(payload.get("participant")):
		return None  # a group message names its author as participant
	chat, lid = chat_of(jid, key.get("remoteJidAlt"), key.get("senderPn"))
	media = None
	found = payload.get("media") if isinstance(payload.get("media"), dict) else None
	if payload.get("hasMedia") is True and found is not None:
		mimetype = clean_mimetype(found.get("mimetype"))
		url = found.get("url") if isinstance(found.get("url"), str) else None
		media = MediaRef(mimetype, safe_filename(found.get("filename"), mimetype), None, url=url)
	reply_to = payload.get("replyTo")
	return InboundMessage(
		id=mid,
		chat=chat,
		from_me=from_me,
		text=text_of(payload.get("body")),
		media=media,
		reply_to=message_id(reply_to.get("id")) if isinstance(reply_to, dict) else None,
		timestamp=int_of(payload.get("timestamp")),
		push_name=None if from_me else name_of(raw.get("pushName") or raw.get("notifyName")),
		lid=lid,
	)


def _reaction(payload: dict[str, Any]) -> InboundMessage | None:
	"""``message.reaction``: ``{"id", "from", "fromMe", "reaction": {"text", "messageId"}}``."""
	reaction = payload.get("reaction") if isinstance(payload.get("reaction"), dict) else {}
	from_me = payload.get("fromMe") is True
	jid = payload.get("to") if from_me and payload.get("to") else payload.get("from")
	mid, target = message_id(payload.get("id")), message_id(reaction.get("messageId"))
	emoji = reaction_of(reaction.get("text"))
	if (
		mid is None
		or target is None
		or emoji is None
		or not is_person(jid)
		or is_person(payload.get("participant"))
	):
		return None
	chat, lid = chat_of(jid)
	return InboundMessage(
		id=mid,
		chat=chat,
		from_me=from_me,
		text=None,
		media=None,
		reply_to=target,
		timestamp=int_of(payload.get("timestamp")),
		push_name=None,
		lid=lid,
		reaction=emoji,
	)


def _ack(payload: dict[str, Any]) -> Ack | None:
	mid = message_id(payload.get("id"))
	ack = payload.get("ack")
	status = ACKS.get(ack) if isinstance(ack, int) and not isinstance(ack, bool) else None
	if mid is None or status is None:
		return None
	jid = payload.get("to") or payload.get("from")
	return Ack(mid, status, chat_of(jid)[0])


def _row_ack(row: dict[str, Any], message: InboundMessage) -> Ack | None:
	ack = _ack(row)
	return Ack(message.id, ack.status, message.chat) if ack is not None else None
