"""One watcher for every waiting session (DESIGN.md §9): its cost does not grow with the sessions.

A session that waits for its QR or its scan is put on a watch list (live.watch_put) and the watcher is woken.
The watcher is a short job on the ``default`` queue: one lock for the site, rounds in which every due session
gets one read (the reads overlapped in threads, bounded), each session on its own schedule (gateway.monitor
.step), writes and pushes only on change. After a slice of a few seconds it gives its worker back and queues
the next tick while anything still waits, so other jobs never wait long behind it, and twenty people linking
phones at once cost one worker for a few seconds at a time.

If its worker dies, the lock expires; the next request about a watched session, or the scheduler within a
minute, wakes a new one.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import frappe

from whatsapp_crm.gateway.acquire import outcome_from_error
from whatsapp_crm.gateway.errors import GatewayError
from whatsapp_crm.gateway.monitor import MonitorPolicy, Watch, read_once, step
from whatsapp_crm.integration import client_factory, get_settings, logger, policy_from
from whatsapp_crm.sessions import live

SLICE_S = 3.0  # how long one tick holds its worker before it yields
MAX_PARALLEL = 8  # gateway reads in flight at once
WEBHOOK_PERIOD_S = 10.0  # with a session's webhooks arriving, reads are only a safety net
LOCK_TTL_S = 30.0  # a dead watcher is replaced within this (plus the next wake-up)


def watch(doc, *, create_first: bool = False) -> None:
	"""Put a session on the watch list (re-arming it if it is there) and make sure a watcher runs."""
	now = time.time()
	live.watch_put(
		Watch(
			session=doc.name,
			session_id=doc.session_id,
			started=now,
			next_due=now,
			create_first=create_first,
			user=frappe.session.user,
		)
	)
	wake()


def wake() -> None:
	"""Queue a tick unless one is queued already (the flag also tells a request that a watcher is coming)."""
	if live.claim_wake():
		frappe.enqueue(
			"whatsapp_crm.sessions.watcher.tick",
			queue=live.WATCHER_QUEUE,
			timeout=int(SLICE_S + LOCK_TTL_S + 60),
		)


def keep_alive() -> None:
	"""Scheduler, every minute: a watch list with no watcher (its worker died) gets one."""
	if live.watch_all() and not live.watcher_alive():
		wake()


def tick(slice_s: float = SLICE_S, requeue: bool = True) -> str:
	"""One slice of watching. Returns why it ended: idle, slice, busy (another tick runs) or stopped.
	(``requeue=False`` lets a test run slices in-process.)"""
	live.clear_wake()  # from here on, a new wake-up queues the next tick
	lock = live.Lock(live.WATCHER_LOCK, LOCK_TTL_S)
	if not lock.acquire():
		return "busy"  # the running tick reads the list every round: it will see what woke this one
	try:
		reason = _slice(lock, slice_s)
	finally:
		lock.release()
	# After the release, so that a session added in between is never left without a watcher.
	if requeue and reason != "idle" and live.watch_all():
		wake()
	return reason


def _slice(lock: live.Lock, slice_s: float) -> str:
	ends = time.monotonic() + slice_s
	while True:
		watches = live.watch_all()
		if not watches:
			return "idle"
		now = time.time()
		due = [w for w in watches if w.next_due <= now]
		if due:
			_round(due)
		if not lock.heartbeat():
			return "stopped"
		left = ends - time.monotonic()
		if left <= 0:
			return "slice"
		upcoming = min((w.next_due for w in live.watch_all()), default=time.time() + left)
		time.sleep(max(0.05, min(upcoming - time.time(), left, 0.5)))


def _round(due: list[Watch]) -> None:
	frappe.db.commit()  # nosemgrep: ends the snapshot, so this round sees what requests committed since
	settings = get_settings()
	policy = policy_from(settings)
	mpolicy = MonitorPolicy(cap_s=settings.monitor_cap, poll_s=min(2.0, settings.poll_interval))
	breaker = live.breaker_for(settings.gateway_url)
	state = breaker.state()
	if state.open:
		for w in due:  # a dead gateway is not asked again before the breaker's period ends
			w.next_due = time.time() + state.retry_in_s
			live.watch_replace(w, w)
		return
	try:
		make = client_factory(settings)
	except GatewayError as e:
		for w in due:
			_apply(w, outcome_from_error(w.session_id, e, policy), mpolicy)
		return

	def read(w: Watch):
		try:
			with make() as client:
				return read_once(client, w, policy)
		except Exception:  # a bug for one session must not stop the watching of the others
			logger().exception("session=%s op=watch read failed", w.session)
			return None

	with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(due)), thread_name_prefix="wa-watch") as pool:
		outcomes = list(pool.map(read, due))
	for w, outcome in zip(due, outcomes, strict=True):
		if outcome is None:
			w.next_due = time.time() + mpolicy.poll_s
			live.watch_replace(w, w)
			continue
		breaker.record(outcome.error.code if outcome.error else None)
		_apply(w, outcome, mpolicy)


def _apply(w: Watch, outcome, mpolicy: MonitorPolicy) -> None:
	from whatsapp_crm.sessions.service import SessionService

	result = step(w, outcome, time.time(), mpolicy)
	if result.changed:
		if not frappe.db.exists("WhatsApp Session", w.session):
			live.watch_replace(w, None)
			return
		# The latest committed row (a locking read), not this job's older snapshot: a webhook may have stored
		# news a moment ago.
		service = SessionService(frappe.get_doc("WhatsApp Session", w.session, for_update=True))
		# A QR read taken before the phone was linked is old news once the session shows Connected.
		stale = service.doc.status == "Connected" and outcome.state in ("qr", "waiting")
		if not stale and (outcome.error is not None or not service.unchanged(outcome)):
			frappe.set_user_lang(w.user or "Administrator")
			service.persist(outcome, "watcher")
			frappe.db.commit()  # nosemgrep: each change is visible (and pushed) as it happens
	if result.stop:
		live.watch_replace(w, None)
		logger().info("session=%s op=watch stopped reason=%s", w.session, result.stop)
		return
	if live.heard_within(w.session, mpolicy.cap_s):
		# Its gateway pushes this session's news: reads are only the safety net.
		w.next_due = max(w.next_due, time.time() + WEBHOOK_PERIOD_S)
	live.watch_replace(w, w)
