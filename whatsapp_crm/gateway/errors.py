"""Typed gateway errors, each with a stable ``code`` (see docs/architecture.md, 'Typed errors').

The codes are the contract with the Frappe layer and the form: they are persisted, put in payloads and
mapped to translated messages there. Exception texts are for developers and logs; they never contain the
API key, and server text is kept apart in ``server_message`` because it is untrusted.
"""

from __future__ import annotations

# Stable codes. Never rename one: they are stored on documents and matched in JS.
QR_GENERATION_ERROR = "QR_GENERATION_ERROR"
QR_NOT_READY = "QR_NOT_READY"
TIMEOUT = "TIMEOUT"
UNREACHABLE = "UNREACHABLE"
UNAUTHORIZED = "UNAUTHORIZED"
SESSION_NOT_FOUND = "SESSION_NOT_FOUND"
SESSION_ENDED = "SESSION_ENDED"
BAD_RESPONSE = "BAD_RESPONSE"
SERVER_ERROR = "SERVER_ERROR"
NOT_CONFIGURED = "NOT_CONFIGURED"
INVALID_SESSION_ID = "INVALID_SESSION_ID"
INVALID_PHONE = "INVALID_PHONE"
SESSION_NOT_ALLOWED = "SESSION_NOT_ALLOWED"
NOT_CONNECTED = "NOT_CONNECTED"
NOT_ON_WHATSAPP = "NOT_ON_WHATSAPP"
INVALID_MESSAGE = "INVALID_MESSAGE"
MEDIA_TOO_LARGE = "MEDIA_TOO_LARGE"
MEDIA_NOT_SUPPORTED = "MEDIA_NOT_SUPPORTED"
HISTORY_UNAVAILABLE = "HISTORY_UNAVAILABLE"
LICENSE_REQUIRED = "LICENSE_REQUIRED"
CONFIRM_ON_PHONE = "CONFIRM_ON_PHONE"
CONFIG_NOT_APPLIED = "CONFIG_NOT_APPLIED"
NOT_SUPPORTED = "NOT_SUPPORTED"

ALL_CODES = (
	QR_GENERATION_ERROR,
	QR_NOT_READY,
	TIMEOUT,
	UNREACHABLE,
	UNAUTHORIZED,
	SESSION_NOT_FOUND,
	SESSION_ENDED,
	BAD_RESPONSE,
	SERVER_ERROR,
	NOT_CONFIGURED,
	SESSION_NOT_ALLOWED,
	NOT_CONNECTED,
	NOT_ON_WHATSAPP,
	INVALID_MESSAGE,
	MEDIA_TOO_LARGE,
	MEDIA_NOT_SUPPORTED,
	HISTORY_UNAVAILABLE,
	LICENSE_REQUIRED,
	CONFIRM_ON_PHONE,
	CONFIG_NOT_APPLIED,
	NOT_SUPPORTED,
)

EXCERPT_LIMIT = 1024


class GatewayError(Exception):
	"""Base of every failure talking to the gateway.

	Attributes are safe to log: method and path (never the key or the host's credentials), the HTTP status,
	the first KB of the body, and the server's own ``message``/``error`` words (untrusted, escape before
	showing them).
	"""

	code: str = SERVER_ERROR
	retryable: bool = False

	def __init__(
		self,
		detail: str = "",
		*,
		method: str | None = None,
		path: str | None = None,
		http_status: int | None = None,
		body_excerpt: str = "",
		server_error: str | None = None,
		server_message: str | None = None,
	) -> None:
		self.detail = detail
		self.method = method
		self.path = path
		self.http_status = http_status
		self.body_excerpt = body_excerpt[:EXCERPT_LIMIT]
		self.server_error = server_error
		self.server_message = server_message
		super().__init__(self._summary())

	def _summary(self) -> str:
		where = f" {self.method} {self.path}" if self.method and self.path else ""
		status = f" -> HTTP {self.http_status}" if self.http_status is not None else ""
		detail = f": {self.detail}" if self.detail else ""
		return f"{self.code}{where}{status}{detail}"

	def context(self) -> dict:
		"""The request facts, to raise another typed error about the same answer."""
		return {
			"method": self.method,
			"path": self.path,
			"http_status": self.http_status,
			"body_excerpt": self.body_excerpt,
			"server_error": self.server_error,
			"server_message": self.server_message,
		}

	def as_dict(self) -> dict:
		"""Everything an Error Log or a ``debug`` payload may hold (no secrets by construction)."""
		return {
			"code": self.code,
			"detail": self.detail,
			"method": self.method,
			"path": self.path,
			"http_status": self.http_status,
			"server_error": self.server_error,
			"server_message": self.server_message,
			"body_excerpt": self.body_excerpt,
		}


class NotConfigured(GatewayError):
	"""Settings are missing or unusable (no URL, bad URL, no key). Never retried."""

	code = NOT_CONFIGURED

	def __init__(self, detail: str = "", *, reason: str = "missing_url", **kwargs) -> None:
		# reason: missing_url | bad_url | credentials_in_url | missing_key | disabled
		self.reason = reason
		super().__init__(detail, **kwargs)


class InvalidSessionId(GatewayError, ValueError):
	"""A session id outside ``[A-Za-z0-9_-]{1,64}``; refused before any request is sent."""

	code = INVALID_SESSION_ID


class InvalidPhone(GatewayError, ValueError):
	"""A phone number that is not 8-15 digits; refused before any request (or refused by the gateway)."""

	code = INVALID_PHONE


# Why a connection failed (Unreachable.reason): what the admin fixes differs for each.
REFUSED, NO_HOST, TLS_FAILED, PLAIN_HTTP, BROKEN = "refused", "no_host", "tls", "plain_http", "failed"


class Unreachable(GatewayError):
	code = UNREACHABLE
	retryable = True

	def __init__(self, detail: str = "", *, reason: str = BROKEN, **kwargs) -> None:
		self.reason = reason  # REFUSED | NO_HOST | TLS_FAILED | PLAIN_HTTP | BROKEN
		super().__init__(detail, **kwargs)


class GatewayTimeout(GatewayError):
	code = TIMEOUT
	retryable = True


class Unauthorized(GatewayError):
	code = UNAUTHORIZED


class SessionNotFound(GatewayError):
	code = SESSION_NOT_FOUND


class SessionEnded(GatewayError):
	code = SESSION_ENDED


class SessionNotAllowed(GatewayError):
	"""The gateway refuses this session name for good (WAHA Core before 2026.6 runs only "default")."""

	code = SESSION_NOT_ALLOWED


class QrNotReady(GatewayError):
	code = QR_NOT_READY
	retryable = True


class ConfirmOnPhone(QrNotReady):
	"""No QR to show: WhatsApp waits for the phone to approve the link (WAHA GOWS' PASSKEY_REQUIRED and
	PASSKEY_CONFIRMATION_REQUIRED). Waiting, retried like a QR that is not ready."""

	code = CONFIRM_ON_PHONE


class ConfigNotApplied(GatewayError):
	"""The session exists and links, but the gateway refused its settings (webhooks, message store): said
	apart from the QR, which comes first."""

	code = CONFIG_NOT_APPLIED


class QrGenerationError(GatewayError):
	code = QR_GENERATION_ERROR
	retryable = True


class LicenseRequired(GatewayError):
	"""The gateway answers every business route "not activated" (Evolution API 2.4 before it is registered in
	its manager): final until an admin activates it, so never retried."""

	code = LICENSE_REQUIRED


class BadResponse(GatewayError):
	"""Not JSON, not an object, over the size cap, or an invalid QR: usually the URL points elsewhere."""

	code = BAD_RESPONSE


class ServerError(GatewayError):
	"""5xx (often HTML from a proxy) or a body that says it failed."""

	code = SERVER_ERROR
	retryable = True


class NotConnected(GatewayError):
	"""The session exists but no phone is linked to it: nothing can be sent until it is."""

	code = NOT_CONNECTED


class NotOnWhatsApp(GatewayError):
	"""The number has no WhatsApp account."""

	code = NOT_ON_WHATSAPP


class InvalidMessage(GatewayError, ValueError):
	"""A message the app refuses before sending (empty, too long, a bad attachment), or the gateway refused."""

	code = INVALID_MESSAGE


class MediaTooLarge(GatewayError, ValueError):
	code = MEDIA_TOO_LARGE


class MediaNotSupported(GatewayError):
	"""The gateway cannot send files (WAHA Core: a Plus feature)."""

	code = MEDIA_NOT_SUPPORTED


class NotSupported(GatewayError):
	"""The gateway has no such call: the adapter does not speak it, or the gateway answers 404/405 for the
	route itself (an older version). Final for that gateway: the caller goes on without it (an unknown
	session is still SessionNotFound)."""

	code = NOT_SUPPORTED


class HistoryUnavailable(GatewayError):
	"""The gateway keeps no message store the app can read back (WAHA with its NOWEB store off, or a version
	without the route): missed webhooks cannot be caught up. Final until the gateway is reconfigured."""

	code = HISTORY_UNAVAILABLE

	def __init__(
		self, detail: str = "", *, reason: str = "route_missing", gateway_type: str | None = None, **kwargs
	) -> None:
		# reason: store_off | route_missing; gateway_type: which remedy to name (baileys | evolution | waha)
		self.reason = reason
		self.gateway_type = gateway_type
		super().__init__(detail, **kwargs)
