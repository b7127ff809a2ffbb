"""GatewayClient: the only place that speaks HTTP to the Baileys gateway (DESIGN.md §2).

One ``requests.Session`` (keep-alive), explicit (connect, read) timeouts, no adapter retries (the retry
policy lives in ``acquire.py``), bodies read under a 1 MB cap, ids validated and percent-encoded, and the
API key sent only as the ``X-API-Key`` header: never in a URL, a repr, an exception or a log line.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from . import errors
from .errors import (
	BadResponse,
	GatewayError,
	GatewayTimeout,
	InvalidPhone,
	InvalidSessionId,
	NotConfigured,
	QrGenerationError,
	QrNotReady,
	ServerError,
	SessionNotFound,
	Unauthorized,
	Unreachable,
)
from .status import SessionState, body_failure, extract_qr, parse_status

log = logging.getLogger("whatsapp_crm.gateway")

SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_BODY_BYTES = 1024 * 1024
USER_AGENT = "whatsapp_crm-gateway-client"


@dataclass(frozen=True)
class Timeouts:
	connect: float = 3.0
	read: float = 10.0

	def clipped(self, read: float | None) -> tuple[float, float]:
		"""(connect, read) for one request; a caller's budget can only shorten them."""
		if read is None:
			return (self.connect, self.read)
		read = max(0.05, min(self.read, read))
		return (min(self.connect, read), read)


@dataclass
class CreateResult:
	session_id: str
	created: bool  # False when the gateway already had it (409 is success: create is idempotent)
	raw_status: str | None
	http_status: int


@dataclass
class QrAnswer:
	payload: str  # raw QR string or data URI, as the gateway sent it
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


def validate_session_id(session_id: Any) -> str:
	if not isinstance(session_id, str) or not SESSION_ID_RE.match(session_id):
		raise InvalidSessionId("session id must be 1-64 characters of A-Z, a-z, 0-9, _ and -")
	return session_id


def normalise_phone(phone: Any) -> str:
	"""International number as digits: spaces, dashes, parentheses and a leading "+" dropped; 8-15 digits."""
	digits = re.sub(r"[\s()-]", "", phone) if isinstance(phone, str) else ""
	digits = digits.removeprefix("+")
	if not re.fullmatch(r"[0-9]{8,15}", digits):
		# The number itself is personal data: never in the message.
		raise InvalidPhone("phone number must be 8-15 digits, with an optional leading +")
	return digits


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


class GatewayClient:
	def __init__(
		self,
		base_url: str,
		api_key: str,
		timeouts: Timeouts | None = None,
		*,
		max_body_bytes: int = MAX_BODY_BYTES,
	) -> None:
		self.base_url = normalise_base_url(base_url)
		if not isinstance(api_key, str) or not api_key.strip():
			raise NotConfigured("API key is not set", reason="missing_key")
		self._api_key = api_key.strip()
		self.timeouts = timeouts or Timeouts()
		self.max_body_bytes = max_body_bytes
		self._http = requests.Session()
		# Explicitly no adapter retries: tenacity in acquire.py owns the policy.
		adapter = HTTPAdapter(max_retries=0, pool_maxsize=4)
		self._http.mount("http://", adapter)
		self._http.mount("https://", adapter)
		self._http.headers.update(
			{"X-API-Key": self._api_key, "Accept": "application/json", "User-Agent": USER_AGENT}
		)

	def __repr__(self) -> str:
		return f"GatewayClient(base_url={self.base_url!r}, api_key='***', timeouts={self.timeouts!r})"

	def close(self) -> None:
		self._http.close()

	def __enter__(self) -> GatewayClient:
		return self

	def __exit__(self, *exc: object) -> None:
		self.close()

	# -- the contract -------------------------------------------------------------------------------------

	def create_session(self, session_id: str, *, timeout: float | None = None) -> CreateResult:
		validate_session_id(session_id)
		try:
			status, body = self._call(
				"POST", "/api/sessions", json_body={"sessionId": session_id}, timeout=timeout
			)
		except GatewayError as e:
			if e.http_status == 409:
				return CreateResult(session_id, created=False, raw_status=None, http_status=409)
			raise
		state = parse_status(body, status)
		return CreateResult(session_id, created=True, raw_status=state.raw_status, http_status=status)

	def get_status(self, session_id: str, *, timeout: float | None = None) -> SessionState:
		path = f"/api/sessions/{self._seg(session_id)}/status"
		status, body = self._call("GET", path, timeout=timeout, not_found=SessionNotFound)
		return parse_status(body, status)

	def get_qr(self, session_id: str, *, timeout: float | None = None) -> QrAnswer:
		path = f"/api/sessions/{self._seg(session_id)}/qr"
		status, body = self._call(
			"GET", path, timeout=timeout, not_found=QrNotReady, not_ready=(400, 404, 422)
		)
		payload = extract_qr(body)
		if not payload:
			raise QrNotReady("the answer holds no QR", method="GET", path=path, http_status=status)
		return QrAnswer(payload=payload, http_status=status)

	def delete_session(self, session_id: str, *, timeout: float | None = None) -> bool:
		"""True when deleted now, False when the gateway did not know it (already gone)."""
		path = f"/api/sessions/{self._seg(session_id)}"
		try:
			self._call("DELETE", path, timeout=timeout, not_found=SessionNotFound)
		except SessionNotFound:
			return False
		return True

	def request_pairing_code(self, session_id: str, phone: str, *, timeout: float | None = None) -> str:
		"""Ask for an 8-character code to link by typing it on the phone instead of scanning a QR.

		``phone`` is the number to link, international format: spaces, dashes, parentheses and a leading "+"
		are dropped; what remains must be 8-15 digits. Returns the code uppercased, without a dash.
		"""
		path = f"/api/sessions/{self._seg(session_id)}/pairing-code"
		digits = normalise_phone(phone)
		try:
			status, body = self._call(
				"POST", path, json_body={"phoneNumber": digits}, timeout=timeout, not_found=SessionNotFound
			)
		except BadResponse as e:
			if (e.server_error or "").upper() == errors.INVALID_PHONE:
				# The gateway's own rules are stricter: still the user's input, not a broken gateway.
				raise InvalidPhone(
					"the gateway refused the phone number",
					method=e.method,
					path=e.path,
					http_status=e.http_status,
					body_excerpt=e.body_excerpt,
					server_error=e.server_error,
					server_message=e.server_message,
				)
			raise
		for key in ("code", "pairingCode", "pairing_code"):
			value = body.get(key)
			if isinstance(value, str):
				code = value.strip().replace("-", "", 1)
				if re.fullmatch(r"[A-Za-z0-9]{8}", code):
					return code.upper()
		raise BadResponse(
			"the answer holds no 8-character pairing code", method="POST", path=path, http_status=status
		)

	def health(self, *, timeout: float | None = None) -> Health:
		"""Reachability and self-description (``GET /api/health``), then a key check.

		The key check asks for the status of a session that cannot exist: 404 means the key was accepted,
		401/403 that it was not. No session is created.
		"""
		started = time.monotonic()
		info: dict = {}
		http_status = None
		try:
			http_status, info = self._call("GET", "/api/health", timeout=timeout)
		except (Unreachable, GatewayTimeout, Unauthorized) as e:
			if not isinstance(e, Unauthorized):
				return Health(False, None, e.http_status, None, error=e)
			http_status = e.http_status
		except GatewayError as e:
			http_status = e.http_status  # reachable, but no health route: the key check still tells a lot
		latency_ms = int((time.monotonic() - started) * 1000)
		key_accepted: bool | None
		error = None
		try:
			self.get_status("whatsapp-crm-probe-0", timeout=timeout)
			key_accepted = True
		except SessionNotFound:
			key_accepted = True
		except Unauthorized as e:
			key_accepted, error = False, e
		except GatewayError as e:
			key_accepted, error = None, e
		return Health(
			reachable=True,
			key_accepted=key_accepted,
			http_status=http_status,
			latency_ms=latency_ms,
			name=_short(info.get("name")),
			version=_short(info.get("version")),
			status=_short(info.get("status")),
			error=error,
		)

	# -- plumbing -------------------------------------------------------------------------------------------

	@staticmethod
	def _seg(session_id: str) -> str:
		return quote(validate_session_id(session_id), safe="")

	def _redact(self, text: str) -> str:
		return text.replace(self._api_key, "***") if self._api_key in text else text

	def _call(
		self,
		method: str,
		path: str,
		*,
		json_body: dict | None = None,
		timeout: float | None = None,
		not_found: type[GatewayError] | None = None,
		not_ready: tuple[int, ...] = (),
	) -> tuple[int, dict]:
		"""Send one request and return (HTTP status, JSON object), or raise the typed error."""
		ctx = {"method": method, "path": path}
		connect_t, read_t = self.timeouts.clipped(timeout)
		started = time.monotonic()
		try:
			resp = self._http.request(
				method,
				self.base_url + path,
				json=json_body,
				timeout=(connect_t, read_t),
				stream=True,
				allow_redirects=False,
			)
		except requests.exceptions.ConnectTimeout:
			raise GatewayTimeout(f"no connection within {connect_t:g} s", **ctx)
		except requests.exceptions.Timeout:
			raise GatewayTimeout(f"no answer within {read_t:g} s", **ctx)
		except requests.exceptions.ConnectionError as e:
			raise Unreachable(_connection_reason(e), **ctx)
		except requests.exceptions.RequestException as e:
			raise Unreachable(type(e).__name__, **ctx)
		try:
			raw = self._read_capped(resp, started + read_t, ctx)
		finally:
			resp.close()
		status = resp.status_code
		ctx["http_status"] = status
		text = self._redact(raw[: errors.EXCERPT_LIMIT].decode("utf-8", "replace"))
		ctx["body_excerpt"] = text
		log.debug("%s %s -> %s in %d ms", method, path, status, (time.monotonic() - started) * 1000)

		body = _json_object(raw)
		failed, err_word, message = body_failure(body) if body is not None else (False, None, None)
		ctx["server_error"] = self._redact(err_word) if err_word else None
		ctx["server_message"] = self._redact(message) if message else None
		if status in (401, 403):
			raise Unauthorized("the gateway refused the API key", **ctx)
		if (err_word or "").upper() == errors.QR_GENERATION_ERROR:
			raise QrGenerationError("the gateway failed to generate the QR", **ctx)
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
		if body is None:
			raise BadResponse("the answer is not a JSON object", **ctx)
		if failed:
			raise ServerError("the gateway said the call failed", **ctx)
		return status, body

	def _read_capped(self, resp: requests.Response, deadline: float, ctx: dict) -> bytes:
		length = resp.headers.get("Content-Length")
		if length and length.isdigit() and int(length) > self.max_body_bytes:
			raise BadResponse(
				f"answer of {int(length)} bytes is over the {self.max_body_bytes} byte cap",
				http_status=resp.status_code,
				**ctx,
			)
		chunks, size = [], 0
		try:
			for chunk in resp.iter_content(64 * 1024):
				size += len(chunk)
				if size > self.max_body_bytes:
					raise BadResponse(
						f"answer is over the {self.max_body_bytes} byte cap",
						http_status=resp.status_code,
						**ctx,
					)
				if time.monotonic() > deadline:
					# A server that trickles bytes would dodge the per-read timeout.
					raise GatewayTimeout(
						"the answer took too long to arrive", http_status=resp.status_code, **ctx
					)
				chunks.append(chunk)
		except requests.exceptions.RequestException as e:
			if isinstance(e.__context__, TimeoutError) or "timed out" in str(e).lower():
				raise GatewayTimeout("the answer stopped arriving", http_status=resp.status_code, **ctx)
			raise Unreachable(
				"the connection broke while reading the answer", http_status=resp.status_code, **ctx
			)
		return b"".join(chunks)


def _json_object(raw: bytes) -> dict | None:
	try:
		value = json.loads(raw.decode("utf-8"))
	except (UnicodeDecodeError, ValueError):
		return None
	return value if isinstance(value, dict) else None


def _connection_reason(e: Exception) -> str:
	text = str(e).lower()
	if "refused" in text:
		return "connection refused"
	if "name or service not known" in text or "nodename nor servname" in text or "resolution" in text:
		return "host name not found"
	return "connection failed"


def _short(value: Any) -> str | None:
	return str(value)[:80] if isinstance(value, str | int | float) and not isinstance(value, bool) else None
