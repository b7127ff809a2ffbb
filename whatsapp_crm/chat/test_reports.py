# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""The inbox's reports on a fixed week of November 2026: conversations opened and resolved per day, the
median and 90th percentile of response times per agent and per number counted in business hours (a customer
who wrote on Friday at 16:30 and was answered on Monday at 09:30 waited an hour, not 65), and the
conversations waiting on the team for more than an hour of business time. One number has hours (Monday to
Friday, 09:00 to 17:00), the other none (every second counts). Fixed wall-clock datetimes: no time zone or
currency of the site matters, and nothing here talks to a gateway."""

from __future__ import annotations

import unittest
from datetime import date, datetime

import frappe
from frappe import _

from whatsapp_crm.chat import provider, reports
from whatsapp_crm.chat.conversations import CONVERSATION
from whatsapp_crm.chat.status import CYCLE
from whatsapp_crm.testing import OPEN_SENDING_POLICY, FrappeTestCase, make_user

SESSION = "WhatsApp Session"
HOURS = "WhatsApp Business Hours"
SESSION_ID = "wa-reports-hours"
WITH_HOURS = "WA Reports Test Hours"
ALWAYS = "WA Reports Test Always"
ANA = "wa-reports-ana@example.com"
BEN = "wa-reports-ben@example.com"
WEEK = {"from_date": "2026-11-16", "to_date": "2026-11-23"}  # Monday to the next Monday
NOW = datetime(2026, 11, 23, 10, 0)  # Monday 10:00


def at(day: int, hour: int, minute: int = 0) -> datetime:
	return datetime(2026, 11, day, hour, minute)


@unittest.skipUnless("frappe_whatsapp" in frappe.get_installed_apps(), "frappe_whatsapp is not installed")
class TestReports(FrappeTestCase):
	def setUp(self):
		self.forget()
		self.addCleanup(self.clean)
		self.ana, self.ben = make_user(ANA), make_user(BEN)
		session = frappe.get_doc(
			{
				"doctype": SESSION,
				"session_id": SESSION_ID,
				"label": SESSION_ID,
				"gateway": "wa-reports-no-gateway",  # never contacted: nothing here sends
				**OPEN_SENDING_POLICY,
				"business_hours": [
					{"weekday": day, "opens": "09:00", "closes": "17:00"}
					for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
				],
			}
		)
		session.flags.ignore_links = True
		self.session = session.insert(ignore_permissions=True).name
		for name, backed_by in ((WITH_HOURS, self.session), (ALWAYS, None)):
			frappe.get_doc(
				{"doctype": provider.ACCOUNT, "account_name": name, provider.SESSION_FIELD: backed_by}
			).insert(ignore_permissions=True)

	def clean(self):
		frappe.db.rollback()  # nothing here commits...
		self.forget()  # ...but should anything have, it goes too
		frappe.db.commit()  # nosemgrep: tests clean up what they made

	def forget(self):
		accounts = (WITH_HOURS, ALWAYS)
		frappe.db.delete(CYCLE, {"whatsapp_account": ("in", accounts)})
		frappe.db.delete(CONVERSATION, {"whatsapp_account": ("in", accounts)})
		frappe.db.delete(provider.ACCOUNT, {"name": ("in", accounts)})
		frappe.db.delete(HOURS, {"parent": SESSION_ID, "parenttype": SESSION})
		frappe.db.delete(SESSION, {"session_id": SESSION_ID})

	def cycle(self, account: str, opened_at: datetime, **values) -> None:
		frappe.get_doc(
			{"doctype": CYCLE, "whatsapp_account": account, "number": "+34600000000", "opened_at": opened_at}
			| values
		).insert(ignore_permissions=True)

	def week_of_cycles(self):
		"""The cycles of both numbers; the business seconds each counts are in the comments."""
		# opened before the week (not in the response times), resolved in it (in the per-day count)
		self.cycle(WITH_HOURS, at(15, 12), resolved_at=at(16, 9, 30), resolved_by=self.ben)
		# Friday 16:30 -> Monday 09:30: 3600 (30 minutes on Friday, 30 on Monday); resolved 10:00: 5400
		self.cycle(
			WITH_HOURS,
			at(20, 16, 30),
			first_response_at=at(23, 9, 30),
			first_response_by=self.ana,
			resolved_at=at(23, 10),
			resolved_by=self.ana,
		)
		# 600; 7200
		self.cycle(
			WITH_HOURS,
			at(16, 10),
			first_response_at=at(16, 10, 10),
			first_response_by=self.ana,
			resolved_at=at(16, 12),
			resolved_by=self.ben,
		)
		# answered from the phone: 1200; resolved the next morning at opening time: 28800 (the whole Tuesday)
		self.cycle(
			WITH_HOURS,
			at(17, 9),
			first_response_at=at(17, 9, 20),
			resolved_at=at(18, 9),
			resolved_by=self.ana,
		)
		# opened before opening time: 300; never resolved
		self.cycle(WITH_HOURS, at(18, 8), first_response_at=at(18, 9, 5), first_response_by=self.ben)
		# Saturday, waiting still
		self.cycle(WITH_HOURS, at(21, 11))
		# without hours every second counts: 1800; 3600
		self.cycle(
			ALWAYS,
			at(16, 10),
			first_response_at=at(16, 10, 30),
			first_response_by=self.ana,
			resolved_at=at(16, 11),
			resolved_by=self.ana,
		)
		# the same Friday to Monday as above: 234000 (65 hours); 235800
		self.cycle(
			ALWAYS,
			at(20, 16, 30),
			first_response_at=at(23, 9, 30),
			first_response_by=self.ben,
			resolved_at=at(23, 10),
			resolved_by=self.ben,
		)
		# Sunday night from the phone: 5400
		self.cycle(ALWAYS, at(22, 23), first_response_at=at(23, 0, 30))

	def test_opened_and_resolved_per_day(self):
		self.week_of_cycles()
		columns, data, _message, chart = reports.conversations_per_day(
			{**WEEK, "whatsapp_account": WITH_HOURS}
		)
		self.assertEqual([c["fieldname"] for c in columns], ["date", "opened", "resolved"])
		days = [(r["date"], r["opened"], r["resolved"]) for r in data]
		self.assertEqual(
			days,
			[
				(date(2026, 11, 16), 1, 2),
				(date(2026, 11, 17), 1, 0),
				(date(2026, 11, 18), 1, 1),
				(date(2026, 11, 19), 0, 0),  # a day with nothing is there, as zeros
				(date(2026, 11, 20), 1, 0),
				(date(2026, 11, 21), 1, 0),
				(date(2026, 11, 22), 0, 0),
				(date(2026, 11, 23), 0, 1),
			],
		)
		self.assertEqual(chart["type"], "line")
		self.assertEqual(
			[d["values"] for d in chart["data"]["datasets"]],
			[[1, 1, 1, 0, 1, 1, 0, 0], [2, 0, 1, 0, 0, 0, 0, 1]],
		)
		_columns, data, *_ = reports.conversations_per_day({**WEEK, "whatsapp_account": ALWAYS})
		self.assertEqual(
			[(r["opened"], r["resolved"]) for r in data],
			[(1, 1), (0, 0), (0, 0), (0, 0), (1, 0), (0, 0), (1, 0), (0, 1)],
		)
		# the last 30 days without dates; From Date after To Date is refused
		_columns, data, *_ = reports.conversations_per_day({})
		self.assertEqual(len(data), reports.DEFAULT_DAYS)
		with self.assertRaises(frappe.ValidationError):
			reports.conversations_per_day({"from_date": "2026-11-23", "to_date": "2026-11-16"})

	def times(self, **filters) -> dict:
		columns, data = reports.response_times({**WEEK, **filters})
		key = "whatsapp_account" if filters.get("group_by") == reports.NUMBER else "agent"
		self.assertEqual(
			columns[0]["fieldname"], "whatsapp_account" if key == "whatsapp_account" else "agent_name"
		)
		fields = (
			"first_responses",
			"first_response_median",
			"first_response_p90",
			"resolved",
			"resolution_median",
			"resolution_p90",
		)
		self.assertEqual([c["fieldname"] for c in columns[1:]], list(fields))
		self.assertTrue(all(c["fieldtype"] == "Duration" for c in columns if "_median" in c["fieldname"]))
		return {r[key]: tuple(r[f] for f in fields) for r in data}

	def test_response_times_per_agent_in_business_hours(self):
		self.week_of_cycles()
		rows = self.times(whatsapp_account=WITH_HOURS, group_by=reports.AGENT)
		self.assertEqual(
			rows,
			{
				# first responses 3600 and 600 (Friday to Monday is an hour), resolutions 5400 and 28800
				self.ana: (2, 2100, 3300, 2, 17100, 26460),
				self.ben: (1, 300, 300, 1, 7200, 7200),
				None: (1, 1200, 1200, 0, None, None),
			},
		)
		_columns, data = reports.response_times({**WEEK, "whatsapp_account": WITH_HOURS})  # Agent by default
		self.assertEqual(
			{r["agent"]: r["agent_name"] for r in data},
			{self.ana: "wa-reports-ana", self.ben: "wa-reports-ben", None: _("From the phone")},
		)
		self.assertEqual([r["agent"] for r in data], [self.ana, self.ben, None])  # most answers first
		# without hours the same Friday to Monday is 65 hours
		self.assertEqual(
			self.times(whatsapp_account=ALWAYS, group_by=reports.AGENT),
			{
				self.ana: (1, 1800, 1800, 1, 3600, 3600),
				self.ben: (1, 234000, 234000, 1, 235800, 235800),
				None: (1, 5400, 5400, 0, None, None),
			},
		)
		with self.assertRaises(frappe.ValidationError):
			reports.response_times({**WEEK, "group_by": "Weather"})

	def test_response_times_per_number(self):
		self.week_of_cycles()
		rows = self.times(group_by=reports.NUMBER)  # every number: each counts its own hours
		self.assertEqual(rows[WITH_HOURS], (4, 900, 2880, 3, 7200, 24480))
		self.assertEqual(rows[ALWAYS], (3, 5400, 188280, 2, 119700, 212580))
		self.assertEqual(set(self.times(group_by=reports.NUMBER, whatsapp_account=ALWAYS)), {ALWAYS})
		# cycles opened on the last day only
		rows = self.times(group_by=reports.NUMBER, from_date="2026-11-22")
		self.assertNotIn(WITH_HOURS, rows)
		self.assertEqual(rows[ALWAYS], (1, 5400, 5400, 0, None, None))

	def conversation(self, account: str, n: int, last_message_at: datetime, **values) -> str:
		doc = frappe.get_doc(
			{
				"doctype": CONVERSATION,
				"whatsapp_account": account,
				"number": f"+3460011{n:04d}",
				"title": f"Cliente {n}",
				"status": "Open",
				"last_direction": "Incoming",
				"last_message": "¿hola?",
				"last_message_at": last_message_at,
				**values,
			}
		).insert(ignore_permissions=True)
		return doc.name

	def waiting(self, account: str) -> list[tuple[str, int]]:
		columns, data, _message = reports.unanswered({"whatsapp_account": account}, now=NOW)
		self.assertEqual(
			[c["fieldname"] for c in columns],
			["conversation", "title", "number", "whatsapp_account", "assignee", "waiting_since", "waiting"],
		)
		return [(r["conversation"], r["waiting"]) for r in data]

	def test_unanswered_conversations_in_business_time(self):
		c = self.conversation
		friday = c(WITH_HOURS, 1, at(20, 16, 30), assignee=self.ana)  # 30 minutes + 60: 5400
		early = c(WITH_HOURS, 2, at(23, 8, 30))  # an hour of business time, not more: not yet
		afternoon = c(WITH_HOURS, 3, at(20, 15))  # 2 hours + 1: 10800
		c(WITH_HOURS, 4, at(20, 10), last_direction="Outgoing")  # the team wrote last
		c(WITH_HOURS, 5, at(20, 10), status="Pending")  # waiting on the customer
		c(WITH_HOURS, 6, at(23, 9, 30))  # half an hour ago
		thursday = c(WITH_HOURS, 7, at(19, 16))  # 1 hour + 8 + 1: 36000
		self.assertEqual(self.waiting(WITH_HOURS), [(thursday, 36000), (afternoon, 10800), (friday, 5400)])
		row = reports.unanswered({"whatsapp_account": WITH_HOURS}, now=NOW)[1][2]
		self.assertEqual(
			(row["title"], row["number"], row["assignee"], row["waiting_since"]),
			("Cliente 1", "+34600110001", self.ana, at(20, 16, 30)),
		)
		# without business hours every second counts
		saturday = c(ALWAYS, 1, at(21, 12))  # 46 hours
		dawn = c(ALWAYS, 2, at(23, 8, 30))  # an hour and a half
		c(ALWAYS, 3, at(23, 9, 30))
		self.assertEqual(self.waiting(ALWAYS), [(saturday, 165600), (dawn, 5400)])
		# the same number once its hours are gone
		frappe.db.delete(HOURS, {"parent": self.session, "parenttype": SESSION})
		self.assertEqual(
			self.waiting(WITH_HOURS),
			[(thursday, 324000), (afternoon, 241200), (friday, 235800), (early, 5400)],
		)

	def test_the_reports_run_for_their_roles_only(self):
		from frappe.desk.query_report import run

		self.week_of_cycles()
		manager = make_user("wa-reports-manager@example.com", ["WhatsApp Manager"])
		nobody = make_user("wa-reports-nobody@example.com")
		filters = {**WEEK, "whatsapp_account": WITH_HOURS}
		for name in (
			"WhatsApp Conversations per Day",
			"WhatsApp Response Times",
			"WhatsApp Unanswered Conversations",
		):
			with self.set_user(manager):
				self.assertIsInstance(run(name, filters=filters)["result"], list)
			with self.set_user(nobody), self.assertRaises(frappe.PermissionError):
				run(name, filters=filters)
