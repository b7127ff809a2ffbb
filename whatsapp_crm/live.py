"""Frappe glue for live sessions (DESIGN.md §9): Redis-backed locks, heartbeat, the latest payload, the
circuit breaker's store, worker detection and realtime pushes. Every key is site-prefixed through
``frappe.cache.make_key`` so one Redis serves many sites safely.
"""

from __future__ import annotations

import json
import secrets

import frappe

from whatsapp_crm.gateway.resilience import CircuitBreaker, SlidingWindowLimit

UPDATE_EVENT = "whatsapp_session_update"
MONITOR_QUEUE = "short"


def _read(full_key: str) -> str | None:
	value = frappe.cache.get(full_key)
	return value.decode() if isinstance(value, bytes) else value


class RedisStore:
	"""The gateway layer's Store over frappe.cache (site-prefixed keys, TTL on every value)."""

	def get(self, key: str) -> str | None:
		return _read(frappe.cache.make_key(key))

	def set(self, key: str, value: str, ttl_s: float) -> None:
		frappe.cache.set(frappe.cache.make_key(key), value, px=max(1, int(ttl_s * 1000)))

	def delete(self, key: str) -> None:
		frappe.cache.delete(frappe.cache.make_key(key))


STORE = RedisStore()


def _key(kind: str, name: str) -> str:
	return f"whatsapp_crm:{kind}:{name}"


# -- one monitor per session, across workers and hosts ------------------------------------------------------


class MonitorLock:
	"""SET NX with a token and a TTL; the owner refreshes it as its heartbeat. If the owner dies, the key
	expires and the next Status or create starts a new monitor."""

	def __init__(self, session: str, ttl_s: float) -> None:
		self.key = frappe.cache.make_key(_key("monitor", session))
		self.ttl_ms = max(1000, int(ttl_s * 1000))
		self.token = secrets.token_hex(8)

	def acquire(self) -> bool:
		return bool(frappe.cache.set(self.key, self.token, nx=True, px=self.ttl_ms))

	def heartbeat(self) -> bool:
		"""Refresh the TTL if this monitor still owns the lock; False means stop."""
		if _read(self.key) != self.token:
			return False
		frappe.cache.pexpire(self.key, self.ttl_ms)
		return True

	def release(self) -> None:
		if _read(self.key) == self.token:
			frappe.cache.delete(self.key)


def monitor_alive(session: str) -> bool:
	# RedisWrapper.exists() adds the site prefix itself
	return bool(frappe.cache.exists(_key("monitor", session)))


def stop_monitor(session: str) -> None:
	"""Take the lock away: the monitor's next heartbeat fails and it stops (within one poll)."""
	STORE.delete(_key("monitor", session))


def workers_available(queue: str = MONITOR_QUEUE) -> bool:
	"""Whether an idle RQ worker listens on the queue. A monitor holds its worker while it waits (up to
	its cap), so one queued behind busy workers would deliver nothing for minutes: better to wait in the
	request then."""
	from frappe.utils.background_jobs import get_workers

	try:
		return any(
			w.get_state() == "idle" and any(q.endswith(queue) for q in w.queue_names()) for w in get_workers()
		)
	except Exception:  # Redis queue down: no worker we could use
		return False


def monitor_job_id(session: str) -> str:
	return f"whatsapp_crm_monitor::{session}"


# -- single flight for status reads when no monitor runs ------------------------------------------------------


def try_single_flight(session: str, ttl_s: float) -> str | None:
	"""A token if this caller may talk to the gateway for the session now, else None."""
	token = secrets.token_hex(8)
	key = frappe.cache.make_key(_key("flight", session))
	return token if frappe.cache.set(key, token, nx=True, px=max(1000, int(ttl_s * 1000))) else None


def end_single_flight(session: str, token: str) -> None:
	key = frappe.cache.make_key(_key("flight", session))
	if _read(key) == token:
		frappe.cache.delete(key)


def breaker_for(gateway_url: str) -> CircuitBreaker:
	# One breaker per gateway: a dead gateway is dead for every session behind it.
	return CircuitBreaker(STORE, _key("breaker", gateway_url or "-"))


def pairing_limit(session: str, limit: int, window_s: float) -> SlidingWindowLimit:
	return SlidingWindowLimit(STORE, _key("pairing", session), limit=limit, window_s=window_s)


# -- the latest payload, shared with the web side, and its push -----------------------------------------


def store_payload(session: str, payload: dict, ttl_s: float = 600) -> None:
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


def clear_payload(session: str) -> None:
	STORE.delete(_key("payload", session))
