"""The simulators' model: scenarios (SessionOptions, SCENARIOS, FAULTS), one session's state, a routed call,
and the deterministic QR payloads and pairing codes every gateway type hands out."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from .webhooks import Hook

FAULTS = (
	"hang",
	"unauthorized",
	"html_502",
	"success_false",
	"not_json",
	"huge_body",
	"session_lost",
	"trickle",  # status/qr: headers at once, then one body byte every 2 s
	"pairing_hang",  # only the pairing-code route hangs (real WAHA does)
	"pairing_500",  # the pairing-code route answers 500 with a stack trace
	"update_500",  # WAHA: updating an existing session's settings (PUT) answers 500
)
BODY_FAULTS = ("html_502", "success_false", "not_json", "huge_body")


@dataclass
class SessionOptions:
	qr_after_s: float = 0.0  # seconds after create before a QR exists
	qr_errors: int = 0  # first N QR requests answer a generation error (status still says a QR is available)
	rotate_s: float = 20.0  # QR payload changes every rotate_s seconds (0 = never)
	# linked (connected) this long after the first QR was served; None = only via scan()
	scan_after_s: float | None = None
	delay_s: float = 0.0  # real sleep before every answer for this session ("slow")
	fault: str | None = None  # one of FAULTS
	huge_mb: float = 5.0  # body size for fault="huge_body"
	lost_after_s: float = 0.0  # fault="session_lost": forgotten this long after create, once
	# Evolution/WAHA: the session ends (refused / FAILED) after this many QR generations without a scan
	# (needs rotate_s > 0; 0 = never). Baileys has no such state and ignores it.
	qr_limit: int = 0
	offline: bool = False  # the gateway cannot reach WhatsApp: never a QR (Evolution flips connecting/close)
	create_delay_s: float = 0.0  # real sleep before the create answer (a real Evolution takes ~5 s)
	# WAHA before its raw/JSON formats: the QR route answers a binary PNG whatever was asked
	png_only: bool = False

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
	"trickle": SessionOptions(fault="trickle"),
	"offline": SessionOptions(offline=True),
	"qr_limit": SessionOptions(rotate_s=2.0, qr_limit=3),
	"slow_create": SessionOptions(create_delay_s=5.0),
	"png_only": SessionOptions(png_only=True),
	"pairing_hang": SessionOptions(fault="pairing_hang"),
	"pairing_500": SessionOptions(fault="pairing_500"),
	"update_500": SessionOptions(fault="update_500"),
}
DEFAULT_SCENARIO = "linked"

DEFAULT_PHONE = "34600111222"
NOT_ON_WHATSAPP = "19999999999"  # sending to this number fails the gateway's way (see on_whatsapp)
PACING_ENDPOINTS = ("read", "presence", "numbers")  # mark read, typing, number checks (count() names)
PACING_LOG_MAX = 5000  # entries of each kind a session's pacing log keeps (the newest)
ACK_STATUSES = ("sent", "delivered", "read", "played", "failed")
MAX_MEDIA = 16 * 1024 * 1024  # decoded media bytes a send accepts (WhatsApp's own limit for most media)
# what a send route reads: 16 MiB as base64 plus the JSON around it, so a too-large media gets a proper answer
MAX_SEND_BODY = 23 * 1024 * 1024
DIGITS_RE = re.compile(r"[0-9]{8,15}")
_SESSION_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
PHONE_RE = re.compile(r"\+?[0-9]{8,15}")
_PAIRING_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
NGINX_502 = (
	b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
	b"<hr><center>nginx</center></body></html>"
)
SCRIPT_MESSAGE = "Something went wrong <script>alert(1)</script>"  # the client must not trust server text


def on_whatsapp(digits: str) -> bool:
	"""Whether the simulated WhatsApp has an account for the number: not NOT_ON_WHATSAPP, nor any number whose
	digits end in ``000``. Number checks say so, and a send to one fails the way its gateway fails it."""
	return digits != NOT_ON_WHATSAPP and not digits.endswith("000")


def resolve(scenario: str | SessionOptions) -> SessionOptions:
	if isinstance(scenario, SessionOptions):
		return scenario
	try:
		return SCENARIOS[scenario]
	except KeyError:
		raise ValueError(f"unknown scenario {scenario!r}; expected one of {', '.join(SCENARIOS)}") from None


def valid_id(session_id: object) -> TypeGuard[str]:
	return isinstance(session_id, str) and _SESSION_ID_RE.fullmatch(session_id) is not None


def parse_json_object(body: bytes) -> dict[str, Any] | None:
	try:
		data = json.loads(body.decode("utf-8")) if body else None
	except (UnicodeDecodeError, ValueError):
		return None
	return data if isinstance(data, dict) else None


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


@dataclass
class Session:
	session_id: str
	created_at: float  # also the QR timing's origin: (re)starting a session moves it
	qr_errors_served: int = 0
	first_qr_at: float | None = None
	connected: bool = False
	phone: str | None = None
	pairing_requests: int = 0
	running: bool = True  # False: stopped (WAHA STOPPED, Evolution close); no QR, no linking
	failed: bool = False  # the QR limit was reached: terminal until restarted
	gone_at: float | None = None  # deleted, but visible until then (Evolution's asynchronous delete)
	hooks: list[Hook] = field(default_factory=list)  # per-session webhooks (given at create)
	extra: dict[str, Any] = field(default_factory=dict)  # the type's own fields (token, config, ...)
	# what the webhook sender already announced for this session object (a re-created session starts over)
	wh_generation: int | None = None
	wh_connected: bool = False
	wh_status: str | None = None

	def start(self, now: float) -> None:
		"""(Re)connect to WhatsApp: the QR timing starts over; a linked session stays linked."""
		self.running, self.failed, self.created_at = True, False, now
		self.first_qr_at = self.wh_generation = None


@dataclass
class Route:
	endpoint: str  # the name count() knows it by
	raw_id: str | None = None  # the session id segment, still percent-encoded
	action: str | None = None  # which operation of the endpoint (control action, type-specific op)
	allowed: bool = True  # the method is allowed on this path
	public: bool = False  # answered without the key


@dataclass
class Call:
	"""One request, routed and read."""

	method: str
	path: str
	route: Route
	session_id: str | None  # percent-decoded from the path (not validated yet)
	body: bytes
	query: dict[str, list[str]]

	def arg(self, name: str) -> str | None:
		values = self.query.get(name)
		return values[0] if values else None


@dataclass
class PacingLog:
	"""What one session told WhatsApp around its sends, the newest PACING_LOG_MAX of each kind: every send the
	gateway accepted (``{"id", "to", "at"}``, ``at`` its receive time, ``time.time()``), each presence
	(``{"chat", "presence", "at"}``) and each read mark (``{"chat", "ids", "at"}``)."""

	sends: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=PACING_LOG_MAX))
	presence: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=PACING_LOG_MAX))
	reads: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=PACING_LOG_MAX))

	def as_dict(self) -> dict[str, list[dict[str, Any]]]:
		return {
			"sends": [dict(e) for e in self.sends],
			"presence": [dict(e) for e in self.presence],
			"reads": [{**e, "ids": list(e["ids"])} for e in self.reads],
		}


def control_route(parts: list[str], method: str) -> Route | None:
	if parts == ["_sim", "restart"]:
		return Route("control", None, "restart", method == "POST")
	if parts == ["_sim", "webhook"]:
		return Route("control", None, "webhook", method == "POST")
	if parts == ["_sim", "receiver"]:
		return Route("control", None, "receiver", method == "POST")
	if (
		len(parts) == 4
		and parts[:2] == ["_sim", "sessions"]
		and parts[3] in ("scan", "scenario", "inbound", "ack")
	):
		return Route("control", parts[2], parts[3], method == "POST")
	if len(parts) == 4 and parts[:2] == ["_sim", "sessions"] and parts[3] in ("sent", "pacing"):
		return Route("control", parts[2], parts[3], method == "GET")
	return None


# -- messages --


@dataclass
class Media:
	data: bytes
	mimetype: str
	filename: str

	def info(self) -> dict[str, Any]:
		return {"mimetype": self.mimetype, "filename": self.filename, "size": len(self.data)}


@dataclass
class Reaction:
	"""An emoji put on (or, as "", taken off) another message."""

	target: str  # key id of the message reacted to
	emoji: str
	named: str  # the target's id as the app (or inbound()) named it; what sent() reports


@dataclass
class Message:
	"""One message the simulator knows: arrived (inbound), typed on the phone (from_me) or sent through the API."""

	id: str  # the WhatsApp key id
	session_id: str
	chat: str  # the other party's phone digits
	from_me: bool
	outgoing: bool  # sent through the gateway's send route
	text: str | None
	caption: str | None
	media: Media | None
	reply_to: str | None  # key id of the quoted message
	at: float  # simulator clock
	ts: int  # unix seconds, as the gateway stamps it
	lid: str | None = None  # the chat's privacy id (digits); the event addresses <lid>@lid
	lid_only: bool = False  # the event carries no phone at all
	push_name: str | None = None
	extra: dict[str, Any] = field(default_factory=dict)  # the type's own fields (database id, ...)
	reaction: Reaction | None = None  # a reaction message: no text, caption nor media
	seq: int = 0  # the order the gateway stored it in (the tie-break of equal timestamps)
	acks: list[str] = field(default_factory=list)  # every ack status the gateway emitted for it, in order

	def sent_info(self) -> dict[str, Any]:
		return {
			"id": self.id,
			"session_id": self.session_id,
			"to": self.chat,
			"text": self.text,
			"caption": self.caption,
			"media": self.media.info() if self.media is not None else None,
			"reply_to": self.reply_to,
			"reaction": (
				{"messageId": self.reaction.named, "emoji": self.reaction.emoji} if self.reaction else None
			),
			"at": self.at,
		}


class SessionUnavailable(ValueError):
	"""inbound()/ack() on a session that is unknown (404) or not linked (409)."""

	def __init__(self, message: str, status: int, word: str) -> None:
		super().__init__(message)
		self.status, self.word = status, word


# emoji code points (pictographs, symbols, dingbats) and what joins or modifies them inside one emoji
_EMOJI_RANGES = ((0x2000, 0x2BFF), (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3299), (0x1F000, 0x1FAFF))
_EMOJI_JOINERS = {0x200D, 0xFE0F, 0x20E3, *range(0x1F3FB, 0x1F400), *range(0xE0020, 0xE0080)}


def one_emoji(text: str) -> bool:
	"""True for "" or a single emoji sequence (ZWJ joins, skin tones, flags, keycaps): Evolution's isEmoji, roughly.

	Evolution matches emoji-regex against the whole string; without that table, count the emoji "bases"
	that no ZWJ joins to the previous one.
	"""
	if text == "":
		return True
	bases, regional, prev, keycap = 0, 0, 0, False
	for ch in text:
		cp = ord(ch)
		if cp in _EMOJI_JOINERS:
			keycap = keycap or cp == 0x20E3
			prev = cp
			continue
		if 0x1F1E6 <= cp <= 0x1F1FF:  # regional indicators: two make one flag
			regional += 1
			if regional % 2 == 0:
				prev = cp
				continue
		elif ch in "#*0123456789":
			pass  # only as a keycap, checked below
		elif cp not in (0xA9, 0xAE) and not any(lo <= cp <= hi for lo, hi in _EMOJI_RANGES):
			return False
		if prev != 0x200D:
			bases += 1
		prev = cp
	if any(ch in "#*0123456789" for ch in text) and not keycap:
		return False
	return bases == 1


def new_message_id(hex_digits: int = 16) -> str:
	"""A WhatsApp-looking key id: "3EB0" and uppercase hex (Baileys' own ids; the length varies by version)."""
	return "3EB0" + secrets.token_hex((hex_digits + 1) // 2).upper()[:hex_digits]


def decode_base64(data: object) -> bytes | None:
	"""Strict base64 (a data: URI prefix allowed), or None."""
	if not isinstance(data, str):
		return None
	if data.startswith("data:") and ";base64," in data:
		data = data.split(";base64,", 1)[1]
	try:
		return base64.b64decode(data, validate=True)
	except (binascii.Error, ValueError):
		return None


def parse_media(raw: object) -> Media:
	"""{"data": base64, "mimetype", "filename"} -> Media; ValueError says what is wrong."""
	if not isinstance(raw, dict):
		raise ValueError("media must be an object")
	data = raw.get("data")
	decoded = data if isinstance(data, bytes) else decode_base64(data)
	if decoded is None:
		raise ValueError("media.data must be base64")
	mimetype, filename = raw.get("mimetype"), raw.get("filename")
	if not isinstance(mimetype, str) or "/" not in mimetype:
		raise ValueError("media.mimetype must be a MIME type")
	if filename is None:
		filename = "file"
	if not isinstance(filename, str) or not filename:
		raise ValueError("media.filename must be a string")
	return Media(decoded, mimetype, filename)
