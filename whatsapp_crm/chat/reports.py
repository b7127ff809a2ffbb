"""The inbox's reports for a manager: conversations opened and resolved per day, response times by agent or
by WhatsApp number, and the conversations waiting on the team. They read cycles (``chat/status.py``) and the
conversation rows, never messages, and count time inside each number's business hours only: a customer who
wrote on Friday evening and got an answer on Monday morning waited the minutes after opening time, not the
weekend. The reports are gated by their roles (their JSON); the maths is ``inbox.hours`` and ``inbox.stats``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

import frappe
from frappe import _
from frappe.utils import get_fullname, getdate, now_datetime

from whatsapp_crm.chat import hours
from whatsapp_crm.chat.conversations import CONVERSATION
from whatsapp_crm.chat.status import CYCLE, OPEN
from whatsapp_crm.inbox import stats
from whatsapp_crm.inbox.hours import business_seconds

DEFAULT_DAYS = 30
MAX_DAYS = 731  # two years, a leap day included
AGENT, NUMBER = "Agent", "WhatsApp Number"
# A conversation is unanswered once the customer waited this long in business time.
UNANSWERED_AFTER_S = 3600
UNANSWERED_LIMIT = 1000


def _filters(filters) -> frappe._dict:
	return frappe._dict(filters or {})


def date_range(filters) -> tuple[date, date]:
	"""The From Date and To Date of the filters (the last 30 days without them), both included."""
	to_date = getdate(filters.get("to_date")) if filters.get("to_date") else getdate()
	from_date = (
		getdate(filters.get("from_date"))
		if filters.get("from_date")
		else to_date - timedelta(days=DEFAULT_DAYS - 1)
	)
	if from_date > to_date:
		frappe.throw(_("From Date must not be after To Date."), title=_("Invalid dates"))
	if (to_date - from_date).days >= MAX_DAYS:
		frappe.throw(
			_("Pick at most {0} days between From Date and To Date.").format(MAX_DAYS),
			title=_("Invalid dates"),
		)
	return from_date, to_date


def _bounds(from_date: date, to_date: date) -> dict:
	"""The query's half-open datetime span: [From Date 00:00, the day after To Date 00:00)."""
	return {
		"start": datetime.combine(from_date, time()),
		"end": datetime.combine(to_date + timedelta(days=1), time()),
	}


class Ranges(dict):
	"""Business hours per WhatsApp Account, each read once per report run."""

	def __missing__(self, account: str | None) -> list:
		found = self[account] = hours.ranges_for_account(account)
		return found


# -- conversations per day ----------------------------------------------------------------------------


def _per_day(field: str, params: dict, account: str | None) -> dict[date, int]:
	"""Cycles per day of ``field`` (opened_at or resolved_at) in the span: one grouped, indexed query."""
	condition = "and whatsapp_account = %(account)s" if account else ""
	rows = frappe.db.sql(
		f"""select date({field}) as day, count(*) as n from `tab{CYCLE}`
		where {field} >= %(start)s and {field} < %(end)s {condition}
		group by date({field})""",
		{**params, "account": account},
	)
	return {getdate(day): int(n) for day, n in rows}


def conversations_per_day(filters=None) -> tuple:
	filters = _filters(filters)
	from_date, to_date = date_range(filters)
	params = _bounds(from_date, to_date)
	account = filters.get("whatsapp_account")
	opened = _per_day("opened_at", params, account)
	resolved = _per_day("resolved_at", params, account)
	days = [from_date + timedelta(days=i) for i in range((to_date - from_date).days + 1)]
	data = [{"date": day, "opened": opened.get(day, 0), "resolved": resolved.get(day, 0)} for day in days]
	columns = [
		{"fieldname": "date", "label": _("Date"), "fieldtype": "Date", "width": 120},
		{"fieldname": "opened", "label": _("Opened"), "fieldtype": "Int", "width": 120},
		{"fieldname": "resolved", "label": _("Resolved"), "fieldtype": "Int", "width": 120},
	]
	chart = {
		"data": {
			"labels": [frappe.format(day, {"fieldtype": "Date"}) for day in days],
			"datasets": [
				{"name": _("Opened"), "values": [r["opened"] for r in data]},
				{"name": _("Resolved"), "values": [r["resolved"] for r in data]},
			],
		},
		"type": "line",
		"fieldtype": "Int",
	}
	return columns, data, None, chart


# -- response times -----------------------------------------------------------------------------------


def _seconds(value: float | None) -> int | None:
	return None if value is None else round(value)


def response_times(filters=None) -> tuple:
	"""For the cycles opened in the span: the first response and the resolution times (business seconds
	from the opening), their median and 90th percentile per agent or per WhatsApp number."""
	filters = _filters(filters)
	from_date, to_date = date_range(filters)
	group_by = filters.get("group_by") or AGENT
	if group_by not in (AGENT, NUMBER):
		frappe.throw(_("Group by Agent or WhatsApp Number."), title=_("Invalid filter"))
	account = filters.get("whatsapp_account")
	condition = "and whatsapp_account = %(account)s" if account else ""
	cycles = frappe.db.sql(
		f"""select whatsapp_account, opened_at, first_response_at, first_response_by,
			resolved_at, resolved_by
		from `tab{CYCLE}`
		where opened_at >= %(start)s and opened_at < %(end)s {condition}""",
		{**_bounds(from_date, to_date), "account": account},
		as_dict=True,
	)
	ranges = Ranges()
	first, resolution = defaultdict(list), defaultdict(list)
	for c in cycles:
		if c.first_response_at:
			key = c.whatsapp_account if group_by == NUMBER else c.first_response_by
			first[key].append(business_seconds(c.opened_at, c.first_response_at, ranges[c.whatsapp_account]))
		if c.resolved_at:
			key = c.whatsapp_account if group_by == NUMBER else c.resolved_by
			resolution[key].append(business_seconds(c.opened_at, c.resolved_at, ranges[c.whatsapp_account]))

	data = []
	for key in {*first, *resolution}:
		f, r = stats.summary(first.get(key, ())), stats.summary(resolution.get(key, ()))
		if group_by == NUMBER:
			row = {"whatsapp_account": key}
		else:
			row = {"agent": key, "agent_name": get_fullname(key) if key else _("From the phone")}
		row.update(
			first_responses=f["count"],
			first_response_median=_seconds(f["median"]),
			first_response_p90=_seconds(f["p90"]),
			resolved=r["count"],
			resolution_median=_seconds(r["median"]),
			resolution_p90=_seconds(r["p90"]),
		)
		data.append(row)
	label = "whatsapp_account" if group_by == NUMBER else "agent_name"
	data.sort(key=lambda row: (-row["first_responses"], -row["resolved"], str(row[label] or "")))

	if group_by == NUMBER:
		columns = [
			{
				"fieldname": "whatsapp_account",
				"label": _("WhatsApp Number"),
				"fieldtype": "Link",
				"options": "WhatsApp Account",
				"width": 200,
			}
		]
	else:
		columns = [{"fieldname": "agent_name", "label": _("Agent"), "fieldtype": "Data", "width": 200}]
	columns += [
		{"fieldname": "first_responses", "label": _("First Responses"), "fieldtype": "Int", "width": 130},
		{
			"fieldname": "first_response_median",
			"label": _("First Response (median)"),
			"fieldtype": "Duration",
			"width": 170,
		},
		{
			"fieldname": "first_response_p90",
			"label": _("First Response (90th percentile)"),
			"fieldtype": "Duration",
			"width": 200,
		},
		{"fieldname": "resolved", "label": _("Resolved"), "fieldtype": "Int", "width": 110},
		{
			"fieldname": "resolution_median",
			"label": _("Resolution (median)"),
			"fieldtype": "Duration",
			"width": 170,
		},
		{
			"fieldname": "resolution_p90",
			"label": _("Resolution (90th percentile)"),
			"fieldtype": "Duration",
			"width": 200,
		},
	]
	return columns, data


# -- unanswered conversations ---------------------------------------------------------------------------


def unanswered(filters=None, now: datetime | None = None) -> tuple:
	"""Open conversations whose last message is the customer's and that have waited more than an hour of
	business time, the longest wait first. One query on (status, last_message_at): an hour of wall clock is
	at least an hour of business time, so it is the coarse cut; the business hours decide the rest."""
	filters = _filters(filters)
	now = now or now_datetime()
	account = filters.get("whatsapp_account")
	condition = "and whatsapp_account = %(account)s" if account else ""
	rows = frappe.db.sql(
		f"""select name, title, number, whatsapp_account, assignee, last_message_at
		from `tab{CONVERSATION}`
		where status = %(status)s and last_message_at < %(before)s and last_direction = %(incoming)s
			{condition}
		order by last_message_at asc
		limit %(limit)s""",
		{
			"status": OPEN,
			"incoming": "Incoming",
			"before": now - timedelta(seconds=UNANSWERED_AFTER_S),
			"account": account,
			"limit": UNANSWERED_LIMIT,
		},
		as_dict=True,
	)
	ranges = Ranges()
	data = []
	for r in rows:
		waiting = business_seconds(r.last_message_at, now, ranges[r.whatsapp_account])
		if waiting > UNANSWERED_AFTER_S:
			data.append(
				{
					"conversation": r.name,
					"title": r.title,
					"number": r.number,
					"whatsapp_account": r.whatsapp_account,
					"assignee": r.assignee,
					"waiting_since": r.last_message_at,
					"waiting": round(waiting),
				}
			)
	data.sort(key=lambda row: (-row["waiting"], row["waiting_since"]))
	message = None
	if len(rows) == UNANSWERED_LIMIT:
		message = _("Showing the {0} conversations that have waited longest.").format(UNANSWERED_LIMIT)
	columns = [
		{
			"fieldname": "conversation",
			"label": _("Conversation"),
			"fieldtype": "Link",
			"options": CONVERSATION,
			"width": 130,
		},
		{"fieldname": "title", "label": _("Title"), "fieldtype": "Data", "width": 180},
		{"fieldname": "number", "label": _("Contact Number"), "fieldtype": "Data", "width": 150},
		{
			"fieldname": "whatsapp_account",
			"label": _("WhatsApp Number"),
			"fieldtype": "Link",
			"options": "WhatsApp Account",
			"width": 170,
		},
		{
			"fieldname": "assignee",
			"label": _("Assigned To"),
			"fieldtype": "Link",
			"options": "User",
			"width": 170,
		},
		{"fieldname": "waiting_since", "label": _("Waiting Since"), "fieldtype": "Datetime", "width": 170},
		{"fieldname": "waiting", "label": _("Waiting"), "fieldtype": "Duration", "width": 140},
	]
	return columns, data, message
