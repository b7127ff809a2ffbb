"""The Baileys REST contract (see docs/gateways.md, 'The Baileys REST contract'): the default gateway type.

Auth ``X-API-Key``. ``POST /api/sessions`` (409 = exists), ``GET /api/sessions/{id}/status`` (404 = unknown),
``GET /api/sessions/{id}/qr`` (400/404/422 = not ready; 500 ``QR_GENERATION_ERROR``), ``DELETE``,
``POST /api/sessions/{id}/pairing-code`` and ``GET /api/health``. Status words are read tolerantly
(see docs/gateways.md, 'Reading gateway answers').

Messages (docs/gateways.md, 'Messaging extension'): ``POST /api/sessions/{id}/messages``
``{"to", "text"}`` or ``{"to", "media": {"data", "mimetype", "filename"}, "caption"}`` (optional ``replyTo``)
answers ``{"messageId"}``; 409 ``NOT_CONNECTED``, 400 ``NOT_ON_WHATSAPP``; the file of an inbound message is
``GET /api/sessions/{id}/messages/{messageId}/media``; webhook events ``message`` and ``ack``.

Pacing (docs/gateways.md, 'Pacing calls per gateway'): ``POST /api/sessions/{id}/read`` ``{"jid",
"messageIds"}``, ``POST /api/sessions/{id}/presence`` ``{"jid", "presence": "composing"|"paused"}`` and
``POST /api/sessions/{id}/check-numbers`` ``{"numbers"}`` (``{"results": [{"number", "exists", "jid"}]}``);
409 ``NOT_CONNECTED`` as a send. A gateway from before them answers 404/405 without SESSION_NOT_FOUND:
NotSupported.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from .. import errors
from ..client import (
	PROBE_SESSION,
	CreateResult,
	GatewayClient,
	Health,
	QrAnswer,
	WebhookTarget,
	number_checks,
	pairing_code_from,
	short,
	validate_session_id,
)
from ..errors import (
	BadResponse,
	GatewayError,
	GatewayTimeout,
	HistoryUnavailable,
	InvalidPhone,
	QrNotReady,
	SessionNotFound,
	Unauthorized,
	Unreachable,
)
from ..messaging import (
	COMPOSING,
	FAILED,
	MAX_MEDIA_BYTES,
	PAUSED,
	READ,
	Ack,
	HistoryPage,
	InboundMessage,
	Media,
	MediaRef,
	NumberCheck,
	OutgoingMessage,
	SendResult,
	checked_chat,
	checked_media,
	checked_numbers,
	checked_read_ids,
	clean_mimetype,
	collect_page,
	int_of,
	message_id,
	name_of,
	phone_of,
	reaction_of,
	safe_filename,
	text_of,
)
from ..phones import phone_digits
from ..status import SessionState, extract_qr, parse_status
from ..transport import Reply
from ..webhook import EVENT_ID_RE, WebhookEvent, WebhookRejected, session_name

ACK_WORDS = {"sent": "sent", "delivered": "delivered", "read": READ, "played": READ, "failed": FAILED}


class BaileysClient(GatewayClient):
	gateway_type = "baileys"
	label = "Baileys REST"
	auth_header = "X-API-Key"

	def create_session(
		self, session_id: str, *, timeout: float | None = None, webhook: WebhookTarget | None = None
	) -> CreateResult:
		# The contract has no webhook registration: the gateway's own config points at the app.
		validate_session_id(session_id)
		reply = self._send("POST", "/api/sessions", json_body={"sessionId": session_id}, timeout=timeout)
		if reply.status == 409:
			return CreateResult(session_id, created=False, raw_status=None, http_status=409)
		body = self._check(reply)
		state = parse_status(body, reply.status)
		return CreateResult(session_id, created=True, raw_status=state.raw_status, http_status=reply.status)

	def get_status(self, session_id: str, *, timeout: float | None = None) -> SessionState:
		reply = self._send("GET", f"/api/sessions/{self._seg(session_id)}/status", timeout=timeout)
		return parse_status(self._check(reply, not_found=SessionNotFound), reply.status)

	def get_qr(self, session_id: str, *, timeout: float | None = None) -> QrAnswer:
		reply = self._send("GET", f"/api/sessions/{self._seg(session_id)}/qr", timeout=timeout)
		body = self._check(reply, not_found=QrNotReady, not_ready=(400, 404, 422))
		payload = extract_qr(body)
		if not payload:
			raise QrNotReady("the answer holds no QR", **reply.context())
		return QrAnswer(payload=payload, http_status=reply.status)

	def delete_session(self, session_id: str, *, timeout: float | None = None) -> bool:
		reply = self._send("DELETE", f"/api/sessions/{self._seg(session_id)}", timeout=timeout)
		try:
			self._check(reply, not_found=SessionNotFound)
		except SessionNotFound:
			return False
		return True

	def request_pairing_code(self, session_id: str, phone: str, *, timeout: float | None = None) -> str:
		path = f"/api/sessions/{self._seg(session_id)}/pairing-code"
		digits = phone_digits(phone)
		reply = self._send("POST", path, json_body={"phoneNumber": digits}, timeout=timeout)
		try:
			body = self._check(reply, not_found=SessionNotFound)
		except BadResponse as e:
			if (e.server_error or "").upper() == errors.INVALID_PHONE:
				# The gateway's own rules are stricter: still the user's input, not a broken gateway.
				raise InvalidPhone("the gateway refused the phone number", **e.context())
			raise
		for key in ("code", "pairingCode", "pairing_code"):
			code = pairing_code_from(body.get(key))
			if code:
				return code
		raise BadResponse("the answer holds no 8-character pairing code", **reply.context())

	def health(self, *, timeout: float | None = None) -> Health:
		"""``GET /api/health``, then a key check: the status of a session that cannot exist answers 404 with
		an accepted key and 401/403 without. No session is created."""
		started = time.monotonic()
		info: dict = {}
		http_status = None
		try:
			reply = self._send("GET", "/api/health", timeout=timeout)
			http_status = reply.status
			info = self._check(reply)
		except (Unreachable, GatewayTimeout) as e:
			return Health(False, None, e.http_status, None, error=e, gateway_type=self.gateway_type)
		except GatewayError:
			pass  # reachable, but no health route: the key check still tells a lot
		latency_ms = int((time.monotonic() - started) * 1000)
		key_accepted, error = key_check(self, timeout)
		return Health(
			reachable=True,
			key_accepted=key_accepted,
			http_status=http_status,
			latency_ms=latency_ms,
			name=short(info.get("name")) or self.label,
			version=short(info.get("version")),
			status=short(info.get("status")),
			error=error,
			gateway_type=self.gateway_type,
		)

	def send_message(
		self, session_id: str, message: OutgoingMessage, *, timeout: float | None = None
	) -> SendResult:
		body: dict[str, Any] = {"to": message.to}
		if message.reaction is not None:
			body["reaction"] = {"messageId": message.reply_to, "emoji": message.reaction}
		elif message.media is not None:
			media = message.media
			body["media"] = {"data": media.b64(), "mimetype": media.mimetype, "filename": media.filename}
			if message.text:
				body["caption"] = message.text
		else:
			body["text"] = message.text
		if message.reply_to and message.reaction is None:
			body["replyTo"] = message.reply_to
		reply = self._send(
			"POST", f"/api/sessions/{self._seg(session_id)}/messages", json_body=body, timeout=timeout
		)
		return self._sent(reply, lambda data: data.get("messageId"))

	def download_media(
		self, session_id: str, message: InboundMessage, *, timeout: float | None = None
	) -> Media:
		path = f"/api/sessions/{self._seg(session_id)}/messages/{quote(message.id, safe='')}/media"
		reply = self.http.request("GET", path, timeout=timeout, max_bytes=MAX_MEDIA_BYTES)
		if reply.status >= 300 or not reply.raw:
			self._check(reply, not_found=SessionNotFound, want=object)
			raise BadResponse("the gateway sent no file", **reply.context())
		ref = message.media
		return checked_media(
			reply.raw,
			reply.content_type or (ref.mimetype if ref else None),
			_disposition_name(reply.disposition) or (ref.filename if ref else None),
		)

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
		"""The contract's ``GET /api/sessions/{id}/messages?since&until&limit&cursor``: oldest first, the
		webhook's message objects (with ``status`` on our own), ``nextCursor`` until the last page. A gateway
		from before this route answers 404/405 without SESSION_NOT_FOUND: HistoryUnavailable."""
		params = {
			"since": str(max(0, since)),
			"until": str(until),
			"limit": str(max(1, min(int(limit), 100))),
		}
		if cursor:
			params["cursor"] = cursor
		reply = self._send(
			"GET", f"/api/sessions/{self._seg(session_id)}/messages", params=params, timeout=timeout
		)
		word = str((reply.obj or {}).get("error") or "").upper()
		if reply.status in (404, 405) and word != errors.SESSION_NOT_FOUND:
			raise HistoryUnavailable(
				"the gateway has no message history route", gateway_type=self.gateway_type, **reply.context()
			)
		data = self._check(reply, not_found=SessionNotFound)
		rows = data.get("messages")
		if not isinstance(rows, list):
			raise BadResponse("the answer holds no messages array", **reply.context())
		found, acks, skipped, _oldest = collect_page(rows, _message, _row_ack, since, until)
		next_cursor = data.get("nextCursor")
		if next_cursor is not None and (not isinstance(next_cursor, str) or not 0 < len(next_cursor) <= 256):
			raise BadResponse("the answer's nextCursor is not a short string", **reply.context())
		return HistoryPage(tuple(found), tuple(acks), next_cursor if rows else None, skipped)

	def mark_read(
		self, session_id: str, chat: str, message_ids: Sequence[str], *, timeout: float | None = None
	) -> None:
		body = {"jid": _jid(checked_chat(chat)), "messageIds": checked_read_ids(message_ids)}
		path = f"/api/sessions/{self._seg(session_id)}/read"
		self._paced("POST", path, "mark messages read", json_body=body, timeout=timeout)

	def start_typing(self, session_id: str, chat: str, *, timeout: float | None = None) -> None:
		self._presence(session_id, chat, COMPOSING, timeout)

	def stop_typing(self, session_id: str, chat: str, *, timeout: float | None = None) -> None:
		self._presence(session_id, chat, PAUSED, timeout)

	def check_numbers(
		self, session_id: str, numbers: Sequence[str], *, timeout: float | None = None
	) -> dict[str, NumberCheck]:
		wanted = checked_numbers(numbers)
		path = f"/api/sessions/{self._seg(session_id)}/check-numbers"
		if not wanted:
			return {}
		reply = self._send("POST", path, json_body={"numbers": wanted}, timeout=timeout)
		data = self._paced_reply(reply, "check numbers", want=dict)
		return number_checks(
			reply,
			wanted,
			data.get("results"),
			lambda row: (row.get("number"), row.get("exists") is True, row.get("jid")),
		)

	def _presence(self, session_id: str, chat: str, presence: str, timeout: float | None) -> None:
		body = {"jid": _jid(checked_chat(chat)), "presence": presence}
		path = f"/api/sessions/{self._seg(session_id)}/presence"
		self._paced("POST", path, "show typing", json_body=body, timeout=timeout)

	def _route_missing(self, reply: Reply) -> bool:
		# As read_messages: a gateway from before the route answers 404/405 without SESSION_NOT_FOUND.
		word = str((reply.obj or {}).get("error") or "").upper()
		return reply.status in (404, 405) and word != errors.SESSION_NOT_FOUND

	@classmethod
	def webhook_event(cls, data: dict[str, Any]) -> WebhookEvent | None:
		"""The contract's ``message`` and ``ack`` events (the session events are read by webhook.parse_data)."""
		name = str(data.get("event", "")).strip().lower()
		if name not in ("message", "ack") or "sessionId" not in data:
			return None
		session_id = session_name(data.get("sessionId"), "sessionId")
		event_id = (
			data.get("id") if isinstance(data.get("id"), str) and EVENT_ID_RE.match(data["id"]) else None
		)
		common = {"session_id": session_id, "event_id": event_id, "timestamp": int_of(data.get("timestamp"))}
		common |= {"qr": None, "status": None, "phone": None, "gateway_type": "baileys"}
		if name == "ack":
			ack = data.get("ack") if isinstance(data.get("ack"), dict) else {}
			mid, word = message_id(ack.get("messageId")), ACK_WORDS.get(str(ack.get("status", "")).lower())
			if mid is None or word is None:
				raise WebhookRejected("MALFORMED", "an ack event needs a messageId and a known status")
			return WebhookEvent(kind="ack", ack=Ack(mid, word, phone_of(ack.get("chat"))), **common)
		msg = data.get("message") if isinstance(data.get("message"), dict) else {}
		message = _message(msg, common["timestamp"])
		if message is None:
			raise WebhookRejected("MALFORMED", "a message event needs a message id")
		return WebhookEvent(kind="message", message=message, **common)


def _jid(digits: str) -> str:
	return f"{digits}@s.whatsapp.net"


def _message(msg: dict[str, Any], fallback_ts: int | None = None) -> InboundMessage | None:
	"""The contract's message object (a ``message`` event's, or one of the read-back route's)."""
	mid = message_id(msg.get("id"))
	if mid is None:
		return None
	media = msg.get("media") if isinstance(msg.get("media"), dict) else None
	reaction = msg.get("reaction") if isinstance(msg.get("reaction"), dict) else {}
	lid = msg.get("lid") if isinstance(msg.get("lid"), str) and msg["lid"].isdigit() else None
	from_me = msg.get("fromMe") is True
	return InboundMessage(
		id=mid,
		chat=phone_of(msg.get("chat")),
		from_me=from_me,
		text=text_of(msg.get("text")) or (text_of(media.get("caption")) if media else None),
		media=_media_ref(media) if media else None,
		reply_to=message_id(reaction.get("messageId") or msg.get("replyTo")),
		timestamp=int_of(msg.get("timestamp")) or fallback_ts,
		push_name=None if from_me else name_of(msg.get("pushName")),
		lid=lid[:32] if lid else None,
		reaction=reaction_of(reaction.get("emoji")) if reaction else None,
	)


def _media_ref(media: dict[str, Any]) -> MediaRef:
	mimetype = clean_mimetype(media.get("mimetype"))
	return MediaRef(mimetype, safe_filename(media.get("filename"), mimetype), int_of(media.get("size")))


def _disposition_name(value: str | None) -> str | None:
	if not value or "filename=" not in value:
		return None
	return value.split("filename=", 1)[1].split(";", 1)[0].strip().strip('"') or None


def key_check(client: GatewayClient, timeout: float | None) -> tuple[bool | None, GatewayError | None]:
	"""Whether the gateway accepts the key: the status of a session that cannot exist."""
	try:
		client.get_status(PROBE_SESSION, timeout=timeout)
		return True, None
	except SessionNotFound:
		return True, None
	except Unauthorized as e:
		return False, e
	except GatewayError as e:
		return None, e


def _row_ack(row: dict[str, Any], message: InboundMessage) -> Ack | None:
	status = ACK_WORDS.get(str(row.get("status", "")).lower())
	return Ack(message.id, status, message.chat) if status else None
