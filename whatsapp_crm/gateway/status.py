"""Tolerant reading of gateway answers into a ``SessionState`` (docs/gateways.md, 'Reading gateway answers').

Gateways mix vocabularies (Baileys servers, WAHA, Evolution...), so the union is read case-insensitively.
An unknown status word means "waiting" and is kept verbatim for diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Kind(str, Enum):
	WAITING = "waiting"
	QR = "qr"
	CONNECTED = "connected"
	ENDED = "ended"


QR_WORDS = frozenset({"qr", "qr_code", "qr_ready", "scan_qr_code", "qrcode"})
# Waiting for the phone to approve the link (WAHA GOWS): no QR to show, and nothing failed.
CONFIRM_WORDS = frozenset({"passkey_required", "passkey_confirmation_required"})
WAITING_WORDS = (
	frozenset({"pending", "created", "starting", "initializing", "connecting", "idle"}) | CONFIRM_WORDS
)
CONNECTED_WORDS = frozenset({"open", "connected", "ready", "working", "authenticated"})
ENDED_WORDS = frozenset(
	{"close", "closed", "disconnected", "logged_out", "failed", "refused", "action_required"}
)

STATUS_KEYS = ("status", "state", "connectionStatus", "connection")
HAS_QR_KEYS = ("hasQR", "hasQr", "has_qr", "qrAvailable")
QR_KEYS = ("qr", "qrCode", "qrImage", "base64", "code")
PHONE_KEYS = ("phone", "phoneNumber", "number", "me", "wid", "jid")
# Some gateways wrap the interesting part in one of these.
ENVELOPE_KEYS = ("data", "session", "result", "instance")


@dataclass
class SessionState:
	kind: Kind
	raw_status: str | None = None
	has_qr: bool = False
	qr: str | None = None
	phone: str | None = None
	http_status: int | None = None
	unknown_status: bool = False
	extra: dict[str, Any] = field(default_factory=dict)

	@property
	def qr_available(self) -> bool:
		return self.kind == Kind.QR or self.has_qr or bool(self.qr)

	@property
	def confirm_on_phone(self) -> bool:
		return self.kind == Kind.WAITING and confirm_word(self.raw_status)


def _flatten(body: dict) -> dict:
	"""Top-level keys win; envelope dicts fill in what is missing."""
	merged: dict = {}
	for key in ENVELOPE_KEYS:
		inner = body.get(key)
		if isinstance(inner, dict):
			merged.update(inner)
	merged.update({k: v for k, v in body.items() if not isinstance(v, dict) or k not in ENVELOPE_KEYS})
	return merged


def _norm(word: Any) -> str:
	return str(word).strip().lower().replace("-", "_").replace(" ", "_")


def _truthy(value: Any) -> bool:
	if isinstance(value, str):
		return value.strip().lower() in ("1", "true", "yes")
	return bool(value)


def confirm_word(word: str | None) -> bool:
	"""Whether a status word says the phone must approve the link (then the user is told so)."""
	return bool(word) and _norm(word) in CONFIRM_WORDS


def classify(word: str | None) -> tuple[Kind, bool]:
	"""Map a status word to a Kind; the bool says whether the word was unknown."""
	if word is None or word == "":
		return Kind.WAITING, False
	w = _norm(word)
	if w in QR_WORDS:
		return Kind.QR, False
	if w in CONNECTED_WORDS:
		return Kind.CONNECTED, False
	if w in ENDED_WORDS:
		return Kind.ENDED, False
	return Kind.WAITING, w not in WAITING_WORDS


def extract_qr(body: dict) -> str | None:
	"""The QR field, whatever the gateway calls it; empty strings count as absent."""
	flat = _flatten(body)
	for key in QR_KEYS:
		value = flat.get(key)
		if isinstance(value, str) and value.strip():
			return value.strip()
	return None


def _extract_phone(flat: dict) -> str | None:
	for key in PHONE_KEYS:
		value = flat.get(key)
		if isinstance(value, dict):  # {"me": {"id": "346...:1@s.whatsapp.net"}}
			value = value.get("id") or value.get("user")
		if isinstance(value, str | int) and str(value).strip():
			# Baileys jids look like 34600111222:12@s.whatsapp.net
			return str(value).split("@", 1)[0].split(":", 1)[0][:32]
	return None


def parse_status(body: dict, http_status: int | None = None) -> SessionState:
	flat = _flatten(body)
	raw = None
	for key in STATUS_KEYS:
		value = flat.get(key)
		if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
			raw = str(value).strip()
			break
	kind, unknown = classify(raw)
	has_qr = any(_truthy(flat.get(k)) for k in HAS_QR_KEYS)
	qr = extract_qr(body)
	if kind == Kind.WAITING and (has_qr or qr):
		kind = Kind.QR
	return SessionState(
		kind=kind,
		raw_status=raw[:64] if raw else None,
		has_qr=has_qr,
		qr=qr,
		phone=_extract_phone(flat) if kind == Kind.CONNECTED else None,
		http_status=http_status,
		unknown_status=unknown,
	)


def body_failure(body: dict) -> tuple[bool, str | None, str | None]:
	"""Whether a JSON body reports a failure, with the server's error word and message (both untrusted).

	``{"success": false}`` and ``{"error": true}`` are failures whatever the status line said.
	"""
	error = body.get("error")
	failed = body.get("success") is False or error is True or (isinstance(error, str) and bool(error.strip()))
	if body.get("success") is True and error is not True:
		failed = False
	if not failed:
		return False, None, None
	error_word = (
		error if isinstance(error, str) else (body.get("code") if isinstance(body.get("code"), str) else None)
	)
	message = body.get("message") if isinstance(body.get("message"), str) else None
	return failed, (error_word or "")[:128] or None, (message or "")[:512] or None
