"""Catch-up on the Frappe side: when to reconcile a session, the job that does it, and what the form shows.

The reading and paging are ``gateway/catchup.py``'s; storing goes through ``inbound.receive``, the webhook's
once-only path. Triggers: a session that becomes Connected (its history event), the schedule (Catch-up
Interval), a site that comes back (the scheduler's own heartbeat was quiet), and the Sync messages button.
One job per session at a time (a job id and a Redis lock); a run is bounded and the next one resumes.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import frappe
from frappe import _
from frappe.utils import add_days, get_datetime, get_system_timezone, now_datetime

from whatsapp_crm.chat import inbound, provider
from whatsapp_crm.gateway import errors, texts
from whatsapp_crm.gateway.acquire import CONNECTED, QrOutcome
from whatsapp_crm.gateway.catchup import DUPLICATE, SKIPPED, STORED, Reconciler, SyncState
from whatsapp_crm.gateway.errors import GatewayError, HistoryUnavailable, SessionNotFound
from whatsapp_crm.gateway.messaging import InboundMessage
from whatsapp_crm.gateway.policies import CATCHUP
from whatsapp_crm.gateway_records.config import client_for
from whatsapp_crm.integration import SESSION, get_settings, log_gateway_error, logger
from whatsapp_crm.sessions import history, sweep

TITLE_SYNC = "WhatsApp Catch-up Failed"
SYNC_EVENT = "whatsapp_session_sync"
QUEUE = "long"
MAX_PAGES = CATCHUP.max_pages
BUDGET_S = CATCHUP.budget_s
TICK_KEY = "whatsapp_crm:catchup:tick"
LOCK_TTL_S = CATCHUP.lock_ttl_s
SITE_QUIET_S = CATCHUP.site_quiet_s
# A gateway that keeps no history says so once; the schedule asks again only after this long.
UNAVAILABLE_BACKOFF_H = CATCHUP.unavailable_backoff_h
SCHEDULE, LINKED, SITE_BACK, BY_HAND = "schedule", "linked", "site_back", "by_hand"


def to_unix(value) -> int:
	"""A Frappe datetime (naive, in the site's time zone) as unix seconds."""
	return int(get_datetime(value).replace(tzinfo=ZoneInfo(get_system_timezone())).timestamp())


def from_unix(ts: int | float) -> datetime:
	"""Unix seconds as a Frappe datetime (naive, in the site's time zone)."""
	return (
		datetime.fromtimestamp(ts, tz=timezone.utc)
		.astimezone(ZoneInfo(get_system_timezone()))
		.replace(tzinfo=None)
	)


def request(session: str, since: str | None = None) -> dict:
	"""Sync messages (the caller checked write permission): validate ``since`` and queue the job."""
	if since:
		try:
			when = get_datetime(since)
		except Exception:
			when = None
		if when is None or when > now_datetime():
			frappe.throw(_("Since must be a date and time in the past."), title=_("Invalid date"))
		since = str(when)
	if not enqueue(session, BY_HAND, since):
		return {"queued": False, "message": _("A catch-up of this session is already running.")}
	return {
		"queued": True,
		"message": _("Catch-up started: messages the webhooks missed are being read back from the gateway."),
	}


def job_id(session: str) -> str:
	return f"whatsapp_crm:catchup:{session}"


def enqueue(session: str, reason: str, since: str | None = None) -> bool:
	"""Queue one catch-up for a session (none if one is already queued or running)."""
	from frappe.utils.background_jobs import is_job_enqueued

	if is_job_enqueued(job_id(session)):
		return False
	frappe.enqueue(
		"whatsapp_crm.chat.catchup.sync_session",
		queue=QUEUE,
		job_id=job_id(session),
		deduplicate=True,
		enqueue_after_commit=True,
		session=session,
		reason=reason,
		since=since,
	)
	return True


def on_session_event(event, method: str | None = None) -> None:
	"""WhatsApp Session Event after_insert: a session that becomes Connected reads what it missed."""
	if event.to_status == CONNECTED and event.from_status != CONNECTED:
		enqueue(event.session, LINKED)


def run_due() -> None:
	"""Scheduler, every minute: queue the sessions that are due (or all, when the site was down)."""
	settings = get_settings()
	if not settings.enabled:
		return
	cache_key = frappe.cache.make_key(TICK_KEY)
	last = frappe.cache.get(cache_key)
	now = now_datetime()
	frappe.cache.set(cache_key, now.timestamp(), ex=24 * 3600)
	site_back = last is not None and now.timestamp() - float(last) > SITE_QUIET_S
	interval = int(settings.sync_interval or 0)
	for row in due_sessions(now, interval, site_back):
		enqueue(row, SITE_BACK if site_back else SCHEDULE)


def due_sessions(now: datetime, interval: int, site_back: bool) -> list[str]:
	rows = frappe.get_all(
		SESSION,
		filters={"status": CONNECTED},
		fields=["name", "last_sync_at", "sync_state"],
	)
	due = []
	for row in rows:
		data = _stored(row.sync_state)
		state = load_state(data)
		unavailable = data.get("error_code") == errors.HISTORY_UNAVAILABLE
		age_s = (now - get_datetime(row.last_sync_at)).total_seconds() if row.last_sync_at else None
		if unavailable and age_s is not None and age_s < UNAVAILABLE_BACKOFF_H * 3600:
			continue
		if (
			site_back
			or state.in_window  # a window left unfinished by a bounded run or a failure
			or (interval and (age_s is None or age_s >= interval * 60 - 5))
		):
			due.append(row.name)
	return due


def sync_session(session: str, reason: str = SCHEDULE, since: str | None = None) -> dict:
	"""The job: one bounded reconcile of one session. Returns what it did (the benchmark reads it)."""
	lock = frappe.cache.make_key(f"whatsapp_crm:catchup:lock:{session}")
	if not frappe.cache.set(lock, 1, nx=True, ex=LOCK_TTL_S):
		return {"session": session, "skipped": "running"}
	try:
		return _sync(session, reason, since)
	finally:
		frappe.cache.delete(lock)


def _sync(session: str, reason: str, since: str | None) -> dict:
	if not frappe.db.exists(SESSION, session):
		return {"session": session, "skipped": "deleted"}  # deleted after the job was queued
	doc = frappe.get_doc(SESSION, session)
	if doc.status != CONNECTED and reason != BY_HAND:
		return {"session": session, "skipped": "not_connected"}
	state = load_state(doc.sync_state)
	if state.watermark is None and not state.in_window and doc.connected_at:
		# First catch-up of a session: from when it was linked, not its whole WhatsApp history.
		state = SyncState(watermark=to_unix(doc.connected_at))
	since_ts = to_unix(since) if since else None
	account = provider.account_for_session(session)
	ordinal: dict[int, int] = {}

	def store(message: InboundMessage) -> str:
		outcome = inbound.receive(session, message)
		name = outcome.get("stored")
		if name:
			if message.timestamp:
				# CRM's tab orders by creation: a recovered message takes its place in the conversation.
				n = ordinal[message.timestamp] = ordinal.get(message.timestamp, -1) + 1
				at = from_unix(message.timestamp).replace(microsecond=min(n, 999999))
				frappe.db.set_value(provider.MESSAGE, name, "creation", at, update_modified=False)
			return STORED
		if outcome.get("duplicate"):
			return DUPLICATE
		return SKIPPED

	def known(page: list[InboundMessage]) -> set[str]:
		names = {inbound.gateway_name(session, m.id): m.id for m in page}
		found = set(frappe.get_all(provider.MESSAGE, filters={"name": ("in", list(names))}, pluck="name"))
		ids = {names[n] for n in found}
		if account:
			ours = [m.id for m in page if m.from_me and m.id not in ids]
			if ours:
				ids |= set(
					frappe.get_all(
						provider.MESSAGE,
						filters={"message_id": ("in", ours), "whatsapp_account": account},
						pluck="message_id",
					)
				)
		return ids

	try:
		client = client_for(doc)
	except GatewayError as e:
		return _finish(doc, state, None, e, reason)
	with client:
		reconciler = Reconciler(client, doc.session_id, max_pages=MAX_PAGES, budget_s=BUDGET_S)
		result = reconciler.run(
			state,
			store,
			lambda ack: inbound.apply_ack(session, ack),
			since=since_ts,
			known=known,
			after_page=lambda state: _keep_progress(session, state),
		)
	return _finish(doc, result.state, result, result.error, reason)


def _keep_progress(session: str, state: SyncState) -> None:
	"""A page's messages and the cursor past them, committed together: a job that dies resumes here, and
	webhooks of the same messages never wait long on the rows this job inserted."""
	frappe.db.set_value(SESSION, session, "sync_state", dump_state(state), update_modified=False)
	frappe.db.commit()  # nosemgrep: progress of a long job, page by page


def _finish(doc, state: SyncState, result, error: GatewayError | None, reason: str) -> dict:
	found = result.stored if result else 0
	values = {
		"last_sync_at": now_datetime(),
		"last_sync_found": found,
		"last_sync_error": problem_text(error) if error else None,
		"sync_state": dump_state(state, error),
	}
	if state.watermark:
		values["sync_watermark"] = from_unix(state.watermark)
	frappe.db.set_value(SESSION, doc.name, values, update_modified=False)
	if found:
		history.record(
			doc.name,
			doc.status,
			doc.status,
			history.CATCH_UP,
			reason=_("Recovered {0} messages that the webhooks had missed.").format(found),
			messages_found=found,
		)
	frappe.db.commit()  # nosemgrep: the stored messages and the new watermark, before any log below
	if isinstance(error, SessionNotFound):
		# The gateway forgot the session: the incident the health sweep reports, so it is recorded once, as
		# a lost session (Disconnected, one "WhatsApp Session Lost" entry, the owner told), not twice.
		lost = QrOutcome(
			session_id=doc.session_id, state="ended", error=error, last_http_status=error.http_status
		)
		sweep.mark_lost(doc.name, "unknown", lost)
	elif error is not None and not isinstance(error, HistoryUnavailable):
		log_gateway_error(TITLE_SYNC, error, doc.name, operation="catch-up")
	stats = {
		"session": doc.name,
		"reason": reason,
		"found": found,
		"duplicates": result.duplicates if result else 0,
		"skipped": result.skipped if result else 0,
		"acks": result.acks if result else 0,
		"pages": result.pages if result else 0,
		"complete": bool(result and result.complete),
		"error": error.code if error else None,
	}
	logger().info("op=catchup %s", " ".join(f"{k}={v}" for k, v in stats.items()))
	frappe.publish_realtime(SYNC_EVENT, stats, doctype=SESSION, docname=doc.name, after_commit=True)
	if result and not result.complete and error is None:
		enqueue(doc.name, reason)  # the run's bound was reached: go on in a fresh job
	return stats


def problem_text(error: GatewayError) -> str:
	if isinstance(error, HistoryUnavailable):
		return _(texts.for_history(error.reason, error.gateway_type))
	return _(texts.for_code(error.code))


def _stored(raw: str | None) -> dict:
	"""The session's stored catch-up state (a JSON object), or {} when missing or unreadable."""
	try:
		data = json.loads(raw) if raw else {}
	except ValueError:
		return {}
	return data if isinstance(data, dict) else {}


def load_state(raw: str | dict | None) -> SyncState:
	data = raw if isinstance(raw, dict) else _stored(raw)
	return SyncState(
		watermark=_int(data.get("watermark")),
		window_since=_int(data.get("window_since")),
		window_until=_int(data.get("window_until")),
		cursor=data.get("cursor") if isinstance(data.get("cursor"), str) else None,
		window_pages=_int(data.get("window_pages")) or 0,
	)


def dump_state(state: SyncState, error: GatewayError | None = None) -> str:
	data = {
		"watermark": state.watermark,
		"window_since": state.window_since,
		"window_until": state.window_until,
		"cursor": state.cursor,
		"window_pages": state.window_pages,
		"error_code": error.code if error else None,
	}
	return json.dumps({k: v for k, v in data.items() if v is not None})


def _int(value) -> int | None:
	return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def recovered_since(session: str, days: int = 7) -> int:
	rows = frappe.get_all(
		history.EVENT,
		filters={
			"session": session,
			"source": history.CATCH_UP,
			"creation": (">", add_days(now_datetime(), -days)),
		},
		pluck="messages_found",
	)
	return sum(int(n or 0) for n in rows)
