"""A session's history: one WhatsApp Session Event per status change, and what the form shows of it.

The session service records every change, whoever noticed it (a user's action, the watcher, a webhook, the
health sweep). Events are plain log rows: inserted by code only, cleared after a while by Frappe's log
clearing (Log Settings), and read by the form through ``whatsapp_crm.api.history.get_history``, which checks
read permission on the session itself. The arithmetic is in ``gateway/history_math.py`` (tested without Frappe).
"""

from __future__ import annotations

from datetime import timedelta

import frappe
from frappe.query_builder.functions import Max
from frappe.utils import add_days, get_datetime, now_datetime

from whatsapp_crm.gateway.acquire import (
	CONNECTED,
	CONNECTING,
	DISCONNECTED,
	FAILED,
	NOT_CREATED,
	QR_READY,
)
from whatsapp_crm.integration import SESSION, logger
from whatsapp_crm.sessions.history_math import connected_share

EVENT = "WhatsApp Session Event"
STATUSES = (NOT_CREATED, CONNECTING, QR_READY, CONNECTED, DISCONNECTED, FAILED)
USER, WATCHER, WEBHOOK, SWEEP, CATCH_UP = "User", "Watcher", "Webhook", "Sweep", "Catch-up"
SOURCES = (USER, WATCHER, WEBHOOK, SWEEP, CATCH_UP)
RECENT = 20  # events the form lists
# Bounds the read behind the share: even a session flapping every two minutes for a week stays under it.
MAX_WINDOW_EVENTS = 10000
GATEWAY_STATUS_LENGTH = 140  # a Data field
REASON_LENGTH = 1000


def record(
	session: str,
	from_status: str | None,
	to_status: str,
	source: str,
	gateway_status: str | None = None,
	reason: str | None = None,
	messages_found: int = 0,
) -> None:
	"""Add one event. Called inside the flow that changed the status, so a value it does not know is
	tidied up rather than allowed to break that flow: an unknown source counts as the watcher's, an unknown
	previous status is left empty, and a target status that is not one of the session's is not recorded."""
	if to_status not in STATUSES:
		logger().warning("op=history session=%s unknown status %r not recorded", session, to_status)
		return
	frappe.get_doc(
		{
			"doctype": EVENT,
			"session": session,
			"from_status": from_status if from_status in STATUSES else None,
			"to_status": to_status,
			"source": source if source in SOURCES else WATCHER,
			"gateway_status": (gateway_status or "")[:GATEWAY_STATUS_LENGTH] or None,
			"reason": (reason or "")[:REASON_LENGTH] or None,
			"messages_found": max(0, int(messages_found or 0)),
		}
	).insert(ignore_permissions=True, ignore_links=True)  # the caller holds the session: no link check


def summary(session: str, days: int = 7, now=None) -> dict:
	"""The last events (newest first) and the share of the last ``days`` days the session was Connected.

	No permission check: callers check read permission on the session first."""
	end = get_datetime(now) if now else now_datetime()
	start = end - timedelta(days=days)
	before = frappe.get_all(
		EVENT,
		filters={"session": session, "creation": ("<=", start)},
		pluck="to_status",
		order_by="creation desc",
		limit=1,
	)
	inside = frappe.get_all(
		EVENT,
		filters={"session": session, "creation": (">", start)},
		fields=["creation", "to_status"],
		order_by="creation asc",
		limit=MAX_WINDOW_EVENTS,
		as_list=True,
	)
	recent = frappe.get_all(
		EVENT,
		filters={"session": session},
		fields=["creation", "from_status", "to_status", "source", "gateway_status", "reason"],
		order_by="creation desc",
		limit=RECENT,
	)
	first = frappe.get_all(
		EVENT, filters={"session": session}, pluck="creation", order_by="creation asc", limit=1
	)
	share = connected_share(inside, start, end, before=before[0] if before else None)
	return {
		"events": [
			{
				"time": e.creation,
				"from": e.from_status or None,
				"to": e.to_status,
				"source": e.source,
				"gateway_status": e.gateway_status or None,
				"reason": e.reason or None,
			}
			for e in recent
		],
		"connected_share": round(share, 4),
		"days": days,
		# the history began inside the window: the share counts the time before it as not Connected
		"recorded_since": first[0] if first and first[0] > start else None,
	}


def clear_old(days: int) -> None:
	"""Delete events older than ``days`` days, except each session's newest old one: it says what the status
	was at the start of any later window (a phone linked four months ago and never lost since is Connected,
	not "unknown"). Events of sessions that no longer exist go entirely."""
	cutoff = add_days(now_datetime(), -int(days))
	event = frappe.qb.DocType(EVENT)
	newest_old = (
		frappe.qb.from_(event)
		.select(event.session, Max(event.creation))
		.where(event.creation < cutoff)
		.groupby(event.session)
		.run()
	)
	existing = set(
		frappe.get_all(SESSION, filters={"name": ("in", [s for s, _t in newest_old])}, pluck="name")
		if newest_old
		else []
	)
	for session, newest in newest_old:
		keep_from = newest if session in existing else cutoff
		frappe.db.delete(EVENT, {"session": session, "creation": ("<", keep_from)})


def delete_for_session(doc, method: str | None = None) -> None:
	"""on_trash of WhatsApp Session: its history goes with it (the events link to it, so Frappe would refuse
	the delete while they exist)."""
	frappe.db.delete(EVENT, {"session": doc.name})
