"""Evolution API v2 as version 2.3.6 answers (``version=`` "2.3.7" or "2.4.0" for the newer ones): instances
instead of sessions, and its quirks.

Versions: 2.3.6 names a privacy-id chat ``key.remoteJid`` ``<lid>@lid``, ``remoteJidAlt`` the phone jid,
``addressingMode`` ``lid``; 2.3.7 (and 2.4) swap them in stored and announced messages (``remoteJid`` the phone,
``remoteJidAlt`` the ``@lid``, ``addressingMode`` ``pn``), while a ``messages.update`` carries both fields in
the order of the key Baileys reported (the ``@lid`` first). 2.4.0 with ``activated=False`` answers every
business route 503 ``{"code": "LICENSE_REQUIRED"}`` (before the key is looked at) until ``activate()``;
``GET /`` still answers with its version.

Auth header ``apikey`` (the global key, or the instance's own token). ``GET /`` welcomes without a key.
``POST /instance/create`` (a name in use is a 403; a real server takes ~5 s: ``create_delay_s``);
``GET /instance/connectionState/{name}`` (``connecting|open|close|refused``, no QR flag);
``GET /instance/connect/{name}`` (``{"count": 0}`` = no QR yet, else the raw ``code`` and a PNG ``base64``;
``?number=`` adds a pairing code; a failed QR generation is an HTTP 200 ``{"error": true}``);
``GET /instance/fetchInstances?instanceName=`` (an array); ``DELETE /instance/logout/{name}`` and
``/instance/delete/{name}`` (asynchronous: the instance stays visible ``delete_lag_s``);
``POST|PUT /instance/restart/{name}`` answers a real bug, ``{"error": true, "message": "[object Object]"}``.
Errors are ``{"status", "error", "response": {"message": [...]}}``; unknown routes and methods are 404s.

Messaging as 2.3.6's Baileys channel: ``POST /message/sendText/{name}`` and ``/message/sendMedia/{name}``
answer 201 with the stored message (``prepareMessage``'s shape, status ``PENDING``); an instance that is not
open answers 500 ``Connection Closed`` (what a real one says while connecting); a number not on WhatsApp is a
400 whose message is ``[{"jid", "exists": false, "number"}]``. ``POST /message/sendReaction/{name}``
``{"key": {"remoteJid", "fromMe", "id"}, "reaction"}`` answers 201 likewise, with ``message.reactionMessage``
(``reaction`` must be one emoji or ``""``, Evolution's isEmoji; an unknown key id is a 404 ``Message not
found``, which a real Evolution does not check). ``POST /chat/getBase64FromMediaMessage/{name}`` gives a
stored message's media.

Pacing, as 2.3.6's chat routes answer (checked against a real 2.3.6): ``POST /chat/markMessageAsRead/{name}``
``{"readMessages": [{"remoteJid", "fromMe", "id"}]}`` answers 201 ``{"message": "Read messages", "read":
"success"}`` (only ``@s.whatsapp.net`` and ``@g.us`` keys are read); ``POST /chat/sendPresence/{name}``
``{"number", "presence", "delay"}`` (all three required) checks the number, tells the chat ``presence``, waits
``delay`` ms (real time) before it answers 201 ``{"presence"}``, and then tells it ``paused`` (a number without
WhatsApp: 400 ``["[object Object]"]``, its catch's words for the object it threw); ``POST
/chat/whatsappNumbers/{name}`` ``{"numbers": [...]}`` (no repeats) answers 200 ``[{"jid", "exists",
"number"}]``, ``exists`` false for ``NOT_ON_WHATSAPP`` and any number ending in ``000`` (which a send refuses
like ``NOT_ON_WHATSAPP``). With no phone linked: 500 ``["Read messages fail", "Error: Connection Closed"]``,
400 ``["Error: Connection Closed"]``, and a 400 whose body is Baileys' Boom (``{"isBoom": true, "output":
{"statusCode": 428, "payload": {..., "message": "Connection Closed"}}}``), the route's own catch sending the
error as it is.

History: ``POST /chat/findMessages/{name}`` ``{"where": {"key": {"id", "remoteJid", "fromMe"}?,
"messageTimestamp": {"gte", "lte"}}, "page": 1, "offset": 50}`` reads the instance's stored messages (open or
not), newest first, ``offset`` records a page (default 50), ``page`` from 1: ``{"messages": {"total", "pages",
"currentPage", "records": [...]}}``, each record the stored row (prepareMessage's shape plus its database
``id`` and ``MessageUpdate``, one ``{"status"}`` per receipt). As 2.3.6's fetchMessages: the timestamp filter
applies only when both bounds are truthy, each read with JS ``new Date(x)`` (an ISO string, or a number of
milliseconds); otherwise every message comes back. ``key.fromMe`` filters only when true.

Webhooks are Evolution's: unsigned JSON envelopes (``qrcode.updated`` with the QR, ``connection.update``,
``logout.instance``, ``messages.upsert`` for arrived and phone-typed messages, ``send.message`` for API sends,
which fire no upsert (its socket has emitOwnEvents off), ``messages.update`` for acks) to the URL given at
create, with the headers given there sent verbatim.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import math
import mimetypes
import re
import secrets
import string
import time
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from .core import BaseSimulator
from .model import (
	DEFAULT_PHONE,
	DIGITS_RE,
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
	decode_base64,
	new_message_id,
	on_whatsapp,
	one_emoji,
	pairing_code,
	parse_json_object,
	qr_payload,
	valid_id,
)
from .png import qr_data_uri
from .server import Handler, phrase
from .webhooks import Hook, check_url

VERSION = "2.3.6"
VERSIONS = ("2.3.6", "2.3.7", "2.4.0")
LICENSE_REQUIRED = {
	"status": 503,
	"error": "Service Unavailable",
	"code": "LICENSE_REQUIRED",
	"message": "This server is not activated. Open the manager to register it.",
}
INTEGRATION = "WHATSAPP-BAILEYS"
OFFLINE_FLIP_S = 3.0  # an Evolution that cannot reach WhatsApp says connecting, then close, and again
_OPS = {
	("connectionState", "GET"): "status",
	("connect", "GET"): "qr",
	("logout", "DELETE"): "logout",
	("delete", "DELETE"): "delete",
	("restart", "POST"): "restart",
	("restart", "PUT"): "restart",
}
_UNAUTHORIZED = {"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}}
_NOT_READY = {"count": 0}
_SEND_ROUTES = {
	("message", "sendText"): "send",
	("message", "sendMedia"): "send",
	("message", "sendReaction"): "send",
}
_CHAT_ROUTES = {"markMessageAsRead": "read", "sendPresence": "presence", "whatsappNumbers": "numbers"}
PRESENCES = ("unavailable", "available", "composing", "recording", "paused")  # presenceSchema's enum
_CONNECTION_CLOSED_BOOM = {
	"data": None,
	"isBoom": True,
	"isServer": False,
	"output": {
		"statusCode": 428,
		"payload": {"statusCode": 428, "error": "Precondition Required", "message": "Connection Closed"},
		"headers": {},
	},
}
_MEDIA_TYPES = ("image", "document", "video", "audio")
# Baileys' status enum as Evolution names it, by the simulator's ack names
_ACK_STATUS = {
	"sent": "SERVER_ACK",
	"delivered": "DELIVERY_ACK",
	"read": "READ",
	"played": "PLAYED",
	"failed": "ERROR",
}
_PUSH_NAME = "Sim"  # the linked account's profile name (fetchInstances says so too)
PAGE_SIZE = 50  # fetchMessages' offset when none is given
_ISO_RE = re.compile(
	r"(?P<date>(?:\d{4}|[+-]\d{6})(?:-\d{2}(?:-\d{2})?)?)"
	r"(?:T(?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(?P<zone>Z|[+-]\d{2}:\d{2})?)?"
)
_MAX_JS_MS = 8.64e15  # a JS Date's range


def error(status: int, *messages: str) -> dict[str, Any]:
	return {"status": status, "error": phrase(status), "response": {"message": list(messages)}}


def _not_found(name: str) -> dict[str, Any]:
	return error(404, f'The "{name}" instance does not exist')


def _success(message: str) -> dict[str, Any]:
	return {"status": "SUCCESS", "error": False, "response": {"message": message}}


def _jid(phone: str | None) -> str | None:
	return f"{phone}@s.whatsapp.net" if phone else None


class EvolutionSimulator(BaseSimulator):
	"""A scripted Evolution API v2. restart() keeps instances (they live in its database): linked ones stay
	open, the others come back ``close`` until ``connect`` starts them again."""

	gateway_type = "evolution"
	auth_header = "apikey"
	json_content_type = "application/json; charset=utf-8"
	webhook_modes = ("secret", "query")  # Evolution cannot sign: the secret rides in a header or the URL
	default_webhook_mode = "secret"
	qr_limit_ends = True

	def __init__(
		self,
		api_key: str = "sim-secret-key",
		*,
		create_delay_s: float = 0.0,
		delete_lag_s: float = 0.5,
		version: str = VERSION,
		activated: bool = True,
		**kwargs: Any,
	) -> None:
		if version not in VERSIONS:
			raise ValueError(f"unknown Evolution version {version!r}; expected one of {', '.join(VERSIONS)}")
		self.create_delay_s = create_delay_s
		self.delete_lag_s = delete_lag_s
		self.version = version
		self.lid_swapped = version != "2.3.6"
		# Only 2.4 has a licence to activate.
		self.activated = activated or version != "2.4.0"
		super().__init__(api_key, **kwargs)

	def activate(self) -> None:
		"""The admin registers the server in its manager: business routes answer again."""
		self.activated = True

	def restart(self) -> None:
		with self._lock:
			now = self.clock()
			for session_id in list(self._sessions):
				session = self._live(session_id, now)
				if session is not None and not session.connected:
					session.running = session.failed = False
			self._lost.clear()

	# -- routing --

	def _route(self, method: str, path: str, query: dict[str, list[str]]) -> Route:
		parts = path.split("/")[1:]
		if parts == [""]:
			return Route("health", public=True) if method == "GET" else Route("other")
		control = control_route(parts, method)
		if control is not None:
			return control
		if parts == ["instance", "create"] and method == "POST":
			return Route("create", action="create")
		if parts == ["instance", "fetchInstances"] and method == "GET":
			return Route("phone", action="fetch")
		if len(parts) == 3 and parts[2] and method == "POST" and (parts[0], parts[1]) in _SEND_ROUTES:
			return Route("send", parts[2], action=parts[1])
		if (
			len(parts) == 3
			and parts[0] == "chat"
			and parts[1] in _CHAT_ROUTES
			and parts[2]
			and method == "POST"
		):
			return Route(_CHAT_ROUTES[parts[1]], parts[2], action=parts[1])
		if parts[:2] == ["chat", "findMessages"] and len(parts) == 3 and parts[2] and method == "POST":
			return Route("history", parts[2], action="findMessages")
		if (
			parts[:2] == ["chat", "getBase64FromMediaMessage"]
			and len(parts) == 3
			and parts[2]
			and method == "POST"
		):
			return Route("media", parts[2], action="getBase64")
		if len(parts) == 3 and parts[0] == "instance" and parts[2] and (parts[1], method) in _OPS:
			endpoint = _OPS[(parts[1], method)]
			if endpoint == "qr" and "number" in query:
				endpoint = "pairing"  # the same route asks for a pairing code
			return Route(endpoint, parts[2], action=parts[1])
		return Route("other")

	def _serve(self, handler: Handler, call: Call) -> None:
		route, name = call.route, call.session_id
		if route.endpoint == "control":
			self._serve_control_route(handler, route, name, call.body)
			return
		if route.endpoint == "other":
			handler.send_json(404, error(404, f"Cannot {call.method} {call.path}"))
			return
		if route.endpoint == "health":
			handler.send_json(
				200,
				{
					"status": 200,
					"message": "Welcome to the Evolution API, it is working!",
					"version": self.version,
					"clientName": "evolution_simulator",
					"manager": f"{self._base_url()}/manager",
					"documentation": "https://doc.evolution-api.com",
				},
			)
			return
		if not self.activated:
			handler.send_json(503, LICENSE_REQUIRED)
			return
		if (
			route.action not in ("create", "fetch")
			and valid_id(name)
			and self.options_for(name).fault is None  # a scripted fault answers for any name
			and not self._known(name)
		):
			# Evolution's instance guard runs before its auth guard: an unknown name is a 404 whatever the key.
			handler.send_json(404, _not_found(name))
			return
		if not self._authorized(handler, *self._tokens(name or call.arg("instanceName"))):
			handler.send_json(401, _UNAUTHORIZED)
			return
		if route.action == "create":
			self._create(handler, call)
		elif route.action == "fetch":
			self._fetch(handler, call)
		elif not valid_id(name):
			handler.send_json(404, _not_found(name or ""))  # such a name cannot exist
		elif not self._common_faults(handler, route.endpoint, name, self.options_for(name)):
			if route.action == "connect":
				self._connect(handler, name, call.arg("number"))
			elif route.action == "sendReaction":
				handler.send_json(*self._send_reaction(name, call.body))
			elif route.endpoint == "send":
				handler.send_json(*self._send(name, route.action == "sendMedia", call.body))
			elif route.endpoint == "media":
				handler.send_json(*self._get_media(name, call.body))
			elif route.endpoint == "history":
				handler.send_json(*self._find_messages(name, call.body))
			elif route.endpoint == "read":
				handler.send_json(*self._read_messages(name, call.body))
			elif route.endpoint == "presence":
				self._send_presence(handler, name, call.body)
			elif route.endpoint == "numbers":
				handler.send_json(*self._whatsapp_numbers(name, call.body))
			else:
				handler.send_json(*self._instance_call(route.endpoint, name))

	def _known(self, name: str) -> bool:
		with self._lock:
			return self._live(name, self.clock()) is not None

	def _tokens(self, name: str | None) -> list[str]:
		# An instance's own token works as the key for that instance, as in Evolution.
		with self._lock:
			session = self._sessions.get(name) if name else None
			return [session.extra["token"]] if session is not None else []

	# -- routes --

	def _create(self, handler: Handler, call: Call) -> None:
		data = parse_json_object(call.body)
		name = data.get("instanceName") if data is not None else None
		self._set_logged_id(handler, name)
		if not isinstance(name, str) or not name:
			handler.send_json(400, error(400, 'instance requires property "instanceName"'))
			return
		if not valid_id(name):
			handler.send_json(400, error(400, "instanceName may only hold letters, digits, _ and - (1-64)"))
			return
		assert data is not None
		if data.get("integration", INTEGRATION) != INTEGRATION:
			handler.send_json(400, error(400, "Invalid integration"))
			return
		webhook = data.get("webhook")
		try:
			hook = _hook(webhook) if webhook is not None else None
		except ValueError as exc:
			handler.send_json(400, error(400, str(exc)))
			return
		opts = self.options_for(name)
		if self._common_faults(handler, "create", name, opts):
			return
		with self._lock:
			now = self.clock()
			if self._live(name, now) is not None:
				handler.send_json(403, error(403, f'This name "{name}" is already in use.'))
				return
			session = self._new_session(name, now)
			session.extra.update(instance_id=str(uuid.uuid4()), token=str(uuid.uuid4()).upper())
			session.hooks = [hook] if hook is not None else []
			token = session.extra["token"]
		# Evolution creates at once but answers only after waiting for the first QR.
		delay = max(opts.create_delay_s, self.create_delay_s)
		if delay > 0 and handler.server.stopping.wait(delay):
			handler.hang_up()
			return
		answer: dict[str, Any] = {
			"instance": {
				"instanceName": name,
				"instanceId": session.extra["instance_id"],
				"integration": INTEGRATION,
				"status": "connecting",
			},
			"hash": token,
			"webhook": webhook if isinstance(webhook, dict) else {},
		}
		if data.get("qrcode") is True:
			with self._lock:
				now = self.clock()
				live = self._live(name, now)
				code = self._due_qr(live, now) if live is not None and not live.connected else None
			answer["qrcode"] = _qr_fields(code, None) if code else dict(_NOT_READY)
		handler.send_json(201, answer)

	def _fetch(self, handler: Handler, call: Call) -> None:
		name = call.arg("instanceName")
		self._set_logged_id(handler, name)
		if name is not None and self._common_faults(handler, "phone", name, self.options_for(name)):
			return
		with self._lock:
			now = self.clock()
			names = [name] if name is not None else list(self._sessions)
			rows = []
			for sid in names:
				session = self._live(sid, now)
				if session is None:
					continue
				state = self._state(session, self.options_for(sid), now)
				rows.append(
					{
						"id": session.extra["instance_id"],
						"name": sid,
						"connectionStatus": "close" if state == "refused" else state,
						"ownerJid": _jid(session.phone) if session.connected else None,
						"profileName": "Sim" if session.connected else None,
						"number": session.phone if session.connected else None,
						"integration": INTEGRATION,
						"token": session.extra["token"],
					}
				)
		if name is not None and not rows:
			# As Evolution 2.3.6 answers a filter that matches nothing (after checking the key).
			handler.send_json(404, error(404, f'Instance "{name}" not found'))
			return
		handler.send_json(200, rows)

	def _send(self, name: str, is_media: bool, body: bytes) -> tuple[int, Any]:
		data = parse_json_object(body)
		if data is None:
			return 400, error(400, "Unexpected token in JSON")
		problems = _schema_problems(data, is_media)
		if problems:
			# sic: the schema's messages travel as one array inside the message array
			return 400, {"status": 400, "error": "Bad Request", "response": {"message": [problems]}}
		media: Media | None = None
		caption = data.get("caption")
		if is_media:
			raw = decode_base64(data.get("media"))
			if raw is None:
				return 400, error(400, "Owned media must be a url or base64")
			media = _sent_media(data, raw)
		elif not data["text"].strip():
			return 400, error(400, "Text is required")
		quoted = data.get("quoted")
		quoted_key = quoted.get("key") if isinstance(quoted, dict) else None
		quoted_id = quoted_key.get("id") if isinstance(quoted_key, dict) else None
		with self._lock:
			session = self._live(name, self.clock())
			if session is None:
				return 404, _not_found(name)
			if not session.connected:
				# The socket is not open: Baileys' onWhatsApp throws; media fails in the upload first.
				message = ["Error: Connection Closed"] if is_media else "Connection Closed"
				return 500, {
					"status": 500,
					"error": "Internal Server Error",
					"response": {"message": message},
				}
			number = data["number"]
			chat, server = _parse_number(number)
			if chat is None or not on_whatsapp(chat):
				jid = f"{chat or re.sub(r'[^0-9]', '', number)}@s.whatsapp.net"
				return 400, error_with(400, {"jid": jid, "exists": False, "number": number})
			# an unknown quoted id is dropped, as Evolution sends without the quote when its lookup fails
			reply_to = (
				quoted_id if isinstance(quoted_id, str) and (name, quoted_id) in self._messages else None
			)
			msg = self._record_send(
				session,
				chat,
				text=None if is_media else data["text"],
				caption=caption if is_media else None,
				media=media,
				reply_to=reply_to,
				message_id=new_message_id(18),  # Baileys 7's generateMessageIDV2: 22 characters
				extra={"server": server, "mediatype": data.get("mediatype")},
			)
			return 201, msg.extra["raw"]

	def _send_reaction(self, name: str, body: bytes) -> tuple[int, Any]:
		data = parse_json_object(body)
		if data is None:
			return 400, error(400, "Unexpected token in JSON")
		problems = _reaction_problems(data)
		if problems:
			return 400, {"status": 400, "error": "Bad Request", "response": {"message": [problems]}}
		if not one_emoji(data["reaction"]):
			return 400, error(400, "Reaction must be a single emoji or empty string")
		key = data["key"]
		with self._lock:
			session = self._live(name, self.clock())
			if session is None:
				return 404, _not_found(name)
			if not session.connected:
				return 500, {
					"status": 500,
					"error": "Internal Server Error",
					"response": {"message": "Connection Closed"},
				}
			chat, server = _parse_number(key["remoteJid"])
			if chat is None or not on_whatsapp(chat):
				jid = f"{chat or re.sub(r'[^0-9]', '', key['remoteJid'])}@s.whatsapp.net"
				return 400, error_with(400, {"jid": jid, "exists": False, "number": key["remoteJid"]})
			# sic: a real Evolution reacts to any key; the simulator refuses one it never saw, as its edit does
			target = self._messages.get((name, key["id"]))
			if target is None:
				return 404, error(404, "Message not found")
			msg = self._record_send(
				session,
				chat,
				message_id=new_message_id(18),
				extra={"server": server, "react_key": dict(key)},
				reaction=Reaction(target.id, data["reaction"], key["id"]),
			)
			return 201, msg.extra["raw"]

	def _read_messages(self, name: str, body: bytes) -> tuple[int, Any]:
		"""markMessageAsRead (see the module's docstring)."""
		data = parse_json_object(body)
		if data is None:
			return 400, error(400, "Unexpected token in JSON")
		problems = _read_problems(data)
		if problems:
			return 400, {"status": 400, "error": "Bad Request", "response": {"message": [problems]}}
		with self._lock:
			session = self._live(name, self.clock())
			if session is None:
				return 404, _not_found(name)
			if not session.connected:
				# client.readMessages throws; the service wraps it in an InternalServerErrorException
				return 500, error(500, "Read messages fail", "Error: Connection Closed")
			read: dict[str, list[str]] = {}
			for key in data["readMessages"]:
				jid = key["remoteJid"]
				user, _, server = jid.partition("@")
				if server in ("s.whatsapp.net", "g.us"):  # isJidGroup || isPnUser: the rest is dropped
					read.setdefault(user.split(":")[0], []).append(key["id"])
			for chat, ids in read.items():
				self._log_read(name, chat, ids)
		return 201, {"message": "Read messages", "read": "success"}

	def _send_presence(self, handler: Handler, name: str, body: bytes) -> None:
		"""sendPresence: the presence at once, ``delay`` ms (real time) before the answer, then ``paused``."""
		data = parse_json_object(body)
		if data is None:
			handler.send_json(400, error(400, "Unexpected token in JSON"))
			return
		problems = [
			f'instance requires property "{n}"' for n in ("number", "presence", "delay") if n not in data
		]
		if "number" in data and not isinstance(data["number"], str):
			problems.append("Invalid format")  # the number schema's description replaces the message
		delay = data.get("delay")
		if "delay" in data and (not isinstance(delay, int | float) or isinstance(delay, bool)):
			problems.append("delay is not of a type(s) number")
		if "presence" in data and data["presence"] not in PRESENCES:
			problems.append(f"presence is not one of enum values: {','.join(PRESENCES)}")
		if problems:
			handler.send_json(
				400, {"status": 400, "error": "Bad Request", "response": {"message": [problems]}}
			)
			return
		presence, wait_s = data["presence"], max(0.0, float(delay)) / 1000
		with self._lock:
			session = self._live(name, self.clock())
			if session is None:
				handler.send_json(404, _not_found(name))
				return
			if not session.connected:
				# its whatsappNumber check throws the Boom; the catch words it with toString()
				handler.send_json(400, error(400, "Error: Connection Closed"))
				return
			chat, _server = _parse_number(data["number"])
			if chat is None or not on_whatsapp(chat):
				# BadRequestException(isWA) throws an object; the catch's toString() makes it "[object Object]"
				handler.send_json(400, error(400, "[object Object]"))
				return
			self._log_presence(name, chat, presence)
		if wait_s > 0 and handler.server.stopping.wait(min(wait_s, self.hang_max_s)):
			handler.hang_up()
			return
		with self._lock:
			self._log_presence(name, chat, "paused")
		handler.send_json(201, {"presence": presence})

	def _whatsapp_numbers(self, name: str, body: bytes) -> tuple[int, Any]:
		"""whatsappNumber: one ``{"jid", "exists", "number"}`` per number, in the order given. This route
		catches its own errors and sends them as they are (a 400 with the thrown object)."""
		data = parse_json_object(body)
		if data is None:
			return 400, error(400, "Unexpected token in JSON")
		numbers = data.get("numbers")
		if "numbers" in data:
			problems = _numbers_problems(numbers)
			if problems:
				return 400, {"status": 400, "error": "Bad Request", "message": [problems]}
		if not isinstance(numbers, list):
			return 400, {}  # data.numbers.forEach throws a TypeError, which JSON makes {}
		with self._lock:
			session = self._live(name, self.clock())
			if session is None:
				return 404, _not_found(name)
			if not session.connected:
				return 400, dict(_CONNECTION_CLOSED_BOOM)  # client.onWhatsApp's Boom, as JSON
			answer = []
			for number in numbers:
				digits = re.sub(r"[^0-9]", "", number.split("@")[0].split(":")[0])
				answer.append(
					{"jid": f"{digits}@s.whatsapp.net", "exists": on_whatsapp(digits), "number": number}
				)
		return 200, answer

	def _find_messages(self, name: str, body: bytes) -> tuple[int, Any]:
		"""fetchMessages of Evolution 2.3.6, from the simulator's store (see the module's docstring)."""
		data = parse_json_object(body) if body.strip() else {}
		if data is None:
			return 400, error(400, "Unexpected token in JSON")
		where = data.get("where") if isinstance(data.get("where"), dict) else {}
		key = where.get("key") if isinstance(where.get("key"), dict) else {}
		stamp = where.get("messageTimestamp")
		bounds: tuple[int, int] | None = None
		if isinstance(stamp, dict) and _truthy(stamp.get("gte")) and _truthy(stamp.get("lte")):
			gte, lte = _js_date_s(stamp["gte"]), _js_date_s(stamp["lte"])
			if gte is None or lte is None:
				# Math.floor(NaN) reaches Prisma, which refuses it
				return 500, error(
					500, "Argument `gte`/`lte`: Invalid value provided. Expected Int, provided NaN."
				)
			bounds = (gte, lte)
		size, page = data.get("offset"), data.get("page")
		for field_name, value in (("offset", size), ("page", page)):
			if _truthy(value) and (not _is_int(value) or value < 1):
				return 400, error(400, f"{field_name} is not of a type(s) integer")
		size = size if _truthy(size) else PAGE_SIZE
		page = page if _truthy(page) else 1
		with self._lock:
			session = self._live(name, self.clock())
			if session is None:
				return 404, _not_found(name)
			rows = [
				m
				for m in self._stored_messages(name)
				if (bounds is None or bounds[0] <= m.ts <= bounds[1])
				and _key_matches(m, self._chat_jids(m)[0], key)
			]
			rows.reverse()  # orderBy messageTimestamp desc (the store order breaks ties, newest first)
			total = len(rows)
			records = [self._record(session, m) for m in rows[(page - 1) * size : page * size]]
		block = {"total": total, "pages": math.ceil(total / size), "currentPage": page, "records": records}
		return 200, {"messages": block}

	def _record(self, session: Session, msg: Message) -> dict[str, Any]:
		"""Under self._lock: the stored row as fetchMessages selects it."""
		raw = msg.extra.get("raw") or self._raw(session, msg)
		return {
			"id": _db_id(msg),
			"key": raw["key"],
			"pushName": raw["pushName"],
			"messageType": raw["messageType"],
			"message": raw["message"],
			"messageTimestamp": raw["messageTimestamp"],
			"instanceId": raw["instanceId"],
			"source": raw["source"],
			"contextInfo": raw.get("contextInfo"),
			"MessageUpdate": [{"status": _ACK_STATUS[status]} for status in msg.acks],
		}

	def _get_media(self, name: str, body: bytes) -> tuple[int, Any]:
		data = parse_json_object(body) or {}
		message = data.get("message")
		key = message.get("key") if isinstance(message, dict) else None
		key_id = key.get("id") if isinstance(key, dict) else None
		msg = self._message(name, key_id) if isinstance(key_id, str) else None
		if msg is None:
			return 400, error(400, "Message not found")
		if msg.media is None:
			return 400, error(400, "The message is not of the media type")
		kind = _media_kind(msg)
		answer: dict[str, Any] = {"mediaType": kind, "fileName": _file_name(msg, kind)}
		if msg.caption is not None:
			answer["caption"] = msg.caption
		answer.update(
			size={"fileLength": _long(len(msg.media.data), True)},
			mimetype=msg.media.mimetype,
			base64=base64.b64encode(msg.media.data).decode("ascii"),
			buffer=None,
		)
		return 201, answer

	def _connect(self, handler: Handler, name: str, number: str | None) -> None:
		if number is not None and not PHONE_RE.fullmatch(number):
			handler.send_json(400, error(400, "number must be 8-15 digits"))
			return
		code: tuple[str, int] | None = None
		pairing: str | None = None
		with self._lock:
			now = self.clock()
			session = self._live(name, now)
			if session is None:
				status, payload = 404, _not_found(name)
			elif session.connected:
				status, payload = 200, {"instance": {"instanceName": name, "state": "open"}}
			elif session.gone_at is not None or session.failed:
				status, payload = 200, dict(_NOT_READY)  # refused is final; a deleted one will not start
			else:
				if not session.running:
					session.start(now)  # connecting a closed instance starts it again
				opts = self.options_for(name)
				if self._qr_due(session, opts, now) and session.qr_errors_served < opts.qr_errors:
					session.qr_errors_served += 1
					status, payload = 200, {"error": True, "message": "Error while generating QR code"}
				else:
					status, payload, code = 200, dict(_NOT_READY), self._due_qr(session, now)
				if code is not None and number is not None:
					session.pairing_requests += 1
					pairing = pairing_code(name, number.removeprefix("+"), session.pairing_requests)
		if code is not None:
			payload = _qr_fields(code, pairing)  # drawn outside the lock: the first PNG takes a moment
		handler.send_json(status, payload)

	def _due_qr(self, session: Session, now: float) -> tuple[str, int] | None:
		"""Under self._lock: (payload, count) when a QR is shown, marking it served."""
		opts = self.options_for(session.session_id)
		if not session.running or session.failed or not self._qr_due(session, opts, now):
			return None
		self._serve_qr(session, now)
		generation = self._generation(session, opts, now)
		return qr_payload(session.session_id, generation), generation + 1

	def _instance_call(self, endpoint: str, name: str) -> tuple[int, dict[str, Any]]:
		with self._lock:
			now = self.clock()
			session = self._live(name, now)
			if session is None:
				return 404, _not_found(name)
			if endpoint == "status":
				return 200, {
					"instance": {
						"instanceName": name,
						"state": self._state(session, self.options_for(name), now),
					}
				}
			if endpoint == "restart":
				return 200, {"error": True, "message": "[object Object]"}  # sic: Evolution 2.3.6
			if endpoint == "logout":
				if not session.connected or session.gone_at is not None:
					return 400, error(400, f'The "{name}" instance is not connected')
				self._unlink(session)
				return 200, _success("Instance logged out")
			if session.gone_at is None:
				self._unlink(session)
				session.gone_at = now + self.delete_lag_s
			return 200, _success("Instance deleted")

	def _unlink(self, session: Session) -> None:
		session.connected, session.phone, session.running = False, None, False
		session.wh_connected, session.wh_generation = False, None
		self._event(session, "logout.instance", {"instance": session.session_id})

	def _state(self, session: Session, opts: SessionOptions, now: float) -> str:
		if session.gone_at is not None or not session.running:
			return "close"
		if session.connected:
			return "open"
		if session.failed:
			return "refused"
		if opts.offline and int((now - session.created_at) // OFFLINE_FLIP_S) % 2:
			return "close"
		return "connecting"

	# -- wire format for the shared answers --

	def _unauthorized_payload(self) -> dict[str, Any]:
		return _UNAUTHORIZED

	def _body_error(self, status: int, word: str) -> dict[str, Any]:
		return error(status, word)

	def _success_false(self) -> tuple[int, dict[str, Any]]:
		return 200, {"error": True, "message": SCRIPT_MESSAGE}

	def _not_json_body(self) -> bytes:
		return b'{"instance": {"state": "op'

	def _huge_payload(self, endpoint: str, session_id: str) -> dict[str, Any]:
		if endpoint == "send":
			return {"key": {"remoteJid": _jid(DEFAULT_PHONE), "fromMe": True, "id": "3EB0" + "0" * 18}}
		if endpoint == "media":
			return {"mediaType": "documentMessage", "fileName": "file", "mimetype": "application/pdf"}
		if endpoint == "status":
			return {"instance": {"instanceName": session_id, "state": "connecting"}}
		code = pairing_code(session_id, "", 0) if endpoint == "pairing" else None
		return {"pairingCode": code, "code": qr_payload(session_id, 0), "count": 1}

	def _stack_trace_payload(self, message: str) -> dict[str, Any]:
		return error(500, message)

	# -- webhooks --

	def _event(self, session: Session, event: str, data: dict[str, Any]) -> None:
		self._queue(session, event, {"data": data, "apikey": session.extra["token"]})

	def _emit_message(self, session: Session, msg: Message) -> None:
		self._event(session, "messages.upsert", self._raw(session, msg))

	def _after_send(self, session: Session, msg: Message) -> None:
		msg.extra["raw"] = raw = self._raw(session, msg)
		self._event(session, "send.message", raw)

	def _emit_ack(self, session: Session, msg: Message, status: str) -> None:
		# the order and fields of Evolution's messages.update data (participant is undefined in a 1:1 chat)
		data = {"keyId": msg.id, "remoteJid": _remote_jid(msg)}
		if self.lid_swapped and msg.lid is not None and not msg.lid_only:
			data["remoteJidAlt"] = _jid(msg.chat)  # Baileys' key as it came: not rewritten like an upsert
		data.update(
			fromMe=msg.from_me,
			status=_ACK_STATUS[status],
			instanceId=session.extra["instance_id"],
			messageId=_db_id(msg),
		)
		self._event(session, "messages.update", data)

	def _chat_jids(self, msg: Message) -> tuple[str, str | None]:
		"""(key.remoteJid, key.remoteJidAlt) of a stored message: the phone first from 2.3.7 on."""
		if msg.lid is None or msg.lid_only:
			return _remote_jid(msg), None
		lid, phone = f"{msg.lid}@lid", _jid(msg.chat)
		assert phone is not None
		return (phone, lid) if self.lid_swapped else (lid, phone)

	def _raw(self, session: Session, msg: Message) -> dict[str, Any]:
		"""The message as Evolution's prepareMessage stores, answers and announces it."""
		remote, alt = self._chat_jids(msg)
		key: dict[str, Any] = {"remoteJid": remote}
		if alt is not None:
			key["remoteJidAlt"] = alt
		key.update(fromMe=msg.from_me, id=msg.id)
		if not msg.outgoing:
			# Baileys 7 stamps received keys: how remoteJid addresses the chat
			key["addressingMode"] = "lid" if remote.endswith("@lid") else "pn"
		if msg.outgoing:
			push_name: str | None = "Você"  # sic: prepareMessage's name for the instance's own messages
			status = "PENDING"
		else:
			push_name = _PUSH_NAME if msg.from_me else msg.push_name
			status = "SERVER_ACK" if msg.from_me else "DELIVERY_ACK"
		context: dict[str, Any] | None = None
		if msg.outgoing and msg.reaction is None:  # a reaction is sent before contextInfo is attached
			# sendMessageWithTyping's contextInfo for a 1:1 chat, which Baileys keeps in the message
			context = {
				"mentionedJid": [],
				"groupMentions": [],
				"ephemeralSettingTimestamp": _long(msg.ts - 172800, False),
				"disappearingMode": {"initiator": 0},
			}
		quoted = self._messages.get((msg.session_id, msg.reply_to)) if msg.reply_to else None
		if msg.reply_to is not None:
			context = context or {}
			context["stanzaId"] = msg.reply_to
			author = (session.phone or DEFAULT_PHONE) if quoted is None or quoted.from_me else quoted.chat
			lid_author = quoted is not None and quoted.lid is not None and not quoted.from_me
			context["participant"] = f"{quoted.lid}@lid" if lid_author and quoted else _jid(author)
			if quoted is not None:
				context["quotedMessage"] = _content(quoted, None)
		content = (
			_reaction_content(msg, self._messages.get((msg.session_id, msg.reaction.target)))
			if msg.reaction is not None
			else _content(msg, context if msg.media is not None else None)
		)
		raw: dict[str, Any] = {"key": key, "pushName": push_name, "status": status, "message": content}
		if context is not None:
			raw["contextInfo"] = context
		raw.update(
			messageType=next(iter(content)),
			messageTimestamp=msg.ts,
			instanceId=session.extra["instance_id"],
			source=_device(msg.id),
		)
		return raw

	def _webhook_poll_session(self, session: Session, opts: SessionOptions, now: float) -> None:
		name = session.session_id
		if session.gone_at is not None or not session.running:
			return
		if session.connected:
			if not session.wh_connected:
				session.wh_connected = True
				data = {"instance": name, "wuid": _jid(session.phone), "profileName": "Sim", "state": "open"}
				self._event(session, "connection.update", {**data, "statusReason": 200})
			return
		if session.failed:
			if session.wh_status != "refused":
				session.wh_status = "refused"
				self._event(
					session, "connection.update", {"instance": name, "state": "refused", "statusReason": 428}
				)
			return
		if not self._qr_due(session, opts, now):
			return
		generation = self._generation(session, opts, now)
		if session.wh_generation != generation:
			session.wh_generation = generation
			self._serve_qr(session, now)
			qrcode = {
				"instance": name,
				"pairingCode": None,
				"code": qr_payload(name, generation),
				"base64": None,
			}
			self._event(session, "qrcode.updated", {"qrcode": qrcode})

	def _webhook_request(self, hook: Hook, entry: dict[str, Any]) -> tuple[str, bytes, dict[str, str]] | None:
		event = entry["event"]
		if hook.events and event.upper().replace(".", "_") not in hook.events:
			return None
		url = hook.url
		if hook.by_events:
			url = f"{url}/{event.replace('.', '-')}"  # appended as it is, as Evolution does
		headers = {"Content-Type": "application/json", **dict(hook.headers)}
		if hook.secret and hook.mode == "query":
			url += ("&" if "?" in url else "?") + urlencode({"secret": hook.secret})
		elif hook.secret and hook.mode == "secret":
			headers["X-Webhook-Secret"] = hook.secret
		data = entry["data"]["data"]
		if event == "qrcode.updated":
			data = {"qrcode": {**data["qrcode"], "base64": qr_data_uri(data["qrcode"]["code"])}}
		stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
		body = {
			"event": event,
			"instance": entry["session_id"],
			"data": data,
			"destination": url,
			"date_time": stamp,
			"sender": None,
			"server_url": self._base_url(),
			"apikey": entry["data"]["apikey"],
		}
		return url, json.dumps(body).encode("utf-8"), headers


def _truthy(value: Any) -> bool:
	"""JavaScript's truthiness of a JSON value."""
	if value is None or value is False:
		return False
	if isinstance(value, (int, float)) and not isinstance(value, bool):
		return value != 0 and not math.isnan(value)
	if isinstance(value, str):
		return value != ""
	return True  # true, objects and arrays (even empty ones)


def _is_int(value: Any) -> bool:
	return isinstance(value, int) and not isinstance(value, bool)


def _js_date_s(value: Any) -> int | None:
	"""Math.floor(new Date(value).getTime() / 1000), or None for an Invalid Date (a server on UTC)."""
	if isinstance(value, bool) or isinstance(value, (int, float)):
		ms = float(value)
	elif isinstance(value, str):
		parsed = _parse_js_date(value.strip())
		if parsed is None:
			return None
		ms = parsed.timestamp() * 1000
	else:
		return None  # objects and arrays: Invalid Date
	if math.isnan(ms) or abs(ms) > _MAX_JS_MS:
		return None
	return math.floor(math.trunc(ms) / 1000)


def _parse_js_date(text: str) -> datetime | None:
	"""The strings V8's Date accepts that a client would send: ISO 8601 (a date alone is UTC, a time without
	a zone local, here UTC) and RFC 2822."""
	m = _ISO_RE.fullmatch(text)
	if m is not None:
		date = m["date"] + "-01" * (2 - m["date"].lstrip("+-").count("-"))
		clock = (m["time"] or "00:00").split(".")
		fraction = (clock[1] + "000000")[:6] if len(clock) > 1 else "000000"
		zone = "+00:00" if m["zone"] in (None, "Z") else m["zone"]
		try:
			return datetime.fromisoformat(f"{date}T{clock[0]}.{fraction}{zone}")
		except ValueError:
			return None
	try:
		parsed = email.utils.parsedate_to_datetime(text)
	except (TypeError, ValueError, IndexError):
		return None
	return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def _key_matches(msg: Message, remote_jid: str, key: dict[str, Any]) -> bool:
	"""fetchMessages' key filters: id and remoteJid (the stored one) when given, fromMe only when true."""
	if _truthy(key.get("id")) and key["id"] != msg.id:
		return False
	if _truthy(key.get("remoteJid")) and key["remoteJid"] != remote_jid:
		return False
	return not (_truthy(key.get("fromMe")) and key["fromMe"] != msg.from_me)


def error_with(status: int, *messages: Any) -> dict[str, Any]:
	return {"status": status, "error": phrase(status), "response": {"message": list(messages)}}


def _schema_problems(data: dict[str, Any], is_media: bool) -> list[str]:
	"""jsonschema's messages for the send DTOs, as Evolution's validator words them."""
	problems = []
	required = ("number", "mediatype") if is_media else ("number", "text")
	for name in required:
		if name not in data:
			problems.append(f'instance requires property "{name}"')
	if "number" in data and not isinstance(data["number"], str):
		problems.append("Invalid format")  # the number schema's description replaces the message
	strings = ("mimetype", "media", "fileName", "caption") if is_media else ("text",)
	for name in strings:
		if name in data and not isinstance(data[name], str):
			problems.append(f"{name} is not of a type(s) string")
	if is_media and "mediatype" in data and data["mediatype"] not in _MEDIA_TYPES:
		problems.append(f"mediatype is not one of enum values: {','.join(_MEDIA_TYPES)}")
	return problems


def _read_problems(data: dict[str, Any]) -> list[str]:
	"""readMessageSchema's messages, as Evolution's validator words them."""
	if "readMessages" not in data:
		return ['instance requires property "readMessages"']
	keys = data["readMessages"]
	if not isinstance(keys, list):
		return ["readMessages is not of a type(s) array"]
	if not keys:
		return ["readMessages does not meet minimum length of 1"]
	problems = []
	if len({json.dumps(k, sort_keys=True) for k in keys}) != len(keys):
		problems.append("readMessages contains duplicate item")
	for i, key in enumerate(keys):
		if not isinstance(key, dict):
			problems.append(f"readMessages[{i}] is not of a type(s) object")
			continue
		problems += [
			f'readMessages[{i}] requires property "{n}"'
			for n in ("id", "fromMe", "remoteJid")
			if n not in key
		]
		for n in ("id", "remoteJid"):
			if n in key and not isinstance(key[n], str):
				problems.append(f"readMessages[{i}].{n} is not of a type(s) string")
			elif key.get(n) == "":
				problems.append(f'The "{n}" cannot be empty')
		if "fromMe" in key and not isinstance(key["fromMe"], bool):
			problems.append(f"readMessages[{i}].fromMe is not of a type(s) boolean")
	return problems


def _numbers_problems(numbers: Any) -> list[str]:
	"""whatsappNumberSchema's messages (an item's description replaces its own)."""
	if not isinstance(numbers, list):
		return ["numbers is not of a type(s) array"]
	if not numbers:
		return ["numbers does not meet minimum length of 1"]
	problems = []
	if len(set(map(json.dumps, numbers))) != len(numbers):
		problems.append("numbers contains duplicate item")
	if not all(isinstance(n, str) for n in numbers):
		problems.append('"numbers" must be an array of numeric strings')
	return problems


def _reaction_problems(data: dict[str, Any]) -> list[str]:
	"""reactionMessageSchema's messages, as Evolution's validator words them."""
	problems = [f'instance requires property "{n}"' for n in ("key", "reaction") if n not in data]
	key = data.get("key")
	if "key" in data and not isinstance(key, dict):
		problems.append("key is not of a type(s) object")
	if isinstance(key, dict):
		problems += [f'key requires property "{n}"' for n in ("id", "remoteJid", "fromMe") if n not in key]
		for n in ("id", "remoteJid"):
			if n in key and not isinstance(key[n], str):
				problems.append(f"key.{n} is not of a type(s) string")
			elif key.get(n) == "":
				problems.append(f'The "{n}" cannot be empty')  # isNotEmpty's description replaces the message
		if "fromMe" in key and not isinstance(key["fromMe"], bool):
			problems.append("key.fromMe is not of a type(s) boolean")
	if "reaction" in data and not isinstance(data["reaction"], str):
		problems.append("reaction is not of a type(s) string")
	return problems


def _reaction_content(msg: Message, target: Message | None) -> dict[str, Any]:
	"""message.reactionMessage: a sent one keeps the app's key and a number; Baileys decodes a received one
	with the key from our side (normaliseKey) and its int64 as a Long."""
	assert msg.reaction is not None
	ms = msg.ts * 1000
	if msg.outgoing:
		# Baileys 7's ReactionMessage.create({text, key}) plus senderTimestampMs = Date.now()
		return {
			"reactionMessage": {
				"text": msg.reaction.emoji,
				"key": msg.extra["react_key"],
				"senderTimestampMs": ms,
			}
		}
	key = {
		"remoteJid": _remote_jid(target) if target else _remote_jid(msg),
		"fromMe": bool(target and target.from_me),
	}
	key["id"] = msg.reaction.target
	return {
		"reactionMessage": {"key": key, "text": msg.reaction.emoji, "senderTimestampMs": _long(ms, False)}
	}


def _parse_number(number: str) -> tuple[str | None, str]:
	"""(digits, server) of a send's number: digits, +digits, or a jid; (None, ...) when it cannot exist."""
	user, _, server = number.partition("@")
	server = server or "s.whatsapp.net"
	user = user.removeprefix("+").replace(" ", "").replace("-", "")
	if server == "c.us":
		server = "s.whatsapp.net"
	if server not in ("s.whatsapp.net", "lid") or not DIGITS_RE.fullmatch(user):
		return None, server
	return user, server


def _sent_media(data: dict[str, Any], raw: bytes) -> Media:
	"""What Evolution makes of a sendMedia: images become JPEGs, a fileName decides the mimetype."""
	mediatype = data["mediatype"]
	file_name = data.get("fileName") or {"image": "image.jpg", "video": "video.mp4"}.get(mediatype, mediatype)
	mimetype = data.get("mimetype") or "application/octet-stream"
	if mediatype == "image":
		mimetype = "image/jpeg"
	if data.get("fileName"):
		mimetype = mimetypes.guess_type(file_name)[0] or mimetype
	return Media(raw, mimetype, file_name)


def _media_kind(msg: Message) -> str:
	assert msg.media is not None
	mediatype = msg.extra.get("mediatype")
	if mediatype not in _MEDIA_TYPES:
		mediatype = msg.media.mimetype.split("/")[0]
		mediatype = mediatype if mediatype in ("image", "video", "audio") else "document"
	return f"{mediatype}Message"


def _file_name(msg: Message, kind: str) -> str:
	assert msg.media is not None
	if kind == "documentMessage":
		return msg.media.filename
	ext = (mimetypes.guess_extension(msg.media.mimetype) or ".bin").lstrip(".")
	return f"{msg.id}.{ext}"  # getBase64FromMediaMessage's name when the message has none


def _content(msg: Message, context: dict[str, Any] | None) -> dict[str, Any]:
	"""The message content after prepareMessage: text folded into "conversation", media under its type."""
	if msg.media is None:
		return {"conversation": msg.text or ""}
	kind = _media_kind(msg)
	path = f"/v/t62.7119-24/sim_{msg.id}.enc?ccb=11-4"
	media: dict[str, Any] = {"url": f"https://mmg.whatsapp.net{path}", "mimetype": msg.media.mimetype}
	if msg.caption is not None:
		media["caption"] = msg.caption
	media.update(
		fileSha256=base64.b64encode(hashlib.sha256(msg.media.data).digest()).decode("ascii"),
		fileLength=_long(len(msg.media.data), True),
		mediaKey=base64.b64encode(hashlib.sha256(msg.id.encode()).digest()).decode("ascii"),
	)
	if kind == "documentMessage":
		media["fileName"] = msg.media.filename  # only documents carry a name in WhatsApp's protocol
	media.update(directPath=path, mediaKeyTimestamp=_long(msg.ts, False))
	if context is not None:
		media["contextInfo"] = context
	return {kind: media}


def _remote_jid(msg: Message) -> str:
	if msg.lid is not None or msg.extra.get("server") == "lid":
		return f"{msg.lid or msg.chat}@lid"
	return f"{msg.chat}@s.whatsapp.net"


def _long(value: int, unsigned: bool) -> dict[str, Any]:
	# protobuf's Long as JSON: Evolution stores and sends it as this object, not as a number
	return {"low": value & 0xFFFFFFFF, "high": value >> 32, "unsigned": unsigned}


def _device(key_id: str) -> str:
	"""Baileys' getDevice: the sender's platform guessed from the id's shape."""
	if re.fullmatch(r"3A.{18}", key_id):
		return "ios"
	if re.fullmatch(r"3E.{20}", key_id):
		return "web"
	if re.fullmatch(r".{21}|.{32}", key_id):
		return "android"
	if re.match(r"3F|.{18}$", key_id):
		return "desktop"
	return "unknown"


def _db_id(msg: Message) -> str:
	# Evolution's messages.update names its database row (a cuid) besides the key id
	if "db_id" not in msg.extra:
		alphabet = string.ascii_lowercase + string.digits
		msg.extra["db_id"] = "cm" + "".join(secrets.choice(alphabet) for _ in range(23))
	return msg.extra["db_id"]


def _qr_fields(code: tuple[str, int], pairing: str | None) -> dict[str, Any]:
	payload, count = code
	return {"pairingCode": pairing, "code": payload, "base64": qr_data_uri(payload), "count": count}


def _hook(webhook: object) -> Hook:
	"""create's webhook object -> the instance's target; ValueError says what is wrong."""
	if not isinstance(webhook, dict):
		raise ValueError('"webhook" must be an object')
	try:
		url = check_url(webhook.get("url"))
	except ValueError:
		raise ValueError('Invalid "url" property in webhook') from None
	headers = webhook.get("headers") or {}
	events = webhook.get("events") or []
	if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
		raise ValueError('"webhook.headers" must be an object of strings')
	if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
		raise ValueError('"webhook.events" must be an array of strings')
	return Hook(
		url,
		headers=tuple((str(k), v) for k, v in headers.items()),
		events=tuple(e.upper() for e in events),
		by_events=webhook.get("byEvents") is True,
	)


__all__ = ["DEFAULT_PHONE", "EvolutionSimulator"]
