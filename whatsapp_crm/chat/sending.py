"""Each number's sending policy, in Frappe: its values on the WhatsApp Session, what the number sent lately
(the ledger), the wait before a message and its reason in plain words, and the pacing a person shows around a
send (the chat read, "typing…", a pause between chats). The maths is ``whatsapp_crm.sending.policy``;
docs/messaging.md, "Sending policy".
"""

from __future__ import annotations

import json
import random
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import frappe
from frappe import _
from frappe.utils import add_to_date, format_datetime, get_system_timezone, get_time, now_datetime

from whatsapp_crm.chat import provider
from whatsapp_crm.chat.catchup import from_unix
from whatsapp_crm.gateway.errors import GatewayError
from whatsapp_crm.integration import SESSION, logger
from whatsapp_crm.sending import policy as rules
from whatsapp_crm.sending.errors import SendingError
from whatsapp_crm.sending.policy import Ledger, Message, SendingPolicy, Wait
from whatsapp_crm.sessions.history import EVENT

POLICY_FIELDS = (
	"send_per_minute",
	"send_per_hour",
	"send_per_day",
	"new_chats_per_day",
	"warmup_days",
	"quiet_from",
	"quiet_to",
	"show_typing",
	"gap_min_s",
	"gap_max_s",
	"linked_on",
)
SENT_AT, FIRST_CONTACT = "gateway_sent_at", "gateway_first_contact"
WAIT_REASON, SEND_AFTER = "gateway_wait_reason", "gateway_send_after"
PACING_TIMEOUT_S = 3.0  # a read mark or "typing…" that takes longer is skipped: the send matters, not them
READ_MARKS = 20  # the customer's latest messages marked read before a reply


def zone() -> ZoneInfo:
	return ZoneInfo(get_system_timezone())


def to_unix(value: datetime) -> float:
	"""A datetime as Frappe stores it (naive, in the system time zone) as unix seconds, with its fraction
	(catchup.to_unix rounds to whole seconds, as gateway timestamps are; rolling windows need the fraction)."""
	return value.replace(tzinfo=zone()).timestamp()


def _time(value) -> object:
	return get_time(value) if value not in (None, "") else None


def policy_of(row) -> SendingPolicy:
	"""The session's policy as saved (a row or a document); values never set take the defaults."""
	default = SendingPolicy()

	def value(field: str, fallback):
		v = row.get(field)
		return fallback if v is None else v

	return SendingPolicy(
		per_minute=int(value("send_per_minute", default.per_minute)),
		per_hour=int(value("send_per_hour", default.per_hour)),
		per_day=int(value("send_per_day", default.per_day)),
		new_per_day=int(value("new_chats_per_day", default.new_per_day)),
		warmup_days=int(value("warmup_days", default.warmup_days)),
		quiet_from=_time(row.get("quiet_from")),
		quiet_to=_time(row.get("quiet_to")),
		typing=bool(value("show_typing", 1)),
		gap_min_s=float(value("gap_min_s", default.gap_min_s)),
		gap_max_s=float(value("gap_max_s", default.gap_max_s)),
	)


def check_policy(doc) -> None:
	"""The session form's save: a policy that cannot work is refused, naming the field, in plain words."""
	try:
		policy_of(doc).checked()
	except SendingError as e:
		label = _(doc.meta.get_label(_FIELD_OF.get(e.field or "", "send_per_minute")))
		frappe.throw(_explain(e, label), title=_("Sending policy not saved"))


_FIELD_OF = {
	"per_minute": "send_per_minute",
	"per_hour": "send_per_hour",
	"per_day": "send_per_day",
	"new_per_day": "new_chats_per_day",
	"warmup_days": "warmup_days",
	"quiet_to": "quiet_to",
	"gap_min_s": "gap_min_s",
	"gap_max_s": "gap_max_s",
}


def _explain(e: SendingError, label: str) -> str:
	if e.code == "INVALID_CAP":
		return _("{0} must be a whole number from 1 to {1}.").format(label, e.context.get("top"))
	if e.code == "CAPS_OUT_OF_ORDER":
		return _(
			"{0} is smaller than the limit for a shorter time: per hour must be at least per minute, per day at least per hour, and new conversations at most per day."
		).format(label)
	if e.code == "INVALID_QUIET_HOURS":
		if "whole day" in str(e):
			return _("Quiet hours that start and end at the same time would cover the whole day.")
		return _("Set both ends of the quiet hours, or leave both empty.")
	if e.code == "INVALID_WARM_UP":
		return _("{0} must be from 0 to {1} days.").format(label, rules.MAX_WARMUP_DAYS)
	if e.code == "INVALID_GAP":
		return _(
			"The pause between chats must be from 0 to {0} seconds, and its end at least its start."
		).format(int(rules.MAX_GAP_S))
	return _("The sending policy is not valid: {0}").format(label)


def linked_on(session: str) -> datetime | None:
	"""When a phone was last linked (a QR scanned or a code typed: Connected from QR Ready or Not Created), from
	the session's history; else its first Connected event; None when the history holds none."""
	found = frappe.get_all(
		EVENT,
		filters={
			"session": session,
			"to_status": "Connected",
			"from_status": ("in", ["QR Ready", "Not Created"]),
		},
		pluck="creation",
		order_by="creation desc",
		limit=1,
	) or frappe.get_all(
		EVENT,
		filters={"session": session, "to_status": "Connected"},
		pluck="creation",
		order_by="creation asc",
		limit=1,
	)
	return found[0] if found else None


def on_session_event(event, method: str | None = None) -> None:
	"""WhatsApp Session Event after_insert: a phone linked by a scan starts its warm-up."""
	if event.to_status == "Connected" and event.from_status in ("QR Ready", "Not Created"):
		frappe.db.set_value(SESSION, event.session, "linked_on", event.creation, update_modified=False)


def caps_of(row) -> rules.Caps:
	linked = row.get("linked_on")
	age = None if not linked else (now_datetime() - frappe.utils.get_datetime(linked)).total_seconds() / 86400
	return rules.caps_for(policy_of(row), age)


def session_row(session: str):
	return frappe.db.get_value(
		SESSION, session, ["name", "session_id", "status", *POLICY_FIELDS], as_dict=True
	)


# -- the ledger ----------------------------------------------------------------------------------------------


def _marks_key(session: str) -> str:
	return frappe.cache.make_key(f"whatsapp_crm:pace:{session}")


def _marks(session: str) -> dict:
	raw = frappe.cache.get(_marks_key(session))
	try:
		return json.loads(raw) if raw else {}
	except ValueError:
		return {}


def ledger(session: str, account: str) -> Ledger:
	"""What the number sent in the last day (from the messages themselves: a Redis flush forgets no send) and
	the pacing marks of its last send (in Redis: losing them costs one gap)."""
	rows = frappe.db.sql(
		f"""select `{SENT_AT}` as at, `{FIRST_CONTACT}` as first, gateway_campaign is null as other
		from `tab{provider.MESSAGE}` where whatsapp_account = %s and `{SENT_AT}` > %s order by `{SENT_AT}`""",
		(account, add_to_date(now_datetime(), days=-1)),
		as_dict=True,
	)
	marks = _marks(session)
	return Ledger(
		sent=[to_unix(r.at) for r in rows],
		first_contacts=[to_unix(r.at) for r in rows if r.first],
		others=[to_unix(r.at) for r in rows if r.other],
		last_chat=marks.get("last_chat"),
		chat_gap_until=float(marks.get("chat_gap_until") or 0),
		campaign_until=float(marks.get("campaign_until") or 0),
	)


def message_for(account: str, to: str, *, campaign: bool) -> Message:
	"""What the policy needs of a message to ``to`` (``+`` and digits, as messages store it)."""
	wrote = frappe.db.get_value(
		provider.MESSAGE,
		{"whatsapp_account": account, "type": "Incoming", "from": to},
		"creation",
		order_by="creation desc",
	)
	first = not wrote and not frappe.db.exists(
		provider.MESSAGE,
		{"whatsapp_account": account, "type": "Outgoing", "to": to, "message_id": ("is", "set")},
	)
	answering = bool(wrote) and (now_datetime() - wrote).total_seconds() < rules.ANSWERING_S
	return Message(to=to, first_contact=first, campaign=campaign, answering=answering)


class Judge:
	"""One look at a number: its policy, caps and ledger read once, then asked about several messages."""

	def __init__(self, row, account: str) -> None:
		self.policy, self.caps = policy_of(row), caps_of(row)
		self.book, self.tz, self.now = ledger(row.name, account), zone(), time.time()

	def wait(self, message: Message) -> Wait:
		return rules.next_send(self.policy, self.caps, self.book, message, self.now, self.tz)


def note_sent(row, message: Message, at: float, slot: float | None = None) -> None:
	"""After a send: the next gaps drawn and kept for the next message of this number."""
	policy, caps = policy_of(row), caps_of(row)
	after = rules.after_send(policy, caps, Ledger(**_ledger_marks(row.name)), message, at, slot=slot)
	frappe.cache.set(
		_marks_key(row.name),
		json.dumps(
			{
				"last_chat": after.last_chat,
				"chat_gap_until": after.chat_gap_until,
				"campaign_until": after.campaign_until,
			}
		),
		ex=86400,
	)


def _ledger_marks(session: str) -> dict:
	marks = _marks(session)
	return {
		"last_chat": marks.get("last_chat"),
		"chat_gap_until": float(marks.get("chat_gap_until") or 0),
		"campaign_until": float(marks.get("campaign_until") or 0),
	}


# -- telling people why a message waits ----------------------------------------------------------------------


def reason_words(reason: str | None) -> str:
	return {
		rules.PER_MINUTE: _("the limit of messages per minute"),
		rules.PER_HOUR: _("the limit of messages per hour"),
		rules.PER_DAY: _("the limit of messages per day"),
		rules.NEW_PER_DAY: _("the limit of new conversations per day"),
		rules.QUIET_HOURS: _("quiet hours"),
		rules.GAP: _("a pause between chats"),
		rules.CAMPAIGN_PACE: _("the campaign's pace"),
	}.get(reason or "", _("the sending policy"))


def describe(reason: str | None, at: datetime | None) -> str:
	"""'Waits for the limit of messages per hour; goes out at 10:32.'"""
	if not at:
		return _("Queued; goes out next.")
	return _("Waits for {0}; goes out at about {1}.").format(reason_words(reason), format_datetime(at))


def hold(name: str, wait: Wait) -> None:
	"""Write on a queued message why it waits and until when (once per change, not on every look)."""
	at = from_unix(wait.at).replace(microsecond=0)
	current = frappe.db.get_value(provider.MESSAGE, name, [WAIT_REASON, SEND_AFTER], as_dict=True)
	if current and current.get(WAIT_REASON) == wait.reason and current.get(SEND_AFTER) == at:
		return
	frappe.db.set_value(
		provider.MESSAGE, name, {WAIT_REASON: wait.reason, SEND_AFTER: at}, update_modified=False
	)
	frappe.db.commit()  # nosemgrep: the inbox and CRM show it while the job waits


# -- pacing around a send ------------------------------------------------------------------------------------


def show_reading_and_typing(client, row, account: str, to: str, typing: float, stop=None) -> bool:
	"""Mark the customer's latest messages read and show "typing…" for ``typing`` seconds (``typing_for``).
	``stop``: asked every moment while typing; when it says so the typing ends early and this returns False
	(a reply came in while a campaign message was being typed). A gateway that cannot read or type (or
	answers slowly) only gets the wait."""
	started = time.monotonic()
	if typing <= 0:
		return True
	digits = to.lstrip("+")
	unread = frappe.get_all(
		provider.MESSAGE,
		filters={
			"whatsapp_account": account,
			"type": "Incoming",
			"from": to,
			"message_id": ("is", "set"),
			"creation": (">", add_to_date(now_datetime(), days=-1)),
		},
		pluck="message_id",
		order_by="creation desc",
		limit=READ_MARKS,
	)
	if unread:
		_pacing_call(row.name, "read", client.mark_read, row.session_id, digits, unread)
	typed = _pacing_call(row.name, "typing", client.start_typing, row.session_id, digits)
	finished = True
	while (left := typing - (time.monotonic() - started)) > 0:
		time.sleep(min(left, 0.2))
		if stop and stop():
			finished = False
			break
	if typed:
		_pacing_call(row.name, "paused", client.stop_typing, row.session_id, digits)
	return finished


def typing_for(policy: SendingPolicy, text: str | None, name: str) -> float:
	"""How long "typing…" shows before this message (0 when the number does not type): drawn once per
	message (seeded by its name), so a message judged twice is typed for the time it was judged with."""
	return rules.typing_s(text, random.Random(name)) if policy.typing else 0.0


def _pacing_call(session: str, what: str, call, *args) -> bool:
	try:
		call(*args, timeout=PACING_TIMEOUT_S)
		return True
	except GatewayError as e:
		logger().info("op=pace session=%s %s skipped code=%s", session, what, e.code)
		return False


# -- the session form ----------------------------------------------------------------------------------------


def status(session: str) -> dict:
	"""What the session form's Sending tab shows: the caps in force, what was used, and what waits."""
	row = session_row(session)
	account = provider.account_for_session(session)
	caps = caps_of(row)
	out = {
		"caps": caps.__dict__,
		"warming_up": caps.share < 1,
		"linked_on": row.linked_on,
		"account": account,
		"used": {},
		"waiting": 0,
		"next": None,
	}
	if not account:
		return out
	book, now = ledger(session, account), time.time()
	out["used"] = {
		"minute": sum(1 for t in book.sent if t > now - rules.MINUTE),
		"hour": sum(1 for t in book.sent if t > now - rules.HOUR),
		"day": len(book.sent),
		"new_day": len(book.first_contacts),
	}
	out["waiting"] = frappe.db.count(
		provider.MESSAGE, {"whatsapp_account": account, "type": "Outgoing", "status": "queued"}
	)
	head = frappe.db.get_value(
		provider.MESSAGE,
		{"whatsapp_account": account, "type": "Outgoing", "status": "queued", SEND_AFTER: ("is", "set")},
		[WAIT_REASON, SEND_AFTER],
		order_by=f"{SEND_AFTER} asc",
		as_dict=True,
	)
	if head and head.get(SEND_AFTER):
		out["next"] = describe(head.get(WAIT_REASON), head.get(SEND_AFTER))
	return out
