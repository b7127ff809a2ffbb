"""Frappe glue for live sessions (see docs/architecture.md, 'Live sessions'): the watch list the watcher
serves, its lock and wake-up flag, the latest payload with its age, the circuit breaker's store, single
flight, worker detection and realtime pushes. Every key is site-prefixed through ``frappe.cache.make_key``
so one Redis serves many sites.

The watch list is a Redis hash (field = session) read whole by the watcher every round. Raw hash commands are
used on purpose: RedisWrapper.hget keeps a per-process copy, which a long-running job would read stale.
"""

from __future__ import annotations

import json
import secrets
import time

import frappe
import redis

from whatsapp_crm.gateway.monitor import Watch
from whatsapp_crm.gateway.policies import WATCHING
from whatsapp_crm.gateway.resilience import SlidingWindowLimit
from whatsapp_crm.integration import STORE

UPDATE_EVENT = "whatsapp_session_update"
LOST_EVENT = "whatsapp_session_lost"
# The watcher's queue. "short": every worker a bench starts (bench worker, and both supervisor workers) takes
# short jobs before default ones, so a QR is pushed even with a bulk job's hundred jobs queued on default;
# a slice holds its worker two seconds at most, so other short jobs wait little behind it.
WATCHER_QUEUE = "short"
SLICE_S = WATCHING.slice_s
LOCK_TTL_S = WATCHING.lock_ttl_s


def _read(full_key: str) -> str | None:
	value = frappe.cache.get(full_key)
	return value.decode() if isinstance(value, bytes) else value


def _key(kind: str, name: str) -> str:
	return f"whatsapp_crm:{kind}:{name}"


# -- the watcher: one job for every waiting session ----------------------------------------------------------

WATCH_KEY = "whatsapp_crm:watch"
WATCHER_LOCK = "whatsapp_crm:watcher:lock"
WATCHER_QUEUED = "whatsapp_crm:watcher:queued"
# Replace a watch only if it is still the copy the watcher read (a request may have re-armed it meanwhile).
_CAS = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and string.find(cur, ARGV[2], 1, true) then
	if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
	return 1
end
return 0
"""


class Lock:
	"""SET NX with a token and a TTL; the owner refreshes it as its heartbeat. If the owner dies, the key
	expires and the next wake-up (a request, or the scheduler every minute) starts a new owner."""

	def __init__(self, key: str, ttl_s: float) -> None:
		self.key = frappe.cache.make_key(key)
		self.ttl_ms = max(1000, int(ttl_s * 1000))
		self.token = secrets.token_hex(8)

	def acquire(self) -> bool:
		return bool(frappe.cache.set(self.key, self.token, nx=True, px=self.ttl_ms))

	def heartbeat(self) -> bool:
		"""Refresh the TTL if this owner still holds the lock; False means stop."""
		if _read(self.key) != self.token:
			return False
		frappe.cache.pexpire(self.key, self.ttl_ms)
		return True

	def release(self) -> None:
		if _read(self.key) == self.token:
			frappe.cache.delete(self.key)


def _watch_key() -> str:
	return frappe.cache.make_key(WATCH_KEY)


def watch_put(watch: Watch) -> Watch:
	"""Arm (or re-arm) a watch: a fresh token makes any copy a watcher holds stale."""
	watch.token = secrets.token_hex(8)
	redis.Redis.hset(frappe.cache, _watch_key(), watch.session, json.dumps(watch.to_dict()))
	return watch


def watch_get(session: str) -> Watch | None:
	raw = redis.Redis.hget(frappe.cache, _watch_key(), session)
	return _load_watch(raw)


def watch_all() -> list[Watch]:
	raw = redis.Redis.hgetall(frappe.cache, _watch_key())
	return [w for w in (_load_watch(v) for v in raw.values()) if w is not None]


def watch_replace(watch: Watch, new: Watch | None) -> bool:
	"""Write back the watcher's copy (None: drop it) unless the stored one was re-armed meanwhile."""
	value = json.dumps(new.to_dict()) if new is not None else ""
	marker = f'"token": "{watch.token}"'
	return bool(frappe.cache.eval(_CAS, 1, _watch_key(), watch.session, marker, value))


def watch_drop(session: str) -> None:
	redis.Redis.hdel(frappe.cache, _watch_key(), session)


def _load_watch(raw) -> Watch | None:
	try:
		return Watch.from_dict(json.loads(raw)) if raw else None
	except (ValueError, TypeError):
		return None


def watcher_alive() -> bool:
	# RedisWrapper.exists() adds the site prefix itself
	return bool(frappe.cache.exists(WATCHER_LOCK) or frappe.cache.exists(WATCHER_QUEUED))


def watched(session: str) -> bool:
	"""Whether a watcher will read this session soon: it is on the list and a watcher runs or is queued."""
	return watch_get(session) is not None and watcher_alive()


def claim_wake() -> bool:
	"""True for the one caller that should enqueue the next watcher tick (others find it queued)."""
	return bool(frappe.cache.set(frappe.cache.make_key(WATCHER_QUEUED), 1, nx=True, ex=60))


def clear_wake() -> None:
	frappe.cache.delete(frappe.cache.make_key(WATCHER_QUEUED))


def watch(doc, *, create_first: bool = False) -> None:
	"""Put a session on the watch list (re-arming it if it is there) and make sure a watcher runs."""
	now = time.time()
	watch_put(
		Watch(
			session=doc.name,
			session_id=doc.session_id,
			started=now,
			next_due=now,
			create_first=create_first,
			user=frappe.session.user,
			gateway=doc.gateway or "",
		)
	)
	wake()


def wake() -> None:
	"""Queue a tick unless one is queued already (the flag also tells a request that a watcher is coming).
	The job is named by its path: the watcher imports this module, not the other way round."""
	if claim_wake():
		frappe.enqueue(
			"whatsapp_crm.sessions.watcher.tick",
			queue=WATCHER_QUEUE,
			timeout=int(SLICE_S + LOCK_TTL_S + 60),
		)


def workers_available(queue: str = WATCHER_QUEUE) -> bool:
	"""Whether any RQ worker (idle or busy) listens on the queue. The watcher never holds a worker for
	long, so a busy one will get to it; only a site with no worker at all waits inside the request."""
	from frappe.utils.background_jobs import get_workers

	try:
		return any(any(q.endswith(queue) for q in w.queue_names()) for w in get_workers())
	except Exception:  # Redis queue down: no worker we could use
		return False


# -- webhooks heard: the watcher and the sweep leave such sessions to them ---------------------------------------


def mark_heard(session: str, ttl_s: float = 3600) -> None:
	STORE.set(_key("heard", session), str(time.time()), ttl_s)


def heard_within(session: str, seconds: float) -> bool:
	raw = STORE.get(_key("heard", session))
	try:
		return raw is not None and time.time() - float(raw) <= seconds
	except ValueError:
		return False


# -- single flight for status reads when no watcher runs ------------------------------------------------------


def try_single_flight(session: str, ttl_s: float) -> str | None:
	"""A token if this caller may talk to the gateway for the session now, else None."""
	token = secrets.token_hex(8)
	key = frappe.cache.make_key(_key("flight", session))
	return token if frappe.cache.set(key, token, nx=True, px=max(1000, int(ttl_s * 1000))) else None


def end_single_flight(session: str, token: str) -> None:
	key = frappe.cache.make_key(_key("flight", session))
	if _read(key) == token:
		frappe.cache.delete(key)


def pairing_limit(session: str, limit: int, window_s: float) -> SlidingWindowLimit:
	return SlidingWindowLimit(STORE, _key("pairing", session), limit=limit, window_s=window_s)


# -- the latest payload, shared with the web side, and its push -----------------------------------------


def store_payload(session: str, payload: dict, ttl_s: float = 600) -> None:
	payload.setdefault("debug", {})["checked_at"] = time.time()  # its age decides whether it is fresh
	STORE.set(_key("payload", session), json.dumps(payload), ttl_s)


def latest_payload(session: str) -> dict | None:
	raw = STORE.get(_key("payload", session))
	try:
		return json.loads(raw) if raw else None
	except ValueError:
		return None


def publish_update(session: str, payload: dict) -> None:
	"""Push the payload to everyone with the form open (the doc room checks read permission), once the
	change is committed."""
	frappe.publish_realtime(
		UPDATE_EVENT, payload, doctype="WhatsApp Session", docname=session, after_commit=True
	)


def fresh_payload(session: str, max_age_s: float) -> dict | None:
	"""The latest payload if it is younger than ``max_age_s`` (then nobody needs to ask the gateway again)."""
	payload = latest_payload(session)
	checked = (payload or {}).get("debug", {}).get("checked_at")
	if isinstance(checked, int | float) and time.time() - checked < max_age_s:
		return payload
	return None


def clear_payload(session: str) -> None:
	STORE.delete(_key("payload", session))
