"""The Baileys REST gateway (see docs/gateways.md, 'The Baileys REST contract').

``X-API-Key``; ``POST /api/sessions`` ``{"sessionId"}``; ``GET /api/sessions/{id}/status`` and ``/qr``;
``POST /api/sessions/{id}/pairing-code``; ``DELETE /api/sessions/{id}``; ``GET /api/health`` without a key.
Errors are ``{"success": false, "error": WORD, "message"}``.

Messaging: ``POST /api/sessions/{id}/messages`` ``{"to", "text"}`` or ``{"to", "media": {"data", "mimetype",
"filename"}, "caption"}`` (optional ``"replyTo"``) or ``{"to", "reaction": {"messageId", "emoji"}}`` (``""``
takes a reaction back; an unknown messageId is a 404 MESSAGE_NOT_FOUND) answers 201 ``{"success",
"messageId", "status": "sent"}``;
``GET /api/sessions/{id}/messages/{messageId}/media`` answers the raw bytes.

History: ``GET /api/sessions/{id}/messages?since=<unix s>&until=<unix s>&limit=&cursor=`` reads the
session's stored messages (linked or not), oldest first, ``limit`` a page (1-100, default 50): ``{"success":
true, "messages": [...], "nextCursor"}``, each the ``message`` webhook's object, our own with ``status`` (its
latest receipt); ``nextCursor`` (opaque) names where the next page starts, null on the last page. Bad
parameters are 400 ``INVALID_QUERY`` (``INVALID_CURSOR`` for a cursor it never gave).

Pacing (the contract's extension, docs/gateways.md): ``POST /api/sessions/{id}/read`` ``{"jid":
"<digits>@s.whatsapp.net", "messageIds": [...]}`` and ``POST /api/sessions/{id}/presence`` ``{"jid",
"presence": "composing"|"paused"}`` answer 200 ``{"success": true}`` (logged for ``pacing()``; nothing checks
the number, as Baileys does not); ``POST /api/sessions/{id}/check-numbers`` ``{"numbers": [1-50 numbers]}``
answers 200 ``{"success": true, "results": [{"number", "exists", "jid"}]}`` (``jid`` null when it does not
exist: ``NOT_ON_WHATSAPP`` and any number ending in ``000``, which a send refuses 400 ``NOT_ON_WHATSAPP``).
As a send: 404 ``SESSION_NOT_FOUND``, 409 ``NOT_CONNECTED`` while no phone is linked, 400 ``INVALID_PHONE`` or
``INVALID_MESSAGE`` for a bad body.

Webhooks are pushed the way webhook.py reads them ("qr" on the first QR and on each rotation, "connection"
once linked, "logout" on DELETE, "message" and "ack"), signed with HMAC or carrying the shared secret. The simulator signs with
its own copy of the scheme, an independent implementation for webhook.verify() to be checked against.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import uuid
from typing import Any
from urllib.parse import unquote

from .core import BaseSimulator
from .model import (
	DEFAULT_PHONE,
	DIGITS_RE,
	MAX_MEDIA,
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
	on_whatsapp,
	pairing_code,
	parse_json_object,
	parse_media,
	qr_payload,
	valid_id,
)
from .server import Handler
from .webhooks import Hook

_UNAUTHORIZED = {"success": False, "error": "UNAUTHORIZED", "message": "Invalid API key"}
_NOT_FOUND = {"success": False, "error": "SESSION_NOT_FOUND", "message": "Session not found"}
_INVALID_JSON = {"success": False, "error": "INVALID_JSON", "message": "Body must be a JSON object"}
_ALREADY_CONNECTED = {"success": False, "error": "ALREADY_CONNECTED", "message": "Session already connected"}
_NOT_CONNECTED = {"success": False, "error": "NOT_CONNECTED", "message": "Session is not connected"}
_MESSAGE_NOT_FOUND = {"success": False, "error": "MESSAGE_NOT_FOUND", "message": "Message not found"}
MAX_REACTION_CHARS = 16  # one emoji with its modifiers and joiners (the app's own limit)
HISTORY_LIMIT = 50
MAX_HISTORY_LIMIT = 100
MAX_CHECK_NUMBERS = 50  # numbers one check-numbers request may ask about
_PACING_ROUTES = {"read": "read", "presence": "presence", "check-numbers": "numbers"}
PRESENCES = ("composing", "paused")


def webhook_auth(body: bytes, secret: str, mode: str) -> dict[str, str]:
	"""Headers authenticating one webhook POST (the contract in webhook.py). No secret: none at all."""
	if not secret:
		return {}
	if mode == "secret":
		return {"X-Webhook-Secret": secret}
	ts = str(int(time.time()))
	digest = hmac.new(secret.encode("utf-8"), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
	return {"X-Webhook-Timestamp": ts, "X-Webhook-Signature": f"sha256={digest}"}


def _route(method: str, path: str) -> Route:
	parts = path.split("/")[1:]
	if parts == ["api", "health"]:
		return Route("health", allowed=method == "GET", public=True)
	if parts == ["api", "sessions"]:
		return Route("create", allowed=method == "POST")
	if len(parts) == 3 and parts[:2] == ["api", "sessions"]:
		return Route("delete", parts[2], allowed=method == "DELETE")
	if len(parts) == 4 and parts[:2] == ["api", "sessions"] and parts[3] in ("status", "qr"):
		return Route(parts[3], parts[2], allowed=method == "GET")
	if len(parts) == 4 and parts[:2] == ["api", "sessions"] and parts[3] == "pairing-code":
		return Route("pairing", parts[2], allowed=method == "POST")
	if len(parts) == 4 and parts[:2] == ["api", "sessions"] and parts[3] in _PACING_ROUTES:
		return Route(_PACING_ROUTES[parts[3]], parts[2], allowed=method == "POST")
	if len(parts) == 4 and parts[:2] == ["api", "sessions"] and parts[3] == "messages":
		if method == "GET":
			return Route("history", parts[2])
		return Route("send", parts[2], allowed=method == "POST")
	if (
		len(parts) == 6
		and parts[:2] == ["api", "sessions"]
		and parts[3] == "messages"
		and parts[5] == "media"
	):
		return Route("media", parts[2], action=unquote(parts[4]), allowed=method == "GET")
	return control_route(parts, method) or Route("other")


class BaileysSimulator(BaseSimulator):
	"""A scripted Baileys REST gateway. restart() forgets sessions, keeps per-session scenario overrides."""

	gateway_type = "baileys"

	def _route(self, method: str, path: str, query: dict[str, list[str]]) -> Route:
		return _route(method, path)

	def _serve(self, handler: Handler, call: Call) -> None:
		route, endpoint, session_id, body = call.route, call.route.endpoint, call.session_id, call.body
		if endpoint == "health" and route.allowed:
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
		if call.path.startswith(("/api/sessions", "/_sim")) and not self._authorized(handler):
			handler.send_json(401, _UNAUTHORIZED)
			return
		if endpoint == "other":
			handler.send_json(404, {"success": False, "error": "NOT_FOUND", "message": "Not found"})
			return
		if not route.allowed:
			handler.send_json(
				405, {"success": False, "error": "METHOD_NOT_ALLOWED", "message": "Method not allowed"}
			)
			return
		if endpoint == "create":
			data = parse_json_object(body)
			if data is None:
				handler.send_json(400, _INVALID_JSON)
				return
			session_id = data.get("sessionId")
			self._set_logged_id(handler, session_id)
		if endpoint == "control":
			self._serve_control(handler, route.action, session_id, body)
			return
		if not valid_id(session_id):
			handler.send_json(400, {"success": False, "error": "INVALID_SESSION_ID"})
			return
		if endpoint == "history":
			if not self._common_faults(handler, endpoint, session_id, self.options_for(session_id)):
				handler.send_json(*self._history(session_id, call))
			return
		self._session_call(handler, endpoint, session_id, body, route.action)

	def _session_call(
		self, handler: Handler, endpoint: str, session_id: str, body: bytes, action: str | None = None
	) -> None:
		if self._common_faults(handler, endpoint, session_id, self.options_for(session_id)):
			return
		if endpoint == "send":
			handler.send_json(*self._send(session_id, body))
			return
		if endpoint == "media":
			self._media(handler, session_id, action or "")
			return
		if endpoint in PACING_ENDPOINTS:
			handler.send_json(*self._pacing_call(endpoint, session_id, body))
			return
		phone = ""
		if endpoint == "pairing":
			data = parse_json_object(body)
			if data is None:
				handler.send_json(400, _INVALID_JSON)
				return
			raw_phone = data.get("phoneNumber")
			if not isinstance(raw_phone, str) or not PHONE_RE.fullmatch(raw_phone):
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
					self._new_session(session_id, now)
					status, payload = 201, {"success": True, "sessionId": session_id, "status": "connecting"}
			elif session is None:
				status, payload = 404, _NOT_FOUND
			elif endpoint == "delete":
				del self._sessions[session_id]
				self._event(session, "logout")
				status, payload = 200, {"success": True}
			elif endpoint == "pairing":
				if session.connected:
					status, payload = 409, _ALREADY_CONNECTED
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

	def _send(self, session_id: str, body: bytes) -> tuple[int, dict[str, Any]]:
		data = parse_json_object(body)
		if data is None:
			return 400, _INVALID_JSON
		to = data.get("to")
		if not isinstance(to, str) or not PHONE_RE.fullmatch(to):
			return 400, _invalid("INVALID_PHONE", "to must be 8-15 digits, with an optional leading +")
		to = to.removeprefix("+")
		if data.get("reaction") is not None:
			return self._send_reaction(session_id, to, data)
		text, caption, reply_to = data.get("text"), data.get("caption"), data.get("replyTo")
		for name, value in (("text", text), ("caption", caption), ("replyTo", reply_to)):
			if value is not None and not isinstance(value, str):
				return 400, _invalid("INVALID_MESSAGE", f"{name} must be a string")
		media: Media | None = None
		if data.get("media") is not None:
			try:
				media = parse_media(data["media"])
			except ValueError as exc:
				return 400, _invalid("INVALID_MESSAGE", str(exc))
			if len(media.data) > MAX_MEDIA:
				return 413, _invalid("MEDIA_TOO_LARGE", f"media must be at most {MAX_MEDIA} bytes")
		elif not text or not text.strip():
			return 400, _invalid("INVALID_MESSAGE", "text or media is required")
		with self._lock:
			session, refusal = self._sender(session_id, to)
			if refusal is not None:
				return refusal
			if media is not None:
				msg = self._record_send(session, to, caption=caption or text, media=media, reply_to=reply_to)
			else:
				msg = self._record_send(session, to, text=text, reply_to=reply_to)
		return 201, {"success": True, "messageId": msg.id, "status": "sent"}

	def _send_reaction(self, session_id: str, to: str, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
		reaction = data["reaction"]
		target_id = reaction.get("messageId") if isinstance(reaction, dict) else None
		emoji = reaction.get("emoji") if isinstance(reaction, dict) else None
		if not isinstance(target_id, str) or not target_id:
			return 400, _invalid("INVALID_MESSAGE", "reaction.messageId must be a message id")
		# the same rule as the app: short, no letters, digits or spaces ("" takes the reaction back)
		if (
			not isinstance(emoji, str)
			or len(emoji) > MAX_REACTION_CHARS
			or any(c.isalnum() or c.isspace() for c in emoji)
		):
			return 400, _invalid("INVALID_MESSAGE", "reaction.emoji must be one emoji or empty")
		if any(data.get(name) is not None for name in ("text", "media", "caption")):
			return 400, _invalid("INVALID_MESSAGE", "a reaction carries no text or media")
		with self._lock:
			session, refusal = self._sender(session_id, to)
			if refusal is not None:
				return refusal
			target = self._messages.get((session_id, target_id))
			if target is None:
				return 404, _MESSAGE_NOT_FOUND
			msg = self._record_send(session, to, reaction=Reaction(target.id, emoji, target_id))
		return 201, {"success": True, "messageId": msg.id, "status": "sent"}

	def _pacing_call(self, endpoint: str, session_id: str, body: bytes) -> tuple[int, dict[str, Any]]:
		"""read, presence and check-numbers (see the module's docstring)."""
		data = parse_json_object(body)
		if data is None:
			return 400, _INVALID_JSON
		numbers, chat, ids, presence = data.get("numbers"), None, data.get("messageIds"), data.get("presence")
		if endpoint == "numbers":
			if not isinstance(numbers, list) or not 1 <= len(numbers) <= MAX_CHECK_NUMBERS:
				return 400, _invalid(
					"INVALID_MESSAGE", f"numbers must be a list of 1-{MAX_CHECK_NUMBERS} numbers"
				)
			if not all(isinstance(n, str) and PHONE_RE.fullmatch(n) for n in numbers):
				return 400, _invalid(
					"INVALID_PHONE", "numbers must be 8-15 digits, with an optional leading +"
				)
		else:
			chat = _jid_digits(data.get("jid"))
			if chat is None:
				return 400, _invalid("INVALID_PHONE", "jid must be <8-15 digits>@s.whatsapp.net")
			if endpoint == "read" and (
				not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids)
			):
				return 400, _invalid("INVALID_MESSAGE", "messageIds must be a non-empty list of message ids")
			if endpoint == "presence" and presence not in PRESENCES:
				return 400, _invalid("INVALID_MESSAGE", 'presence must be "composing" or "paused"')
		with self._lock:
			session = self._live(session_id, self.clock())
			if session is None:
				return 404, _NOT_FOUND
			if not session.connected:
				return 409, _NOT_CONNECTED
			if endpoint == "numbers":
				results = []
				for number in numbers:
					digits = number.removeprefix("+")
					exists = on_whatsapp(digits)
					jid = f"{digits}@s.whatsapp.net" if exists else None
					results.append({"number": number, "exists": exists, "jid": jid})
				return 200, {"success": True, "results": results}
			assert chat is not None
			if endpoint == "read":
				self._log_read(session_id, chat, ids)
			else:
				self._log_presence(session_id, chat, presence)
		return 200, {"success": True}

	def _history(self, session_id: str, call: Call) -> tuple[int, dict[str, Any]]:
		"""One page of the session's stored messages (see the module's docstring)."""
		bounds: list[int | None] = []
		for name in ("since", "until"):
			raw = call.arg(name)
			if raw is not None and not raw.isdigit():
				return 400, _invalid("INVALID_QUERY", f"{name} must be unix seconds")
			bounds.append(int(raw) if raw is not None else None)
		since, until = bounds
		raw_limit = call.arg("limit")
		if raw_limit is not None and (
			not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_HISTORY_LIMIT
		):
			return 400, _invalid("INVALID_QUERY", f"limit must be 1-{MAX_HISTORY_LIMIT}")
		limit = int(raw_limit) if raw_limit is not None else HISTORY_LIMIT
		after: tuple[int, int] | None = None
		if call.arg("cursor"):
			after = _read_cursor(call.arg("cursor") or "")
			if after is None:
				return 400, _invalid("INVALID_CURSOR", "cursor is not one this gateway gave")
		with self._lock:
			if self._live(session_id, self.clock()) is None:
				return 404, _NOT_FOUND
			rows = [
				m
				for m in self._stored_messages(session_id)
				if (since is None or m.ts >= since)
				and (until is None or m.ts <= until)
				and (after is None or (m.ts, m.seq) > after)
			]
			page = rows[:limit]
			messages = [self._message_object(m, with_status=True) for m in page]
		next_cursor = _cursor(page[-1]) if len(rows) > limit else None
		return 200, {"success": True, "messages": messages, "nextCursor": next_cursor}

	def _sender(self, session_id: str, to: str) -> tuple[Any, tuple[int, dict[str, Any]] | None]:
		"""Under self._lock: the linked session a send goes through, or the contract's refusal."""
		session = self._live(session_id, self.clock())
		if session is None:
			return None, (404, _NOT_FOUND)
		if not session.connected:
			return None, (409, _NOT_CONNECTED)
		if not on_whatsapp(to):
			return None, (400, _invalid("NOT_ON_WHATSAPP", f"{to} is not on WhatsApp"))
		return session, None

	def _media(self, handler: Handler, session_id: str, message_id: str) -> None:
		with self._lock:
			session = self._live(session_id, self.clock())
			msg = self._messages.get((session_id, message_id)) if session is not None else None
		if session is None:
			handler.send_json(404, _NOT_FOUND)
		elif msg is None or msg.media is None:
			handler.send_json(404, _MESSAGE_NOT_FOUND)
		else:
			name = msg.media.filename.replace("\\", "_").replace('"', "_")
			disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
			handler.send_bytes(200, msg.media.data, msg.media.mimetype, headers=disposition)

	def _status_payload(self, session: Session, opts: SessionOptions, now: float) -> dict[str, Any]:
		payload: dict[str, Any] = {"success": True, "sessionId": session.session_id}
		if session.connected:
			payload.update(status="connected", hasQR=False, phone=session.phone)
		elif self._qr_due(session, opts, now):
			payload.update(status="qr", hasQR=True)
		else:
			payload.update(status="connecting", hasQR=False)
		return payload

	def _qr_answer(self, session: Session, opts: SessionOptions, now: float) -> tuple[int, dict[str, Any]]:
		if session.connected:
			return 409, _ALREADY_CONNECTED
		if not self._qr_due(session, opts, now):
			return 404, {"success": False, "error": "QR_NOT_READY", "message": "QR code not available yet"}
		if session.qr_errors_served < opts.qr_errors:
			session.qr_errors_served += 1
			return 500, {
				"success": False,
				"error": "QR_GENERATION_ERROR",
				"message": "Failed to generate QR code",
			}
		self._serve_qr(session, now)
		return 200, {
			"success": True,
			"qr": qr_payload(session.session_id, self._generation(session, opts, now)),
		}

	# -- wire format for the shared answers --

	def _unauthorized_payload(self) -> dict[str, Any]:
		return _UNAUTHORIZED

	def _body_error(self, status: int, word: str) -> dict[str, Any]:
		return {"success": False, "error": word}

	def _success_false(self) -> tuple[int, dict[str, Any]]:
		return 200, {"success": False, "error": "INTERNAL_ERROR", "message": SCRIPT_MESSAGE}

	def _not_json_body(self) -> bytes:
		return b'{"success": tru'

	def _huge_payload(self, endpoint: str, session_id: str) -> dict[str, Any]:
		if endpoint == "qr":
			return {"success": True, "qr": qr_payload(session_id, 0)}
		if endpoint == "pairing":
			return {"success": True, "code": pairing_code(session_id, "", 0)}
		if endpoint == "send":
			return {"success": True, "messageId": "3EB0" + "0" * 16, "status": "sent"}
		return {"success": True, "sessionId": session_id, "status": "qr", "hasQR": True}

	def _stack_trace_payload(self, message: str) -> dict[str, Any]:
		return {"success": False, "error": "INTERNAL_ERROR", "message": message}

	# -- webhooks --

	def _event(self, session: Session, event: str, **fields: Any) -> None:
		payload = {
			"event": event,
			"sessionId": session.session_id,
			"id": f"sim-{uuid.uuid4().hex}",
			"timestamp": int(time.time()),  # wall time: receivers compare it with their own clock
			**fields,
		}
		self._queue(session, event, payload)

	def _emit_message(self, session: Session, msg: Message) -> None:
		message = self._message_object(msg)
		self._event(session, "message", message=message)  # a new event id each time, even for a repeat

	def _message_object(self, msg: Message, with_status: bool = False) -> dict[str, Any]:
		"""The contract's message object; the history route adds our own messages' latest receipt."""
		message: dict[str, Any] = {"id": msg.id, "chat": None if msg.lid_only else msg.chat}
		if msg.lid is not None:
			message["lid"] = msg.lid
		message.update(fromMe=msg.from_me, timestamp=msg.ts)
		if msg.text is not None:
			message["text"] = msg.text
		if msg.push_name and not msg.from_me:
			message["pushName"] = msg.push_name
		if msg.reply_to is not None:
			message["replyTo"] = msg.reply_to
		if msg.reaction is not None:
			message["reaction"] = {"messageId": msg.reaction.target, "emoji": msg.reaction.emoji}
		if msg.media is not None:
			message["media"] = msg.media.info()
			if msg.caption is not None:
				message["media"]["caption"] = msg.caption
		if with_status and msg.from_me:
			message["status"] = msg.acks[-1] if msg.acks else "sent"  # the send's own answer says sent
		return message

	def _emit_ack(self, session: Session, msg: Message, status: str) -> None:
		chat = None if msg.lid_only else msg.chat
		self._event(session, "ack", ack={"messageId": msg.id, "chat": chat, "status": status})

	def _webhook_poll_session(self, session: Session, opts: SessionOptions, now: float) -> None:
		if session.connected:
			if not session.wh_connected:
				session.wh_connected = True
				self._event(session, "connection", status="connected", phone=session.phone)
			return
		if not self._qr_due(session, opts, now):
			return
		generation = self._generation(session, opts, now)
		if session.wh_generation != generation:
			session.wh_generation = generation
			self._serve_qr(session, now)
			self._event(session, "qr", qr=qr_payload(session.session_id, generation))

	def _webhook_request(self, hook: Hook, entry: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
		body = json.dumps(entry["data"]).encode("utf-8")
		headers = {
			"Content-Type": "application/json",
			"User-Agent": "whatsapp-crm-simulator/1.0",
			**webhook_auth(body, hook.secret, hook.mode),
		}
		return hook.url, body, headers


def _cursor(msg: Message) -> str:
	"""Opaque to the app: where the page ended (timestamp and store order), so later pages never shift."""
	return base64.urlsafe_b64encode(f"{msg.ts}:{msg.seq}".encode()).decode("ascii").rstrip("=")


def _read_cursor(cursor: str) -> tuple[int, int] | None:
	try:
		text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
	except (binascii.Error, UnicodeDecodeError, ValueError):
		return None
	ts, sep, seq = text.partition(":")
	if not sep or not ts.isdigit() or not seq.isdigit():
		return None
	return int(ts), int(seq)


def _jid_digits(jid: object) -> str | None:
	"""The number of a person's jid (``<digits>@s.whatsapp.net``), or None."""
	user, at, server = jid.partition("@") if isinstance(jid, str) else ("", "", "")
	return user if at and server == "s.whatsapp.net" and DIGITS_RE.fullmatch(user) else None


def _invalid(word: str, message: str) -> dict[str, Any]:
	return {"success": False, "error": word, "message": message}


__all__ = ["DEFAULT_PHONE", "BaileysSimulator", "webhook_auth"]
