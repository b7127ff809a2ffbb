"""The last messages of each session, for its form (an admin checks the path end to end, with or without
Frappe CRM). Kept in Redis for a week, never in a log: message texts are personal data."""

from __future__ import annotations

import json

import frappe
import redis
from frappe.utils import now_datetime

from whatsapp_crm.gateway.messaging import keep_status

KEEP = 20
TTL_S = 7 * 24 * 3600
TEXT_CHARS = 300
EVENT = "whatsapp_session_messages"


def _key(session: str) -> str:
	return frappe.cache.make_key(f"whatsapp_crm:recent:{session}")


def entries(session: str) -> list[dict]:
	rows = redis.Redis.lrange(frappe.cache, _key(session), 0, KEEP - 1) or []
	return [json.loads(row) for row in rows]


def add(
	session: str,
	message_id: str,
	direction: str,
	number: str | None,
	text: str | None,
	status: str,
	error: str | None = None,
) -> None:
	if any(row["id"] == message_id for row in entries(session)):
		return
	row = {
		"id": message_id,
		"direction": direction,
		"number": number,
		"text": (text or "")[:TEXT_CHARS],
		"status": status,
		"error": error,
		"at": str(now_datetime()),
	}
	pipe = frappe.cache.pipeline()
	pipe.lpush(_key(session), json.dumps(row))
	pipe.ltrim(_key(session), 0, KEEP - 1)
	pipe.expire(_key(session), TTL_S)
	pipe.execute()
	_changed(session)


def update(
	session: str, message_id: str, status: str, *, new_id: str | None = None, error: str | None = None
) -> None:
	"""A status (or the gateway's id for a queued test message) for a listed message."""
	rows = entries(session)
	changed = False
	for row in rows:
		if row["id"] == message_id and (new_id or error or keep_status(row["status"], status)):
			row["status"], row["error"] = status, error
			row["id"] = new_id or row["id"]
			changed = True
	if not changed:
		return
	key = _key(session)
	pipe = frappe.cache.pipeline()  # a plain redis pipeline: keys are already site-prefixed
	pipe.delete(key)
	pipe.rpush(key, *(json.dumps(row) for row in rows))
	pipe.expire(key, TTL_S)
	pipe.execute()
	_changed(session)


def _changed(session: str) -> None:
	# Only a signal: the form asks for the list through a permission-checked call.
	frappe.publish_realtime(EVENT, {"name": session}, doctype="WhatsApp Session", docname=session)
