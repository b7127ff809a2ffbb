"""Short-lived facts about gateway message ids, shared by the webhook and the send jobs (Redis, site-prefixed).

- Claims: the first holder of a message id wins, so a message is stored once however often the gateway
  repeats it, and the gateway's echo of a message the app itself sent is not stored twice.
- Early acks: a receipt can arrive before the send job has stored the id it is about; it waits here.
- Privacy ids: WhatsApp may name a chat by a ``@lid`` instead of its number; a number seen with it once is
  remembered, so that later messages of that chat still reach the right Lead.
"""

from __future__ import annotations

import frappe

from whatsapp_crm.gateway.messaging import keep_status

CLAIM_TTL_S = 3 * 24 * 3600
ACK_TTL_S = 600
LID_TTL_S = 90 * 24 * 3600


def _key(*parts: str) -> str:
	return frappe.cache.make_key("whatsapp_crm:msg:" + ":".join(parts))


def _get(key: str) -> str | None:
	value = frappe.cache.get(key)
	return value.decode() if isinstance(value, bytes) else value


def claim(session: str, message_id: str, holder: str) -> str | None:
	"""Take a message id for ``holder``: None when it is now ours, else who already holds it."""
	key = _key("claim", session, message_id)
	if frappe.cache.set(key, holder, nx=True, ex=CLAIM_TTL_S):
		return None
	return _get(key) or ""


def take_over(session: str, message_id: str, holder: str) -> None:
	frappe.cache.set(_key("claim", session, message_id), holder, ex=CLAIM_TTL_S)


def remember_ack(session: str, message_id: str, status: str) -> None:
	key = _key("ack", session, message_id)
	if keep_status(_get(key), status):
		frappe.cache.set(key, status, ex=ACK_TTL_S)


def pending_status(session: str, message_id: str, status: str) -> str:
	"""``status``, or the further one an ack brought before the id was stored."""
	early = _get(_key("ack", session, message_id))
	return early if early and keep_status(status, early) else status


def remember_lid(lid: str, phone: str) -> None:
	frappe.cache.set(_key("lid", lid), phone, ex=LID_TTL_S)


def phone_for_lid(lid: str) -> str | None:
	return _get(_key("lid", lid))
