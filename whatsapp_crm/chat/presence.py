"""Who else has a conversation open in the inbox: each open page says so every 20 s (``viewing``); a
mark older than a minute has gone. Kept in Redis, shared by every web worker; a change is announced on
``whatsapp_inbox_viewers`` to those in the conversation, so their pages update at once."""

from __future__ import annotations

import time

import frappe

EVENT = "whatsapp_inbox_viewers"
STALE_S = 60


def _key(conversation: str) -> str:
	return f"whatsapp_crm:viewers:{conversation}"


def seen(conversation: str, user: str) -> list[dict]:
	"""``user`` has the conversation open now; the others who do."""
	cache = frappe.cache()
	key = _key(conversation)
	now = time.time()
	before = set(_fresh(cache.hgetall(key) or {}, now))
	cache.hset(key, user, now)
	cache.expire(cache.make_key(key), STALE_S * 2)  # a page closed without a word leaves nothing behind
	viewers = before | {user}
	if user not in before:
		tell(conversation, viewers)
	return people(sorted(viewers - {user}))


def tell(conversation: str, viewers: set[str]) -> None:
	"""Only those in the conversation hear who is in it."""
	for viewer in viewers:
		frappe.publish_realtime(
			EVENT, {"conversation": conversation, "viewers": sorted(viewers)}, user=viewer
		)


def left(conversation: str, user: str) -> None:
	cache = frappe.cache()
	cache.hdel(_key(conversation), user)
	tell(conversation, set(_fresh(cache.hgetall(_key(conversation)) or {}, time.time())))


def _fresh(marks: dict, now: float) -> list[str]:
	out = []
	for user, at in marks.items():
		user = user.decode() if isinstance(user, bytes) else user
		try:
			if now - float(at) < STALE_S:
				out.append(user)
		except (TypeError, ValueError):
			continue
	return out


def people(users: list[str]) -> list[dict]:
	if not users:
		return []
	rows = frappe.get_all("User", filters={"name": ("in", users)}, fields=["name", "full_name", "user_image"])
	return [{"user": r.name, "full_name": r.full_name or r.name, "image": r.user_image} for r in rows]
