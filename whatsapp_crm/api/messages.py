"""The session form's messages: Send test message (queued, sent by a job) and the last messages of the
session, so an admin can check sending and receiving end to end with or without Frappe CRM."""

from __future__ import annotations

import frappe
from frappe import _

from whatsapp_crm.chat import numbers, recent
from whatsapp_crm.chat.outbox import QUEUED
from whatsapp_crm.gateway.acquire import CONNECTED
from whatsapp_crm.gateway.errors import GatewayError
from whatsapp_crm.gateway.messaging import checked_outgoing
from whatsapp_crm.gateway.phones import with_plus
from whatsapp_crm.integration import SESSION, code_message


def _session(name: str, ptype: str):
	if not name or not frappe.db.exists(SESSION, name):
		frappe.throw(_("WhatsApp Session {0} not found.").format(frappe.bold(name)), frappe.DoesNotExistError)
	doc = frappe.get_doc(SESSION, name)
	doc.check_permission(ptype)
	return doc


@frappe.whitelist(methods=["POST"])
def send_test_message(name: str, to: str, text: str) -> dict:
	"""Queue a text to ``to`` through the session; the result shows in the session's recent messages."""
	doc = _session(name, "write")
	if doc.status != CONNECTED:
		frappe.throw(
			_("Link a phone to this session first: it is {0}.").format(_(doc.status)),
			title=_("Session not connected"),
		)
	number = numbers.site_digits(to)
	try:
		checked_outgoing(number, text)
	except GatewayError as e:
		frappe.throw(code_message(e.code), title=_("Message not sent"))
	local_id = "local-" + frappe.generate_hash(length=12)
	recent.add(doc.name, local_id, "out", with_plus(number), text, QUEUED)
	frappe.enqueue(
		"whatsapp_crm.chat.outbox.send_test",
		queue="short",
		enqueue_after_commit=True,
		session=doc.name,
		number=number,
		text=text,
		local_id=local_id,
	)
	return {"queued": True, "id": local_id}


@frappe.whitelist(methods=["GET", "POST"])
def recent_messages(name: str) -> list[dict]:
	"""The session's last messages, newest first; a failed send carries its reason in plain words."""
	doc = _session(name, "read")
	rows = recent.entries(doc.name)
	for row in rows:
		row["error_message"] = code_message(row["error"]) if row.get("error") else None
	return rows
