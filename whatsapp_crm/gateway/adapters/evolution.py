"""Evolution API v2 (Baileys inside): instances instead of sessions.

Auth ``apikey``. Create ``POST /instance/create`` (a name in use answers 403, which is success here; the real
server takes 5-7 s); state ``GET /instance/connectionState/{name}`` (``open|connecting|close|refused``, no QR
flag); QR ``GET /instance/connect/{name}`` (``{"count": 0}`` = not ready; ``code`` raw, ``base64`` PNG); phone
``GET /instance/fetchInstances?instanceName=``; ``DELETE /instance/logout/{name}`` then
``DELETE /instance/delete/{name}``; ``GET /`` describes the server. Errors are
``{"status", "error", "response": {"message": [...]}}``, or HTTP 200 ``{"error": true, "message"}``; 2.4 answers
every business route 503 ``{"code": "LICENSE_REQUIRED"}`` until it is activated (LicenseRequired, final).

Messages: ``POST /message/sendText/{name}`` ``{"number", "text"}`` and ``/message/sendMedia/{name}`` (base64)
answer the stored message (``key.id``); a file of an inbound message comes from
``POST /chat/getBase64FromMediaMessage/{name}``. Events ``messages.upsert`` (received, or typed on the phone)
and ``messages.update`` (acks: ``SERVER_ACK``, ``DELIVERY_ACK``, ``READ``, ``PLAYED``, ``ERROR``).

Pacing (docs/gateways.md, 'Pacing calls per gateway'): ``POST /chat/markMessageAsRead/{name}``
``{"readMessages": [{"remoteJid", "fromMe": false, "id"}]}``; ``POST /chat/sendPresence/{name}``
``{"number", "presence", "delay"}``, which checks the number, sends the presence, waits ``delay`` ms before it
answers and then always sends ``paused`` (so "typing..." lasts ``delay``: TYPING_MS, within the caller's time);
``POST /chat/whatsappNumbers/{name}`` ``{"numbers"}`` answers ``[{"jid", "exists", "number"}]`` (repeats are
refused, so none are sent). With no phone linked they fail with Baileys' ``Connection Closed`` (a 500, a 400,
and a Boom body): NotConnected. An unknown route is Express' 404 ``Cannot POST ...``: NotSupported.

While linking, Evolution reports ``close`` every few seconds as it reconnects to WhatsApp: that is waiting,
not the end. Only ``refused`` (the QR limit was reached) ends the wait.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from ..client import (
	PROBE_SESSION,
	Budget,
	CreateResult,
	GatewayClient,
	Health,
	QrAnswer,
	WebhookTarget,
	error_words,
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
	LicenseRequired,
	NotOnWhatsApp,
	QrGenerationError,
	QrNotReady,
	SessionNotFound,
	Unauthorized,
	Unreachable,
)
from ..messaging import (
	COMPOSING,
	DELIVERED,
	FAILED,
	MAX_MEDIA_BYTES,
	PAUSED,
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
	best_ack,
	chat_of,
	checked_chat,
	checked_numbers,
	checked_read_ids,
	clean_mimetype,
	collect_page,
	int_of,
	is_person,
	media_from_base64,
	message_id,
	name_of,
	reaction_of,
	safe_filename,
	text_of,
)
from ..phones import jid_digits, phone_digits
from ..status import Kind, SessionState
from ..transport import Reply
from ..webhook import MAX_QR_CHARS, MAX_STATUS_CHARS, WebhookEvent, WebhookRejected, bounded, session_name

STATES = {
	"open": Kind.CONNECTED,
	"connecting": Kind.WAITING,
	"close": Kind.WAITING,  # reconnecting while linking (see the module doc)
	"refused": Kind.ENDED,
}
WEBHOOK_EVENTS = [
	"QRCODE_UPDATED",
	"CONNECTION_UPDATE",
	"LOGOUT_INSTANCE",
	"MESSAGES_UPSERT",
	"MESSAGES_UPDATE",
	"SEND_MESSAGE",
]
ACKS = {"SERVER_ACK": SENT, "DELIVERY_ACK": DELIVERED, "READ": READ, "PLAYED": READ, "ERROR": FAILED}
# How long sendPresence shows "typing...": the server answers only after it (then sends "paused" itself).
TYPING_MS = 1000
MEDIA_TYPES = (
	"imageMessage",
	"videoMessage",
	"audioMessage",
	"documentMessage",
	"stickerMessage",
	"ptvMessage",
)


class EvolutionClient(GatewayClient):
	gateway_type = "evolution"
	label = "Evolution API"
	auth_header = "apikey"
	history_newest_first = True  # read_messages pages newest first
	simulated_versions = ("2.3.6", "2.3.7", "2.4.0")
	real_versions = ("2.3.6",)

	def _describe(self, data: Any) -> tuple[bool, str | None, str | None]:
		failed, word, message = error_words(data)
		if word is None and message is None and isinstance(data, dict) and data.get("isBoom") is True:
			# A Baileys Boom thrown through a route's own catch (whatsappNumbers with no phone linked):
			# {"isBoom": true, "output": {"payload": {"error", "message": "Connection Closed"}}}
			output = data.get("output") if isinstance(data.get("output"), dict) else {}
			payload = output.get("payload") if isinstance(output.get("payload"), dict) else {}
			return True, short(payload.get("error")), short(payload.get("message"))
		return failed, word, message

	def _check(self, reply: Reply, **kwargs: Any) -> Any:
		# 2.4 before activation: a 503 that no retry will change.
		if reply.status == 503 and (reply.obj or {}).get("code") == LicenseRequired.code:
			raise LicenseRequired("the Evolution API server is not activated", **reply.context())
		return super()._check(reply, **kwargs)

	def create_session(
		self, session_id: str, *, timeout: float | None = None, webhook: WebhookTarget | None = None
	) -> CreateResult:
		validate_session_id(session_id)
		webhook = webhook or self.webhook
		body: dict[str, Any] = {"instanceName": session_id, "qrcode": True, "integration": "WHATSAPP-BAILEYS"}
		if webhook is not None:
			# Evolution cannot sign: it sends the secret back as a header we configure here.
			body["webhook"] = {
				"url": webhook.url,
				"byEvents": False,
				"base64": False,
				"headers": {"X-Webhook-Secret": webhook.secret},
				"events": WEBHOOK_EVENTS,
			}
		reply = self._send("POST", "/instance/create", json_body=body, timeout=timeout)
		_failed, _word, message = error_words(reply.data)
		if reply.status == 403 and "already in use" in (message or "").lower():
			return CreateResult(session_id, created=False, raw_status=None, http_status=403)
		data = self._check(reply)
		instance = data.get("instance") if isinstance(data.get("instance"), dict) else {}
		return CreateResult(
			session_id, created=True, raw_status=short(instance.get("status")), http_status=reply.status
		)

	def get_status(self, session_id: str, *, timeout: float | None = None) -> SessionState:
		budget = Budget(timeout, self.timeouts.read)
		reply = self._send("GET", f"/instance/connectionState/{self._seg(session_id)}", timeout=budget.left())
		data = self._check(reply, not_found=SessionNotFound)
		instance = data.get("instance") if isinstance(data.get("instance"), dict) else data
		raw = instance.get("state") if isinstance(instance.get("state"), str) else None
		if raw is None:
			raise BadResponse("the answer holds no instance state", **reply.context())
		word = raw.strip().lower()
		kind = STATES.get(word, Kind.WAITING)
		state = SessionState(
			kind=kind, raw_status=raw[:64], http_status=reply.status, unknown_status=word not in STATES
		)
		if kind == Kind.CONNECTED:
			state.phone = self._phone(session_id, budget.left())
		elif kind == Kind.WAITING:
			# The state has no QR flag: the connect route is where the QR is, when there is one.
			try:
				state.qr = self.get_qr(session_id, timeout=budget.left()).payload
				state.kind, state.has_qr = Kind.QR, True
			except QrNotReady:
				pass
		return state

	def get_qr(self, session_id: str, *, timeout: float | None = None) -> QrAnswer:
		reply = self._send("GET", f"/instance/connect/{self._seg(session_id)}", timeout=timeout)
		data = self._connect_answer(reply)
		for key in ("code", "base64"):  # the raw payload first: drawn crisp, and stable for rotation checks
			value = data.get(key)
			if isinstance(value, str) and value.strip():
				return QrAnswer(payload=value.strip(), http_status=reply.status)
		raise QrNotReady("the gateway has no QR yet", **reply.context())

	def delete_session(self, session_id: str, *, timeout: float | None = None) -> bool:
		seg = self._seg(session_id)
		return self._logout_then_delete(
			("DELETE", f"/instance/logout/{seg}"), ("DELETE", f"/instance/delete/{seg}"), timeout
		)

	def request_pairing_code(self, session_id: str, phone: str, *, timeout: float | None = None) -> str:
		digits = phone_digits(phone)
		reply = self._send(
			"GET", f"/instance/connect/{self._seg(session_id)}", params={"number": digits}, timeout=timeout
		)
		code = pairing_code_from(self._connect_answer(reply).get("pairingCode"))
		if not code:
			raise QrNotReady("the gateway has no pairing code yet", **reply.context())
		return code

	def health(self, *, timeout: float | None = None) -> Health:
		started = time.monotonic()
		try:
			reply = self._send("GET", "/", timeout=timeout)
		except (Unreachable, GatewayTimeout) as e:
			return Health(False, None, e.http_status, None, error=e, gateway_type=self.gateway_type)
		latency_ms = int((time.monotonic() - started) * 1000)
		info = reply.obj or {}
		key_accepted, error = self._key_check(timeout)
		welcome = str(info.get("message") or "")
		return Health(
			reachable=True,
			key_accepted=key_accepted,
			http_status=reply.status,
			latency_ms=latency_ms,
			name=self.label if "evolution" in welcome.lower() else short(info.get("clientName")),
			version=short(info.get("version")),
			status="ok" if reply.status == 200 else None,
			error=error,
			gateway_type=self.gateway_type,
		)

	def send_message(
		self, session_id: str, message: OutgoingMessage, *, timeout: float | None = None
	) -> SendResult:
		seg = self._seg(session_id)
		if message.reaction is not None:
			key = {
				"remoteJid": f"{message.to}@s.whatsapp.net",
				"fromMe": message.reply_from_me,
				"id": message.reply_to,
			}
			reply = self._send(
				"POST",
				f"/message/sendReaction/{seg}",
				json_body={"key": key, "reaction": message.reaction},
				timeout=timeout,
			)
			return self._sent(reply, _key_id)
		body: dict[str, Any] = {"number": message.to}
		if message.media is not None:
			media = message.media
			route = f"/message/sendMedia/{seg}"
			body |= {
				"mediatype": media.kind,
				"mimetype": media.mimetype,
				"media": media.b64(),
				"fileName": media.filename,
				"caption": message.text or "",
			}
		else:
			route = f"/message/sendText/{seg}"
			body["text"] = message.text
		if message.reply_to:
			body["quoted"] = {"key": {"id": message.reply_to}}
		reply = self._send("POST", route, json_body=body, timeout=timeout)
		return self._sent(reply, _key_id)

	def download_media(
		self, session_id: str, message: InboundMessage, *, timeout: float | None = None
	) -> Media:
		body = {"message": {"key": {"id": message.id}}, "convertToMp4": False}
		reply = self.http.request(
			"POST",
			f"/chat/getBase64FromMediaMessage/{self._seg(session_id)}",
			json_body=body,
			timeout=timeout,
			max_bytes=MAX_MEDIA_BYTES * 4 // 3 + 64 * 1024,
		)
		data = self._check(reply, not_found=SessionNotFound)
		ref = message.media
		return media_from_base64(
			data.get("base64"),
			data.get("mimetype") or (ref.mimetype if ref else None),
			data.get("fileName") or (ref.filename if ref else None),
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
		"""``POST /chat/findMessages/{name}``: newest first, ``offset`` records a page. Evolution reads the
		bounds with ``new Date()`` (so they go as ISO times) and drops the filter unless both are set."""
		page = _page_of(cursor)
		size = max(1, min(int(limit), 100))
		window = {"gte": _iso(max(1, since)), "lte": _iso(until)}
		body = {"where": {"messageTimestamp": window}, "page": page, "offset": size}
		reply = self._send(
			"POST", f"/chat/findMessages/{self._seg(session_id)}", json_body=body, timeout=timeout
		)
		if reply.status == 404 and "findmessages" in (reply.excerpt or "").lower():
			raise HistoryUnavailable(
				"the gateway has no findMessages route", gateway_type=self.gateway_type, **reply.context()
			)
		data = self._check(reply, not_found=SessionNotFound)
		block = data.get("messages") if isinstance(data.get("messages"), dict) else {}
		records = block.get("records")
		if not isinstance(records, list):
			raise BadResponse("the answer holds no message records", **reply.context())
		found, acks, skipped, oldest = collect_page(records, _inbound, _record_ack, since, until)
		# Newest first: a record older than the window means the rest is older still (or the filter was ignored).
		older = oldest is not None and oldest < since
		pages = int_of(block.get("pages")) or 0
		more = not older and len(records) >= size and (not pages or page < pages)
		return HistoryPage(tuple(found), tuple(acks), str(page + 1) if more else None, skipped)

	def mark_read(
		self, session_id: str, chat: str, message_ids: Sequence[str], *, timeout: float | None = None
	) -> None:
		jid = f"{checked_chat(chat)}@s.whatsapp.net"
		keys = [{"remoteJid": jid, "fromMe": False, "id": mid} for mid in checked_read_ids(message_ids)]
		path = f"/chat/markMessageAsRead/{self._seg(session_id)}"
		self._paced("POST", path, "mark messages read", json_body={"readMessages": keys}, timeout=timeout)

	def start_typing(self, session_id: str, chat: str, *, timeout: float | None = None) -> None:
		self._presence(session_id, chat, COMPOSING, timeout)

	def stop_typing(self, session_id: str, chat: str, *, timeout: float | None = None) -> None:
		self._presence(session_id, chat, PAUSED, timeout)

	def check_numbers(
		self, session_id: str, numbers: Sequence[str], *, timeout: float | None = None
	) -> dict[str, NumberCheck]:
		wanted = checked_numbers(numbers)
		path = f"/chat/whatsappNumbers/{self._seg(session_id)}"
		if not wanted:
			return {}
		reply = self._send("POST", path, json_body={"numbers": wanted}, timeout=timeout)
		rows = self._paced_reply(reply, "check numbers", want=list)
		return number_checks(
			reply, wanted, rows, lambda row: (row.get("number"), row.get("exists") is True, row.get("jid"))
		)

	def _presence(self, session_id: str, chat: str, presence: str, timeout: float | None) -> None:
		"""sendPresence waits ``delay`` before it answers: composing lasts TYPING_MS, or less when the caller's
		time is shorter (a second is kept for the answer); paused waits nothing."""
		number = checked_chat(chat)
		path = f"/chat/sendPresence/{self._seg(session_id)}"
		room = min(self.timeouts.read, self.timeouts.read if timeout is None else timeout) - 1.0
		delay = max(0, min(TYPING_MS, int(room * 1000))) if presence == COMPOSING else 0
		body = {"number": number, "presence": presence, "delay": delay}
		try:
			self._paced("POST", path, "show typing", json_body=body, timeout=timeout)
		except GatewayError as e:
			# Its number check throws an object that its own catch words "[object Object]" (a 400): the only
			# thing sendPresence throws that way is "this number has no WhatsApp".
			if e.http_status == 400 and "[object object]" in (e.server_message or "").lower():
				raise NotOnWhatsApp("the number has no WhatsApp account", **e.context()) from None
			raise

	@classmethod
	def webhook_event(cls, data: dict[str, Any]) -> WebhookEvent | None:
		"""Evolution's event body (``{"event", "instance", "data": {...}, "apikey", ...}``), or None when the
		body is not Evolution's. Only what the app needs is read: the ``apikey`` it carries is never kept."""
		if not isinstance(data.get("instance"), str) or not isinstance(data.get("data"), dict):
			return None
		session_id = session_name(data["instance"], "instance")
		name = str(data.get("event", "")).strip().lower().replace("_", ".")
		inner = data["data"]
		common = {"session_id": session_id, "event_id": None, "timestamp": None, "gateway_type": "evolution"}
		if name == "qrcode.updated":
			qrcode = inner.get("qrcode") if isinstance(inner.get("qrcode"), dict) else inner
			qr = bounded(qrcode.get("code"), "code", MAX_QR_CHARS) or bounded(
				qrcode.get("base64"), "base64", MAX_QR_CHARS
			)
			if qr is None:
				raise WebhookRejected("MALFORMED", "a qrcode.updated event without a QR")
			return WebhookEvent(kind="qr", qr=qr, status="qr", phone=None, **common)
		if name == "connection.update":
			raw = bounded(inner.get("state"), "state", MAX_STATUS_CHARS)
			if raw is None:
				raise WebhookRejected("MALFORMED", "a connection.update event without a state")
			kind = STATES.get(raw.lower(), Kind.WAITING)
			phone = jid_digits(bounded(inner.get("wuid"), "wuid", 64)) if kind == Kind.CONNECTED else None
			return WebhookEvent(
				kind="connection", qr=None, status=raw, phone=phone, state_kind=kind, **common
			)
		if name == "logout.instance":
			return WebhookEvent(kind="logout", qr=None, status=None, phone=None, **common)
		none = {"qr": None, "status": None, "phone": None}
		if name in ("messages.upsert", "send.message"):
			message = _inbound(inner)
			if message is not None:
				return WebhookEvent(kind="message", message=message, **none, **common)
		if name == "messages.update":
			ack = _ack(inner)
			if ack is not None:
				return WebhookEvent(kind="ack", ack=ack, **none, **common)
		return WebhookEvent(kind="ignored", **none, **common)

	# -- plumbing --

	def _key_check(self, timeout: float | None) -> tuple[bool | None, GatewayError | None]:
		"""Evolution answers 404 for an unknown instance before it looks at the key, so the key is checked on
		a route without one: the instance list (filtered to a name that cannot exist)."""
		try:
			reply = self._send(
				"GET", "/instance/fetchInstances", params={"instanceName": PROBE_SESSION}, timeout=timeout
			)
			self._check(reply, not_found=SessionNotFound, want=object)
			return True, None
		except SessionNotFound:
			return True, None  # 404 "not found" comes after the key was checked
		except Unauthorized as e:
			return False, e
		except GatewayError as e:
			return None, e

	def _connect_answer(self, reply) -> dict:
		try:
			data = self._check(reply, not_found=SessionNotFound)
		except GatewayError as e:
			if reply.status == 200 and reply.obj and reply.obj.get("error") is True:
				# HTTP 200 with {"error": true}: the QR route failed; never a QR.
				raise QrGenerationError("the gateway failed to generate the QR", **e.context())
			raise
		instance = data.get("instance")
		if isinstance(instance, dict) and str(instance.get("state", "")).lower() == "open":
			raise QrNotReady("the session is already linked", **reply.context())
		return data

	def _phone(self, session_id: str, timeout: float) -> str | None:
		try:
			reply = self._send(
				"GET", "/instance/fetchInstances", params={"instanceName": session_id}, timeout=timeout
			)
			rows = self._check(reply, want=list)
		except Unauthorized:
			raise
		except GatewayError:
			return None  # the link is what matters; the number is a nicety
		for row in rows:
			if isinstance(row, dict) and row.get("name") in (session_id, None):
				return jid_digits(row.get("ownerJid") or row.get("owner"))
		return None


def _iso(ts: int) -> str:
	return datetime.fromtimestamp(int(ts), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _page_of(cursor: str | None) -> int:
	if cursor is None:
		return 1
	if not cursor.isdigit() or not 1 <= int(cursor) <= 100000:
		raise ValueError("an Evolution cursor is a page number")
	return int(cursor)


def _key_id(data: dict[str, Any]) -> Any:
	return data["key"].get("id") if isinstance(data.get("key"), dict) else None


def _inbound(data: dict[str, Any]) -> InboundMessage | None:
	"""A message of ``messages.upsert``/``send.message`` (Evolution's prepareMessage shape); None for groups,
	status updates and what carries no id. Of ``remoteJid`` and ``remoteJidAlt``, the phone jid gives the number
	and the ``@lid`` the privacy id, in either order (2.3.6 puts the ``@lid`` first, 2.3.7 the phone)."""
	key = data.get("key") if isinstance(data.get("key"), dict) else {}
	jid = key.get("remoteJid")
	mid = message_id(key.get("id"))
	if mid is None or not is_person(jid):
		return None
	chat, lid = chat_of(jid, key.get("remoteJidAlt"), key.get("senderPn"), data.get("senderPn"))
	body = data.get("message") if isinstance(data.get("message"), dict) else {}
	extended = body.get("extendedTextMessage") if isinstance(body.get("extendedTextMessage"), dict) else {}
	wrapped = body.get("documentWithCaptionMessage")
	if isinstance(wrapped, dict) and isinstance(wrapped.get("message"), dict):
		body = {**body, **wrapped["message"]}
	part = next((body[t] for t in MEDIA_TYPES if isinstance(body.get(t), dict)), None)
	context = data.get("contextInfo") if isinstance(data.get("contextInfo"), dict) else {}
	for holder in (extended, part or {}):
		if not context and isinstance(holder.get("contextInfo"), dict):
			context = holder["contextInfo"]
	reacted = body.get("reactionMessage") if isinstance(body.get("reactionMessage"), dict) else None
	if reacted is not None:
		target = reacted.get("key") if isinstance(reacted.get("key"), dict) else {}
		context = {"stanzaId": target.get("id")}
	media = None
	if part is not None:
		mimetype = clean_mimetype(part.get("mimetype"))
		media = MediaRef(
			mimetype, safe_filename(part.get("fileName"), mimetype), int_of(part.get("fileLength"))
		)
	from_me = key.get("fromMe") is True
	return InboundMessage(
		id=mid,
		chat=chat,
		from_me=from_me,
		text=text_of(body.get("conversation"))
		or text_of(extended.get("text"))
		or (text_of(part.get("caption")) if part else None),
		media=media,
		reply_to=message_id(context.get("stanzaId")),
		timestamp=int_of(data.get("messageTimestamp")),
		push_name=None if from_me else name_of(data.get("pushName")),
		lid=lid,
		reaction=reaction_of(reacted.get("text")) if reacted is not None else None,
	)


def _ack(data: dict[str, Any]) -> Ack | None:
	mid = message_id(data.get("keyId")) or message_id((data.get("key") or {}).get("id"))
	status = ACKS.get(str(data.get("status", "")).upper())
	if mid is None or status is None:
		return None  # a deletion, an edit or a poll vote: nothing for the ticks
	return Ack(mid, status, chat_of(data.get("remoteJid"), data.get("remoteJidAlt"))[0])


def _record_ack(record: dict[str, Any], message: InboundMessage) -> Ack | None:
	"""The furthest status a stored message of ours reached (its MessageUpdate rows and its own status)."""
	updates = record.get("MessageUpdate") if isinstance(record.get("MessageUpdate"), list) else []
	words = [u.get("status") for u in updates if isinstance(u, dict)] + [record.get("status")]
	return best_ack(message.id, [ACKS.get(str(w).upper(), "") for w in words], message.chat)
