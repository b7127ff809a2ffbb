"""Verifying and parsing the events a gateway pushes to the app (docs/gateways.md, 'Webhooks').
Never imports frappe.

The contract, as gateway operators see it
-----------------------------------------
The gateway sends ``POST`` with a JSON object body (UTF-8, at most 256 KB) to the app's webhook endpoint::

    {
      "event": "qr" | "connection" | "logout",   (aliases below, case-insensitive)
      "sessionId": "sales-1",                     1-64 of A-Z a-z 0-9 _ -
      "id": "evt-0001",                           optional, unique per event: 1-128 of A-Z a-z 0-9 . _ : -
      "timestamp": 1700000000,                    optional, unix seconds (an integer)
      "qr": "2@...",                              required for "qr": raw QR string or data URI
      "status": "connected",                      "connection": the gateway's status word, <= 64 chars
      "phone": "34600111222"                      "connection": the linked number or jid, <= 32 chars
    }

Event names: "qr", "qr.updated", "qrcode.updated", "QRCODE_UPDATED" (a new or rotated QR); "connection",
"connection.update", "CONNECTION_UPDATE", "session.status" (a status change); "logout", "logged_out", "LOGOUT"
(the session ended and needs a new one). Other events are refused, so send only these.

Evolution API and WAHA send their own event shapes; their adapters read them (``adapters.parse_webhook``)
into the same WebhookEvent. Authentication, one of:

(a) a shared secret: header ``X-Webhook-Secret: <secret>``, or a ``secret`` query parameter in the webhook URL
    (for gateways that can send neither a header nor a signature; keep such a URL out of logs);
(b) an HMAC signature (preferred: the secret never travels): headers ``X-Webhook-Timestamp: <unix seconds>``
    and ``X-Webhook-Signature: sha256=<hex>``, where ``hex`` is HMAC-SHA256 keyed with the secret over the
    bytes ``f"{timestamp}."`` followed by the exact body bytes sent. The timestamp must be within 5 minutes
    of the app's clock, so keep the gateway's clock in sync (NTP).

(c) WAHA's own HMAC: header ``X-Webhook-Hmac: <hex HMAC-SHA512 keyed with the secret over the exact body>``
    (``X-Webhook-Hmac-Algorithm: sha512``). It has no timestamp: replays are caught by the event id.

If several are sent, any signature present must verify. Header names are case-insensitive. In Python::

    ts = int(time.time())
    sig = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"X-Webhook-Timestamp": str(ts), "X-Webhook-Signature": f"sha256={sig}"}

Answers: 2xx accepted; 413 body too large; 401 bad or missing credentials, or a timestamp outside the window;
400 not a valid event; 404 the app has no session with that id; 409 an event already received (same ``id``,
or the same body when there is no ``id``: send an ``id`` so that two identical events are not taken for one
replayed); 503 webhooks are not set up on the app (no secret configured). Do not retry 4xx answers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .client import SESSION_ID_RE
from .messaging import Ack, InboundMessage
from .status import Kind, SessionState, classify

MAX_WEBHOOK_BODY = 256 * 1024  # a long text message in a gateway's verbose envelope
MAX_QR_CHARS = 600 * 1024
MAX_STATUS_CHARS = 64
MAX_PHONE_CHARS = 32
MAX_ID_CHARS = 128

SECRET_HEADER = "X-Webhook-Secret"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
SIGNATURE_HEADER = "X-Webhook-Signature"
WAHA_HMAC_HEADER = "X-Webhook-Hmac"
WAHA_ALGORITHM_HEADER = "X-Webhook-Hmac-Algorithm"

# Event ids end up in cache keys and log lines: a tame charset keeps them harmless there.
EVENT_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE_RE = re.compile(r"^sha256=([0-9a-f]{64})$", re.IGNORECASE)
_SHA512_RE = re.compile(r"^[0-9a-f]{128}$", re.IGNORECASE)
# Seconds; anything above is a millisecond timestamp or garbage, and would be read wrongly downstream.
_MAX_EVENT_TIMESTAMP = 10**10

EVENT_ALIASES: dict[str, str] = {
	**dict.fromkeys(("qr", "qr.updated", "qrcode.updated", "qrcode_updated"), "qr"),
	**dict.fromkeys(("connection", "connection.update", "connection_update", "session.status"), "connection"),
	**dict.fromkeys(("logout", "logged_out"), "logout"),
}

HTTP_STATUS: dict[str, int] = {
	"BODY_TOO_LARGE": 413,
	"UNAUTHENTICATED": 401,
	"STALE": 401,
	"MALFORMED": 400,
	"REPLAYED": 409,
	"UNKNOWN_SESSION": 404,
	"UNKNOWN_GATEWAY": 404,
	"NOT_CONFIGURED": 503,
}


class WebhookRejected(Exception):
	"""A webhook request refused, with a stable ``code`` and the HTTP status to answer with.

	The text is built from constants and checked sizes only: never the secret, a header value or a signature.
	"""

	def __init__(self, code: str, detail: str = "") -> None:
		if code not in HTTP_STATUS:
			raise ValueError(f"unknown webhook rejection code {code!r}")
		self.code = code
		self.http_status = HTTP_STATUS[code]
		self.detail = detail
		super().__init__(f"{code}: {detail}" if detail else code)


@dataclass(frozen=True)
class WebhookEvent:
	kind: str  # "qr" | "connection" | "logout" | "message" | "ack" | "ignored" (of no interest, answered 2xx)
	session_id: str
	event_id: str | None
	timestamp: int | None
	qr: str | None
	status: str | None
	phone: str | None
	state_kind: Kind | None = None  # set by an adapter that reads its own status words
	needs_qr: bool = False  # the gateway has a QR but did not send it (WAHA): fetch it
	gateway_type: str = "baileys"  # whose shape the body had
	message: InboundMessage | None = None  # kind "message"
	ack: Ack | None = None  # kind "ack"


def _signature(body: bytes, secret: str, timestamp: str) -> str:
	return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
	"""The headers a sender sets for HMAC authentication of ``body`` at ``timestamp`` (unix seconds)."""
	if not secret:
		raise ValueError("cannot sign with an empty secret")
	ts = str(int(timestamp))
	return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: "sha256=" + _signature(bytes(body), secret, ts)}


def verify(
	headers: Mapping[str, str],
	body: bytes,
	secret: str,
	*,
	now: float,
	tolerance_s: float = 300,
	max_body: int = MAX_WEBHOOK_BODY,
	query_secret: str | None = None,
) -> str:
	"""Authenticate one webhook request; returns the method that passed: "hmac", "hmac-sha512" or "secret".

	Raises WebhookRejected (NOT_CONFIGURED, BODY_TOO_LARGE, UNAUTHENTICATED or STALE).
	"""
	if not isinstance(secret, str) or not secret:
		raise WebhookRejected("NOT_CONFIGURED", "no webhook secret is configured")
	body = bytes(body)
	if len(body) > max_body:
		raise WebhookRejected("BODY_TOO_LARGE", f"body of {len(body)} bytes is over {max_body}")
	# Empty values count as absent: a proxy may add a header without a value.
	lowered = {str(k).lower(): str(v).strip() for k, v in headers.items() if v is not None}
	signature = lowered.get(SIGNATURE_HEADER.lower(), "")
	given_secret = lowered.get(SECRET_HEADER.lower(), "") or (query_secret or "").strip()
	waha_hmac = lowered.get(WAHA_HMAC_HEADER.lower(), "")

	if waha_hmac:
		algorithm = lowered.get(WAHA_ALGORITHM_HEADER.lower(), "sha512").lower()
		expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha512).hexdigest()
		if (
			algorithm != "sha512"
			or not _SHA512_RE.match(waha_hmac)
			or not hmac.compare_digest(waha_hmac.lower().encode(), expected.encode())
		):
			raise WebhookRejected("UNAUTHENTICATED", "the HMAC-SHA512 signature does not match")
		if not signature:
			return "hmac-sha512"

	if signature:
		# Checked whenever present, so a right shared secret cannot cover for a wrong signature.
		timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
		if not _TIMESTAMP_RE.match(timestamp):
			raise WebhookRejected("UNAUTHENTICATED", f"signed request without a valid {TIMESTAMP_HEADER}")
		m = _SIGNATURE_RE.match(signature)
		expected = _signature(body, secret, timestamp)
		if m is None or not hmac.compare_digest(m.group(1).lower().encode(), expected.encode()):
			raise WebhookRejected("UNAUTHENTICATED", "the signature does not match")
		# After the signature: only an authentic sender learns that its clock is off.
		skew = now - int(timestamp)
		if abs(skew) > tolerance_s:
			raise WebhookRejected(
				"STALE", f"timestamp is {abs(skew):.0f} s {'old' if skew > 0 else 'in the future'}"
			)
		return "hmac"
	if given_secret:
		if not hmac.compare_digest(given_secret.encode("utf-8", "replace"), secret.encode("utf-8")):
			raise WebhookRejected("UNAUTHENTICATED", "the shared secret does not match")
		return "secret"
	raise WebhookRejected("UNAUTHENTICATED", f"no {SIGNATURE_HEADER} or {SECRET_HEADER} header")


def load_object(body: bytes) -> dict[str, Any]:
	"""The body as a JSON object, or WebhookRejected("MALFORMED")."""
	try:
		data = json.loads(bytes(body).decode("utf-8"))
	except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: deeply nested arrays
		raise WebhookRejected("MALFORMED", "body is not UTF-8 JSON")
	if not isinstance(data, dict):
		raise WebhookRejected("MALFORMED", "body is not a JSON object")
	return data


def session_name(value: Any, field: str) -> str:
	if not isinstance(value, str) or not SESSION_ID_RE.match(value):
		raise WebhookRejected("MALFORMED", f'"{field}" must be 1-64 characters of A-Z, a-z, 0-9, _ and -')
	return value


def bounded(value: Any, field: str, limit: int) -> str | None:
	"""A string field of a gateway's event (None when absent or blank), refused when oversize."""
	if value is None:
		return None
	if not isinstance(value, str):
		raise WebhookRejected("MALFORMED", f'"{field}" must be a string')
	if len(value) > limit:
		raise WebhookRejected("MALFORMED", f'"{field}" is longer than {limit} characters')
	return value.strip() or None


def parse_event(body: bytes) -> WebhookEvent:
	"""The event in a (verified) body; raises WebhookRejected("MALFORMED") for anything off-contract.

	Values are kept as sent (a status holding markup stays data: escape it where it is shown); only their
	types and sizes are checked.
	"""
	return parse_data(load_object(body))


def parse_data(data: dict[str, Any]) -> WebhookEvent:
	"""The Baileys contract's event in an already decoded body."""
	name = data.get("event")
	if not isinstance(name, str):
		raise WebhookRejected("MALFORMED", '"event" is missing or not a string')
	kind = EVENT_ALIASES.get(name.strip().lower())
	if kind is None:
		raise WebhookRejected("MALFORMED", f"unknown event {name[:40]!r}")

	session_id = session_name(data.get("sessionId"), "sessionId")

	event_id = data.get("id")
	if event_id is not None and (not isinstance(event_id, str) or not EVENT_ID_RE.match(event_id)):
		raise WebhookRejected(
			"MALFORMED", f'"id" must be 1-{MAX_ID_CHARS} characters of A-Z, a-z, 0-9, . _ : -'
		)

	timestamp = data.get("timestamp")
	if timestamp is not None and (
		not isinstance(timestamp, int)
		or isinstance(timestamp, bool)
		or not 0 <= timestamp <= _MAX_EVENT_TIMESTAMP
	):
		raise WebhookRejected("MALFORMED", '"timestamp" must be an integer number of unix seconds')

	qr = bounded(data.get("qr"), "qr", MAX_QR_CHARS)
	status = bounded(data.get("status"), "status", MAX_STATUS_CHARS)
	phone = bounded(data.get("phone"), "phone", MAX_PHONE_CHARS)
	if kind == "qr" and qr is None:
		raise WebhookRejected("MALFORMED", 'a qr event needs a non-empty "qr"')
	return WebhookEvent(
		kind=kind,
		session_id=session_id,
		event_id=event_id,
		timestamp=timestamp,
		qr=qr,
		status=status,
		phone=phone,
	)


def event_state(event: WebhookEvent) -> SessionState:
	"""The event as the same SessionState a status poll yields, so one code path handles both."""
	extra = {"source": "webhook", "event_id": event.event_id}
	if event.kind == "qr":
		return SessionState(kind=Kind.QR, raw_status="qr", has_qr=True, qr=event.qr, extra=extra)
	if event.kind == "logout":
		return SessionState(kind=Kind.ENDED, raw_status="logged_out", extra=extra)
	kind, unknown = (event.state_kind, False) if event.state_kind else classify(event.status)
	phone = None
	if kind == Kind.CONNECTED and event.phone:
		# Baileys jids look like 34600111222:12@s.whatsapp.net
		phone = event.phone.split("@", 1)[0].split(":", 1)[0] or None
	return SessionState(
		kind=kind,
		raw_status=event.status,
		has_qr=kind == Kind.QR,
		qr=event.qr if kind == Kind.QR else None,
		phone=phone,
		unknown_status=unknown,
		extra=extra,
	)


def replay_key(event: WebhookEvent, body: bytes) -> str:
	"""What a receiver remembers (for about the tolerance window) to refuse the same event twice."""
	if event.event_id:
		return f"id:{event.event_id}"
	return "sha256:" + hashlib.sha256(bytes(body)).hexdigest()
