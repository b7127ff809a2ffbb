"""Frappe glue shared by the controllers: settings -> policy, translated messages, the Error Log
(once per window, surviving a failed request), the per-attempt log line and realtime progress.

The protocol and the retry policy live in ``whatsapp_crm.gateway``; nothing here talks HTTP itself. A
session's gateway server (client, breaker, webhook target, health) is ``whatsapp_crm.gateway_records.config``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

import frappe
from frappe import _
from frappe.utils import add_to_date, now_datetime

from whatsapp_crm.gateway import errors, texts
from whatsapp_crm.gateway.acquire import Attempt, QrOutcome, QrPolicy
from whatsapp_crm.gateway.adapters import AUTO, Detection, detect, make_client
from whatsapp_crm.gateway.client import GatewayClient, Timeouts, WebhookTarget
from whatsapp_crm.gateway.errors import GatewayError, NotConfigured

SETTINGS = "WhatsApp CRM Settings"
SESSION = "WhatsApp Session"
MANAGER_ROLE = "WhatsApp Manager"
PROGRESS_EVENT = "whatsapp_session_progress"

# Error Log titles: short, fixed, untranslated (they are the Error Log's `method`, a 140-char field).
TITLE_QR = "WhatsApp QR Generation Error"
TITLE_GATEWAY = "WhatsApp Gateway Error"
TITLE_LOST = "WhatsApp Session Lost"  # the health check found a linked phone gone
# Outcomes that are news for an admin. QR_NOT_READY and SESSION_ENDED are normal life, not failures.
LOGGED_CODES = frozenset(
	{
		errors.TIMEOUT,
		errors.UNREACHABLE,
		errors.UNAUTHORIZED,
		errors.BAD_RESPONSE,
		errors.SERVER_ERROR,
		errors.NOT_CONFIGURED,
		errors.SESSION_NOT_FOUND,
		errors.SESSION_NOT_ALLOWED,
		errors.LICENSE_REQUIRED,
	}
)


class RedisStore:
	"""The gateway layer's Store (breakers, limits) over frappe.cache: site-prefixed keys, a TTL on every
	value."""

	def get(self, key: str) -> str | None:
		value = frappe.cache.get(frappe.cache.make_key(key))
		return value.decode() if isinstance(value, bytes) else value

	def set(self, key: str, value: str, ttl_s: float) -> None:
		frappe.cache.set(frappe.cache.make_key(key), value, px=max(1, int(ttl_s * 1000)))

	def delete(self, key: str) -> None:
		frappe.cache.delete(frappe.cache.make_key(key))


STORE = RedisStore()


def logger() -> logging.Logger:
	log = frappe.logger("whatsapp_crm", allow_site=True)
	# Frappe's default level is WARNING; one INFO line per attempt is the point of this log.
	log.setLevel(logging.INFO)
	return log


def get_settings():
	return frappe.get_cached_doc(SETTINGS)


def policy_from(settings) -> QrPolicy:
	return QrPolicy(
		max_attempts=settings.max_attempts,
		connect_timeout=settings.connect_timeout,
		status_timeout=settings.status_timeout,
		qr_timeout=settings.qr_timeout,
		not_ready_wait=settings.wait_initial,
		not_ready_step=settings.wait_step,
		not_ready_max=settings.wait_max,
		qr_error_wait=settings.qr_error_wait,
		timeout_wait=settings.timeout_wait,
		deadline=settings.deadline,
		poll_interval=settings.poll_interval,
	)


def timeouts_from(settings) -> Timeouts:
	return Timeouts(connect=settings.connect_timeout, read=max(settings.status_timeout, settings.qr_timeout))


def code_message(code: str) -> str:
	return _(texts.for_code(code))


def say(payload: dict, template: str, args: list | tuple = ()) -> dict:
	"""Set a payload's message in the current language, and keep the English template and its arguments
	so each viewer's form can show it in their own language (pushed payloads are built in a job)."""
	payload["message"] = _(template).format(*args)
	payload["message_template"] = template
	payload["message_args"] = [str(a) for a in args]
	return payload


def say_outcome(payload: dict, outcome: QrOutcome) -> dict:
	return say(payload, *texts.for_outcome(outcome.state, outcome.error_code, outcome.phone))


def log_attempt(session: str, operation: str, attempt: Attempt) -> None:
	logger().info(
		"session=%s op=%s attempt=%s outcome=%s http=%s elapsed_ms=%s gateway_status=%s wait_s=%s",
		session,
		operation,
		attempt.number,
		attempt.outcome,
		attempt.http_status,
		attempt.elapsed_ms,
		attempt.gateway_status,
		attempt.wait_s,
	)


def publish_progress(session: str, attempt: Attempt) -> None:
	"""Tell the user's browser what the gateway just answered, while the request is still running."""
	frappe.publish_realtime(
		PROGRESS_EVENT,
		{
			"session": session,
			"attempt": attempt.number,
			"outcome": attempt.outcome,
			"wait_s": attempt.wait_s,
			"elapsed_ms": attempt.elapsed_ms,
			"message": code_message(attempt.outcome)
			if attempt.outcome not in ("qr", "connected", "recreated")
			else "",
		},
		user=frappe.session.user,
	)


def failures_to_log(outcome: QrOutcome) -> list[tuple[str, GatewayError, int]]:
	"""(title, error, attempt number) for each distinct failure an admin should see."""
	seen: dict[str, tuple[str, GatewayError, int]] = {}
	for number, error in outcome.failures:
		if error.code == errors.QR_GENERATION_ERROR:
			seen.setdefault(error.code, (TITLE_QR, error, number))
		elif error.code == errors.CONFIG_NOT_APPLIED:
			seen.setdefault(error.code, (TITLE_GATEWAY, error, number))
	if outcome.error is not None and outcome.error.code in LOGGED_CODES:
		number = outcome.attempts[-1].number if outcome.attempts else 0
		seen[outcome.error.code] = (TITLE_GATEWAY, outcome.error, number)
	return list(seen.values())


def log_gateway_error(
	title: str,
	error: GatewayError,
	session: str,
	*,
	attempt: int = 0,
	elapsed_ms: int = 0,
	operation: str = "",
	message_name: str | None = None,
) -> str:
	"""Write (or count again) an Error Log entry for this failure of this session, and commit it.

	The same code for the same session within the settings' window updates the existing entry's count
	instead of adding one per poll. The commit makes the entry survive a request that fails later; callers
	persist the session's own state before calling this, so nothing half-done is committed with it.
	"""
	window = get_settings().error_log_window or 10
	since = add_to_date(now_datetime(), minutes=-window)
	marker = f"code: {error.code}"
	existing = frappe.get_all(
		"Error Log",
		filters={
			"method": title,
			"reference_doctype": SESSION,
			"reference_name": session,
			"creation": (">", since),
			"error": ("like", f"%{marker}\n%"),
		},
		fields=["name", "error"],
		order_by="creation desc",
		limit=1,
	)
	details = _details(error, session, attempt=attempt, elapsed_ms=elapsed_ms, operation=operation)
	if existing:
		entry = existing[0]
		count = _count(entry.error) + 1
		if message_name:
			details = _messages_line(entry.error, message_name) + details
		text = f"occurrences: {count} in the last {window} min\n{details}"
		frappe.db.set_value("Error Log", entry.name, "error", text, update_modified=False)
		name = entry.name
	else:
		if message_name:
			details = _messages_line("", message_name) + details
		text = f"occurrences: 1 in the last {window} min\n{details}"
		name = frappe.log_error(
			title=title, message=text, reference_doctype=SESSION, reference_name=session
		).name
	frappe.db.commit()  # nosemgrep: the entry must survive a request that fails after this point
	return name


MESSAGES_PREFIX = "messages: "
MAX_NAMES = 500  # an entry names at most this many messages (the Error Log's text stays readable)


def _messages_line(text: str, name: str) -> str:
	"""The entry's "messages:" line with one more name: an admin finds every message of the window."""
	line = next((x for x in (text or "").split("\n") if x.startswith(MESSAGES_PREFIX)), "")
	names = [n for n in line[len(MESSAGES_PREFIX) :].split(", ") if n]
	if name not in names and len(names) < MAX_NAMES:
		names.append(name)
	return f"{MESSAGES_PREFIX}{', '.join(names)}\n"


def _count(text: str) -> int:
	first = (text or "").split("\n", 1)[0]
	try:
		return int(first.split(":", 1)[1].split()[0])
	except (IndexError, ValueError):
		return 1


def _details(error: GatewayError, session: str, *, attempt: int, elapsed_ms: int, operation: str) -> str:
	d = error.as_dict()
	lines = [
		f"code: {error.code}",
		f"session: {session}",
		f"operation: {operation}",
		f"request: {d['method'] or '-'} {d['path'] or '-'}",
		f"http status: {d['http_status'] if d['http_status'] is not None else '-'}",
		f"attempt: {attempt}",
		f"elapsed: {elapsed_ms} ms",
		f"detail: {d['detail']}",
		f"gateway error: {d['server_error'] or '-'}",
		f"gateway message: {d['server_message'] or '-'}",
		"body (first 1 KB):",
		d["body_excerpt"] or "-",
	]
	return "\n".join(lines)
