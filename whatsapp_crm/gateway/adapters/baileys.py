"""The Baileys REST contract (DESIGN.md §2): the default gateway type.

Auth ``X-API-Key``. ``POST /api/sessions`` (409 = exists), ``GET /api/sessions/{id}/status`` (404 = unknown),
``GET /api/sessions/{id}/qr`` (400/404/422 = not ready; 500 ``QR_GENERATION_ERROR``), ``DELETE``,
``POST /api/sessions/{id}/pairing-code`` and ``GET /api/health``. Status words are read tolerantly (§3).
"""

from __future__ import annotations

import time

from .. import errors
from ..client import (
	PROBE_SESSION,
	CreateResult,
	GatewayClient,
	Health,
	QrAnswer,
	WebhookTarget,
	normalise_phone,
	pairing_code_from,
	short,
	validate_session_id,
)
from ..errors import (
	BadResponse,
	GatewayError,
	GatewayTimeout,
	InvalidPhone,
	QrNotReady,
	SessionNotFound,
	Unauthorized,
	Unreachable,
)
from ..status import SessionState, extract_qr, parse_status


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
		digits = normalise_phone(phone)
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
