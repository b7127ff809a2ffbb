"""Every new conversation reaches a person: a message from a number the CRM does not know becomes a Lead (or a
Contact), once per number, and an agent's first WhatsApp reply counts as the Lead's or Deal's first response.

What qualifies and the name it gets are ``gateway.newcomers`` (no Frappe); here: the account's setting, the
CRM's own lookup (a Contact, an open Lead, a Deal's primary contact), one Lead per number under concurrent
webhooks (a Redis lock per number, the lookup repeated on a fresh snapshot inside it), blocked numbers, and
the log. The Lead is inserted like any other, so the site's Assignment Rules assign it and notify as usual.
"""

from __future__ import annotations

import time

import frappe
from frappe.utils import now_datetime, time_diff_in_seconds

from whatsapp_crm.chat import newcomers
from whatsapp_crm.gateway.messaging import InboundMessage
from whatsapp_crm.gateway.phones import plus_number
from whatsapp_crm.integration import SESSION, logger

LEAD, DEAL = "CRM Lead", "CRM Deal"
SOURCE = "WhatsApp"  # a CRM Lead Source record, added on install
BLOCKED = "WhatsApp Blocked Number"
ACTION_FIELD = "unknown_number_action"  # on WhatsApp Account
ARRIVED_FIELD = "whatsapp_account"  # on CRM Lead: the linked number (account) it came in on
CREATE_LEAD, CONTACT_ONLY, NOTHING = "Create a Lead", "Create a Contact only", "Do nothing"
TITLE_INVALID = "WhatsApp Number Not Usable"
TITLE_LOOKUP = "WhatsApp CRM Lookup Failed"


class LookupFailed(Exception):
	"""CRM's own lookup of a number raised (a broken record, a changed CRM)."""


LOCK_TTL_S = 15
LOCK_WAIT_S = 10.0


def crm_installed() -> bool:
	return bool(frappe.db.exists("DocType", LEAD))


def known(number: str) -> tuple[str | None, str | None]:
	"""(doctype, name) of what the CRM already has for the number (its own lookup), or (None, None)."""
	if not crm_installed():
		name = frappe.db.get_value("Contact", {"mobile_no": ("in", [number, number[1:]])}, "name")
		return ("Contact", name) if name else (None, None)
	from crm.integrations.api import get_contact_lead_or_deal_from_number  # CRM is optional

	try:
		name, doctype = get_contact_lead_or_deal_from_number(number)
	except Exception as e:  # whatever CRM raises: the message must still be stored
		raise LookupFailed(str(e)) from e
	return (doctype, name) if name else (None, None)


def is_blocked(number: str) -> bool:
	return bool(frappe.db.exists(BLOCKED, number))


def for_message(session: str, account: str, message: InboundMessage) -> tuple[str | None, str | None]:
	"""Before an inbound message is stored: what it should be linked to. Creates the Lead or Contact the
	account's setting asks for when the number is new; (None, None) when nothing applies."""
	action = frappe.db.get_value("WhatsApp Account", account, ACTION_FIELD) if _has_action_field() else None
	action = action or (CREATE_LEAD if crm_installed() else CONTACT_ONLY)
	if action == NOTHING or message.from_me:
		return None, None
	own = frappe.db.get_value(SESSION, session, "phone_number")
	number = plus_number(message.chat)
	reason = newcomers.skip_reason(message, own, {number} if number and is_blocked(number) else set())
	if reason is not None:
		_skipped(session, message, reason)
		return None, None
	try:
		found = known(number)
	except LookupFailed:
		# Stored unlinked rather than lost; and no new Lead, for a person CRM may already have.
		frappe.log_error(title=TITLE_LOOKUP, message=f"number: {_masked(number)}\n{frappe.get_traceback()}")
		return None, None
	if found[1]:
		return found
	if action == CREATE_LEAD and not crm_installed():
		action = CONTACT_ONLY
	with _number_lock(number):
		# Another request may have created it while this one waited: ask again on a fresh snapshot.
		frappe.db.commit()  # nosemgrep: nothing of this request is written yet; a new snapshot sees theirs
		found = known(number)
		if found[1]:
			_count_more(number, found)
			return found
		name = newcomers.lead_name(message.push_name, number)
		created = (
			create_lead(name, number, account) if action == CREATE_LEAD else _create_contact(name, number)
		)
		# Committed inside the lock, so the next request for this number finds it.
		frappe.db.commit()  # nosemgrep: the new Lead or Contact must be seen by concurrent webhooks now
	logger().info(
		"op=newcomer session=%s number=%s created=%s:%s", session, _masked(number), created[0], created[1]
	)
	return created


def create_lead(name: str, number: str, account: str) -> tuple[str, str]:
	values = {"doctype": LEAD, "first_name": name, "mobile_no": number}
	if frappe.db.exists("CRM Lead Source", SOURCE):
		values["source"] = SOURCE
	if frappe.get_meta(LEAD).has_field(ARRIVED_FIELD):
		values[ARRIVED_FIELD] = account
	lead = frappe.get_doc(values)
	lead.flags.whatsapp_crm_newcomer = True
	lead.insert(ignore_permissions=True)  # Assignment Rules and CRM's notifications run as for any Lead
	return LEAD, lead.name


def _create_contact(name: str, number: str) -> tuple[str, str]:
	contact = frappe.get_doc(
		{
			"doctype": "Contact",
			"first_name": name,
			"phone_nos": [{"phone": number, "is_primary_mobile_no": 1}],
		}
	)
	contact.insert(ignore_permissions=True)
	return "Contact", contact.name


class _number_lock:
	"""One request at a time creates for a number (Evolution delivers a burst's webhooks in parallel)."""

	def __init__(self, number: str) -> None:
		self.key = frappe.cache.make_key(f"whatsapp_crm:newcomer:{number}")
		self.token = frappe.generate_hash(length=12)

	def __enter__(self):
		ends = time.monotonic() + LOCK_WAIT_S
		while not frappe.cache.set(self.key, self.token, nx=True, ex=LOCK_TTL_S):
			if time.monotonic() > ends:
				break  # the holder died or is very slow: its TTL expires, and the lookup inside still runs
			time.sleep(0.05)
		return self

	def __exit__(self, *exc) -> None:
		value = frappe.cache.get(self.key)
		if (value.decode() if isinstance(value, bytes) else value) == self.token:
			frappe.cache.delete(self.key)


def _count_more(number: str, found: tuple[str | None, str | None]) -> None:
	"""A storm from one new number: the log counts the messages that found the Lead another one made."""
	key = frappe.cache.make_key(f"whatsapp_crm:newcomer:more:{number}")
	count = frappe.cache.incr(key)
	frappe.cache.expire(key, 3600)
	logger().info(
		"op=newcomer number=%s existing=%s:%s later_messages=%s", _masked(number), found[0], found[1], count
	)


def _skipped(session: str, message: InboundMessage, reason: str) -> None:
	if reason == newcomers.FROM_ME:
		return
	logger().info("op=newcomer session=%s message=%s skipped=%s", session, message.id, reason)
	if reason != newcomers.INVALID_NUMBER:
		return
	# Once per number a day in the Error Log: an admin sees what never became a Lead, not every message.
	key = frappe.cache.make_key(f"whatsapp_crm:newcomer:invalid:{message.chat}")
	if frappe.cache.set(key, 1, nx=True, ex=86400):
		frappe.log_error(
			title=TITLE_INVALID,
			message=f"session: {session}\nnumber: {(message.chat or '')[:40]!r}\nreason: not a phone number "
			"(8 to 15 digits, no leading 0): no Lead or Contact was created",
			reference_doctype=SESSION,
			reference_name=session,
		)


class _savepoint:
	"""A failed save of the Lead is undone alone, not with the message being stored."""

	def __enter__(self):
		self.name = "wa_first_response"
		frappe.db.savepoint(self.name)

	def __exit__(self, exc_type, *exc) -> None:
		if exc_type is not None:
			frappe.db.rollback(save_point=self.name)


def _masked(number: str) -> str:
	return number[:-4] + "****" if len(number) > 6 else "****"


def _has_action_field() -> bool:
	return frappe.get_meta("WhatsApp Account").has_field(ACTION_FIELD)


# -- first response --------------------------------------------------------------------------------------


def first_response(doc, method: str | None = None) -> None:
	"""WhatsApp Message after_insert: an agent's first reply on a Lead or Deal is its first response, as an
	email reply is (the communication status moves to Replied, so CRM's SLA records it); without an SLA,
	the first-response fields are set here, from the Lead's or Deal's creation."""
	if doc.type != "Outgoing" or doc.flags.get("from_gateway") or doc.reference_doctype not in (LEAD, DEAL):
		return
	if not doc.reference_name or frappe.session.user in ("Guest",):
		return
	try:
		_first_response(doc)
	except Exception:
		# Reports must never stop a reply: the message is sent whatever the Lead's own checks say.
		logger().exception("op=first_response message=%s reference=%s", doc.name, doc.reference_name)


def _first_response(doc) -> None:
	target = frappe.get_doc(doc.reference_doctype, doc.reference_name)
	if target.get("first_responded_on"):
		return
	if target.meta.has_field("communication_status") and frappe.db.exists(
		"CRM Communication Status", "Replied"
	):
		target.communication_status = "Replied"
		target.flags.ignore_permissions = True
		with _savepoint():
			target.save()
	if not frappe.db.get_value(doc.reference_doctype, doc.reference_name, "first_responded_on"):
		now = now_datetime()
		start = target.get("sla_creation") or target.creation
		frappe.db.set_value(
			doc.reference_doctype,
			doc.reference_name,
			{"first_responded_on": now, "first_response_time": max(0.0, time_diff_in_seconds(now, start))},
			update_modified=False,
		)
