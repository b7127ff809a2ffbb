"""GatewayClient: the one interface the rest of the app uses to talk to a gateway
(see docs/gateways.md, 'Gateway types').

Each gateway type (Baileys REST, Evolution API, WAHA) is a subclass in ``adapters/`` that owns its routes,
auth header, status words, QR forms, error shapes, pairing call and webhook events, and answers with the
same ``SessionState``, ``QrAnswer`` and typed errors. Nothing outside the adapters asks which type it is.

HTTP goes through ``transport.Transport``: explicit timeouts, a watchdog per request, a body cap, and the
key only in the auth header.
"""

from __future__ import annotations

import base64
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlsplit

from . import errors
from .errors import (
	BadResponse,
	GatewayError,
	GatewayTimeout,
	InvalidMessage,
	InvalidPhone,
	InvalidSessionId,
	LicenseRequired,
	MediaNotSupported,
	MediaTooLarge,
	NotConfigured,
	NotConnected,
	NotOnWhatsApp,
	NotSupported,
	QrGenerationError,
	QrNotReady,
	ServerError,
	SessionNotFound,
	Unauthorized,
)
from .phones import phone_digits
from .qr import MAX_IMAGE_BYTES, PNG_MAGIC

if TYPE_CHECKING:
	from .messaging import HistoryPage, InboundMessage, Media, OutgoingMessage

from .messaging import NumberCheck, SendResult
from .messaging import message_id as read_id
from .status import SessionState, body_failure
from .transport import MAX_BODY_BYTES, Reply, Timeouts, Transport

__all__ = [
	"MAX_BODY_BYTES",
	"SESSION_ID_RE",
	"CreateResult",
	"GatewayClient",
	"Health",
	"QrAnswer",
	"Timeouts",
	"WebhookTarget",
	"normalise_base_url",
	"validate_session_id",
]

SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_JID_RE = re.compile(r"^[0-9A-Za-z._:-]{1,64}@[a-z.]{1,32}$")  # a chat id a gateway names a number by
# Never a real session: the key check asks for its status and expects "unknown session".
PROBE_SESSION = "whatsapp-crm-probe-0"


@dataclass
class CreateResult:
	session_id: str
	created: bool  # False when the gateway already had it (create is idempotent)
	raw_status: str | None
	http_status: int
	config_error: GatewayError | None = None  # linked, but the gateway refused the session's settings


@dataclass
class QrAnswer:
	payload: str  # raw QR string or image data URI
	http_status: int


@dataclass
class Health:
	reachable: bool
	key_accepted: bool | None  # None: not known (the gateway was not reachable)
	http_status: int | None
	latency_ms: int | None
	name: str | None = None
	version: str | None = None
	status: str | None = None
	error: GatewayError | None = None
	gateway_type: str | None = None
	key_checked: bool = True  # False: the gateway takes any key (WAHA Core 2024)
	details: dict[str, str] = field(default_factory=dict)  # e.g. engine and tier, for display


@dataclass(frozen=True)
class WebhookTarget:
	"""Where a gateway should push its events for a session it creates (zero-setup webhooks)."""

	url: str
	secret: str


def validate_session_id(session_id: Any) -> str:
	if not isinstance(session_id, str) or not SESSION_ID_RE.match(session_id):
		raise InvalidSessionId("session id must be 1-64 characters of A-Z, a-z, 0-9, _ and -")
	return session_id


def normalise_base_url(url: Any) -> str:
	"""Check a gateway URL: http(s), a host, no credentials, no query; trailing slashes removed."""
	if not isinstance(url, str) or not url.strip():
		raise NotConfigured("gateway URL is not set", reason="missing_url")
	url = url.strip()
	try:
		parts = urlsplit(url)
		port = parts.port  # raises on a bad port
	except ValueError:
		raise NotConfigured("gateway URL is not a valid URL", reason="bad_url")
	if parts.scheme not in ("http", "https") or not parts.hostname:
		raise NotConfigured(
			"gateway URL must start with http:// or https:// and name a host", reason="bad_url"
		)
	if parts.username or parts.password or "@" in parts.netloc:
		raise NotConfigured("gateway URL must not contain credentials", reason="credentials_in_url")
	if parts.query or parts.fragment or any(c.isspace() for c in url):
		raise NotConfigured("gateway URL must not have a query, fragment or spaces", reason="bad_url")
	host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
	netloc = host + (f":{port}" if port else "")
	return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def pairing_code_from(value: Any) -> str | None:
	"""An 8-character pairing code, uppercased and without its dash, or None."""
	if not isinstance(value, str):
		return None
	code = value.strip().replace("-", "", 1)
	return code.upper() if re.fullmatch(r"[A-Za-z0-9]{8}", code) else None


def short(value: Any) -> str | None:
	return str(value)[:80] if isinstance(value, str | int | float) and not isinstance(value, bool) else None


def error_words(data: Any) -> tuple[bool, str | None, str | None]:
	"""(failed, error word, message) for the NestJS-style bodies Evolution and WAHA send:
	``{"error": "Not Found", "response": {"message": [...]}}``, ``{"statusCode", "message", "error"}`` and
	``{"error": true, "message": "..."}``. A stack trace beside them is never read."""
	if not isinstance(data, dict):
		return False, None, None
	error = data.get("error")
	failed = error is True or (isinstance(error, str) and bool(error.strip()))
	message = data.get("message")
	response = data.get("response")
	if isinstance(response, dict) and response.get("message") is not None:
		message = response["message"]
	if isinstance(message, list):
		message = "; ".join(str(m) for m in message if isinstance(m, str | int))
	message = message[:512] if isinstance(message, str) and message.strip() else None
	word = error[:128] if isinstance(error, str) and error.strip() else None
	return failed, word, message


class Budget:
	"""One caller's time for a call that takes several requests: each request gets what is left."""

	def __init__(self, timeout: float | None, default: float) -> None:
		self.ends = time.monotonic() + (default if timeout is None else timeout)

	def left(self) -> float:
		return max(0.05, self.ends - time.monotonic())

	def spent(self) -> bool:
		"""Whether the time is over: a call of many requests stops before the next one."""
		return time.monotonic() >= self.ends


class GatewayClient(ABC):
	gateway_type: ClassVar[str]
	label: ClassVar[str]  # what an admin calls it: "Evolution API"
	auth_header: ClassVar[str]
	history_newest_first: ClassVar[bool] = False  # read_messages lists a page newest first
	key_required: ClassVar[bool] = True
	# What doctor says when no key was given and the gateway wants one (types that do not require one).
	key_needed_message: ClassVar[str | None] = None
	# The versions this adapter was checked against: in the simulator (whatsapp_crm/simulator), and as a real
	# server (README, Gateways).
	simulated_versions: ClassVar[tuple[str, ...]] = ()
	real_versions: ClassVar[tuple[str, ...]] = ()

	def __init__(
		self,
		base_url: str,
		api_key: str,
		timeouts: Timeouts | None = None,
		*,
		max_body_bytes: int = MAX_BODY_BYTES,
		webhook: WebhookTarget | None = None,
	) -> None:
		self.base_url = normalise_base_url(base_url)
		# Registered on the gateway by every create (and re-create) when the app has a public URL.
		self.webhook = webhook
		api_key = api_key.strip() if isinstance(api_key, str) else ""
		if self.key_required and not api_key:
			raise NotConfigured("API key is not set", reason="missing_key")
		self.timeouts = timeouts or Timeouts()
		self.http = Transport(
			self.base_url, self.auth_header, api_key, self.timeouts, max_body_bytes=max_body_bytes
		)

	def __repr__(self) -> str:
		return f"{type(self).__name__}(base_url={self.base_url!r}, api_key='***', timeouts={self.timeouts!r})"

	def close(self) -> None:
		self.http.close()

	def __enter__(self) -> GatewayClient:
		return self

	def __exit__(self, *exc: object) -> None:
		self.close()

	# -- the interface ----------------------------------------------------------------------------------------

	@abstractmethod
	def create_session(
		self, session_id: str, *, timeout: float | None = None, webhook: WebhookTarget | None = None
	) -> CreateResult:
		"""Create (or find, and start) the session; idempotent."""

	@abstractmethod
	def get_status(self, session_id: str, *, timeout: float | None = None) -> SessionState:
		"""The session's state; a QR already in the answer is returned in ``state.qr``."""

	@abstractmethod
	def get_qr(self, session_id: str, *, timeout: float | None = None) -> QrAnswer:
		"""The current QR (raw payload or image data URI); QrNotReady while there is none."""

	@abstractmethod
	def delete_session(self, session_id: str, *, timeout: float | None = None) -> bool:
		"""Unlink and remove the session: True when deleted now, False when the gateway did not know it."""

	@abstractmethod
	def request_pairing_code(self, session_id: str, phone: str, *, timeout: float | None = None) -> str:
		"""An 8-character code (uppercase, no dash) to type on the phone instead of scanning a QR."""

	@abstractmethod
	def health(self, *, timeout: float | None = None) -> Health:
		"""Reachability, what the gateway says about itself, and whether it accepts the key."""

	@abstractmethod
	def send_message(
		self, session_id: str, message: OutgoingMessage, *, timeout: float | None = None
	) -> SendResult:
		"""Send a text or a file (with its caption) through a linked session: the gateway's message id.
		NotConnected when no phone is linked, NotOnWhatsApp for a number without WhatsApp."""

	@abstractmethod
	def download_media(
		self, session_id: str, message: InboundMessage, *, timeout: float | None = None
	) -> Media:
		"""The file of an inbound message, within MAX_MEDIA_BYTES."""

	def history_problem(self, *, timeout: float | None = None) -> str | None:
		"""Why this gateway cannot list past messages at all (a HistoryUnavailable reason), or None. Only what
		holds for the whole gateway: a session's own store is found out by reading it."""
		return None

	@abstractmethod
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
		"""One page of the messages the gateway stored for the session with a timestamp (unix s) within
		[since, until], in the gateway's own order; pass the page's ``next_cursor`` for the next one.
		HistoryUnavailable when the gateway keeps no readable store (final: say so, do not retry)."""

	# -- pacing: what a careful sender does before sending (see docs/gateways.md, 'Pacing calls per gateway') --
	# Not every gateway has them: the defaults raise NotSupported, and so does an adapter whose gateway answers
	# 404/405 for the route itself (an older version). The app still sends without them, paced.

	def mark_read(
		self, session_id: str, chat: str, message_ids: Sequence[str], *, timeout: float | None = None
	) -> None:
		"""Mark the customer's messages ``message_ids`` in the chat with ``chat`` (digits, as a send's ``to``)
		read: blue ticks on their phone. NotConnected when no phone is linked."""
		raise NotSupported(f"{self.label} cannot mark messages read")

	def start_typing(self, session_id: str, chat: str, *, timeout: float | None = None) -> None:
		"""Show "typing..." in the chat with ``chat`` (presence ``composing``)."""
		raise NotSupported(f"{self.label} cannot show typing")

	def stop_typing(self, session_id: str, chat: str, *, timeout: float | None = None) -> None:
		"""Stop showing "typing..." in the chat with ``chat`` (presence ``paused``)."""
		raise NotSupported(f"{self.label} cannot show typing")

	def check_numbers(
		self, session_id: str, numbers: Sequence[str], *, timeout: float | None = None
	) -> dict[str, NumberCheck]:
		"""Whether each number (digits) has a WhatsApp account, by its digits. At most MAX_CHECK_NUMBERS
		(InvalidMessage beyond, before any request); each number is checked like a send's ``to``."""
		raise NotSupported(f"{self.label} cannot check numbers")

	# -- shared plumbing for the adapters --------------------------------------------------------------------

	@staticmethod
	def _seg(session_id: str) -> str:
		return quote(validate_session_id(session_id), safe="")

	def _send(self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any) -> Reply:
		return self.http.request(method, path, timeout=timeout, **kwargs)

	def _describe(self, data: Any) -> tuple[bool, str | None, str | None]:
		"""(failed, error word, message) of a body; adapters read their gateway's error shape."""
		return body_failure(data) if isinstance(data, dict) else (False, None, None)

	def _check(
		self,
		reply: Reply,
		*,
		not_found: type[GatewayError] | None = None,
		not_ready: tuple[int, ...] = (),
		want: type = dict,
	) -> Any:
		"""The reply's JSON value when it is a success, else the typed error (the common HTTP semantics).
		``want=object`` accepts any body, an empty one included (deletes and logouts)."""
		failed, err_word, message = self._describe(reply.data)
		ctx = {
			**reply.context(),
			"server_error": self.http.redact(err_word) if err_word else None,
			"server_message": self.http.redact(message) if message else None,
		}
		status = reply.status
		if status in (401, 403):
			raise Unauthorized("the gateway refused the API key", **ctx)
		if (err_word or "").upper() == errors.QR_GENERATION_ERROR:
			raise QrGenerationError("the gateway failed to generate the QR", **ctx)
		if status == 404 and reply.data is None and reply.raw.strip():
			# A web page, not a gateway's answer (a file server or a proxy at this URL): never "session unknown".
			raise BadResponse("HTTP 404 with a body that is not the gateway's JSON", **ctx)
		if (err_word or "").upper() in ("SESSION_NOT_FOUND", "NOT_FOUND") and not_found is not None:
			raise SessionNotFound("the gateway does not know this session", **ctx)
		if status in not_ready:
			raise QrNotReady("the QR is not ready yet", **ctx)
		if status == 404 and not_found is not None:
			raise not_found("not found", **ctx)
		if status >= 500:
			raise ServerError("the gateway answered with a server error", **ctx)
		if status >= 300:
			raise BadResponse(f"unexpected HTTP {status}", **ctx)
		if want is not object and not isinstance(reply.data, want):
			raise BadResponse(f"the answer is not a JSON {'object' if want is dict else 'array'}", **ctx)
		if failed:
			raise ServerError("the gateway said the call failed", **ctx)
		return reply.data

	def _sent(self, reply: Reply, message_id: Any) -> SendResult:
		"""A send's answer: the message id it names, or the typed error of a refusal."""
		try:
			self._check(reply, not_found=SessionNotFound, want=object)
		except GatewayError as e:
			raise send_error(e) from None
		found = read_id(message_id(reply.data) if isinstance(reply.data, dict) else None)
		if found is None:
			raise BadResponse("the answer names no message id", **_private(reply.context()))
		return SendResult(found, reply.status)

	def _route_missing(self, reply: Reply) -> bool:
		"""Whether the gateway answered that it has no such route (an older version), not that the session is
		unknown: a 405, or a 404 with the framework's ``Cannot POST /path`` (Evolution's Express, WAHA's
		NestJS). The Baileys contract overrides it."""
		if reply.status == 405:
			return True
		message = (self._describe(reply.data)[2] or "").lower()
		return reply.status == 404 and message.startswith("cannot ")

	def _paced(
		self,
		method: str,
		path: str,
		what: str,
		*,
		timeout: float | None,
		want: type = object,
		**kwargs: Any,
	) -> Any:
		"""One pacing request (``what`` names it for NotSupported): see _paced_reply."""
		return self._paced_reply(self._send(method, path, timeout=timeout, **kwargs), what, want=want)

	def _paced_reply(self, reply: Reply, what: str, *, want: type = object) -> Any:
		"""A pacing answer's JSON value; NotSupported when the gateway lacks the route, else the error a send
		would get for the same answer (NotConnected, SessionNotFound...), without the body excerpt."""
		if self._route_missing(reply):
			raise NotSupported(f"the gateway has no route to {what}", **_private(reply.context()))
		try:
			return self._check(reply, not_found=SessionNotFound, want=want)
		except GatewayError as e:
			raise send_error(e) from None

	def _logout_then_delete(
		self, logout: tuple[str, str], delete: tuple[str, str], timeout: float | None
	) -> bool:
		"""Unlink first, so the phone drops the device (a session that is not linked refuses, which is fine),
		then remove it. False when the gateway did not know the session."""
		budget = Budget(timeout, self.timeouts.read)
		for step, (method, path) in enumerate((logout, delete)):
			try:
				self._check(
					self._send(method, path, timeout=budget.left()), not_found=SessionNotFound, want=object
				)
			except SessionNotFound:
				return False
			except (BadResponse, ServerError):
				if step == 1:
					raise
		return True

	def _png_reply(self, reply: Reply) -> str:
		"""A binary PNG answer as a data URI, after the same checks a data URI gets."""
		if len(reply.raw) > MAX_IMAGE_BYTES or not reply.raw.startswith(PNG_MAGIC):
			raise BadResponse("the QR image is not a PNG within the size cap", **reply.context())
		return "data:image/png;base64," + base64.b64encode(reply.raw).decode("ascii")


def out_of_time(budget: Budget, done: int, total: int) -> None:
	"""GatewayTimeout when a call of many requests has used its caller's time before request ``done + 1``."""
	if done and budget.spent():
		raise GatewayTimeout(f"the caller's time ran out after {done} of {total} requests")


def number_checks(reply: Reply, wanted: list[str], rows: Any, read: Any) -> dict[str, NumberCheck]:
	"""check_numbers' answer by number: ``read(row)`` gives (number, exists, jid) of one row of ``rows``;
	every number asked about must be answered. BadResponse otherwise, without the excerpt (it lists numbers)."""
	if not isinstance(rows, list):
		raise BadResponse("the answer holds no list of numbers", **_private(reply.context()))
	found: dict[str, NumberCheck] = {}
	for row in rows:
		if not isinstance(row, dict):
			continue
		number, exists, jid = read(row)
		digits = _digits_or_none(number)
		if digits in wanted and digits not in found:
			jid = jid if exists and isinstance(jid, str) and _JID_RE.match(jid) else None
			found[digits] = NumberCheck(digits, exists, jid)
	if len(found) != len(wanted):
		raise BadResponse("the answer does not name every number asked about", **_private(reply.context()))
	return {number: found[number] for number in wanted}


def _digits_or_none(value: Any) -> str | None:
	try:
		return phone_digits(str(value).split("@", 1)[0]) if isinstance(value, str | int) else None
	except InvalidPhone:
		return None


def _private(ctx: dict) -> dict:
	# A send's answer may echo the text or the number: never into an error that gets logged.
	return {**ctx, "body_excerpt": ""}


def send_error(e: GatewayError) -> GatewayError:
	"""A failed send as the error that says why, in every gateway's words; without the body excerpt."""
	words = f"{e.server_error or ''} {e.server_message or ''}".lower()
	excerpt = e.body_excerpt.replace(" ", "").lower()
	ctx = _private(e.context())
	if isinstance(e, SessionNotFound | Unauthorized | LicenseRequired) or (
		e.retryable and not isinstance(e, ServerError)
	):
		return type(e)(e.detail, **ctx)
	if "not_on_whatsapp" in words or '"exists":false' in excerpt:
		return NotOnWhatsApp("the number has no WhatsApp account", **ctx)
	if any(
		w in words
		for w in (
			"not_connected",
			"not connected",
			"connection closed",
			"not as expected",
			"not ready",
			# Evolution 2.3.6 with a closed instance: its socket is gone, so the send trips over it.
			"reading 'onwhatsapp'",
			"reading 'wauploadtoserver'",
		)
	):
		return NotConnected("no phone is linked to the session", **ctx)
	if e.http_status == 413 or "too_large" in words or "too large" in words:
		return MediaTooLarge("the gateway refused the file's size", **ctx)
	if "plus" in words:
		return MediaNotSupported("the gateway cannot send files", **ctx)
	if "invalid_phone" in words:
		return InvalidPhone("the gateway refused the phone number", **ctx)
	if "invalid_message" in words or e.http_status == 400:
		return InvalidMessage("the gateway refused the message", **ctx)
	return type(e)(e.detail, **ctx)
