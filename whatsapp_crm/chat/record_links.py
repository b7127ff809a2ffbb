"""The app's rows follow the records they point at, so that they never stand in the way of ordinary CRM work.

Frappe refuses to delete a record while other rows link to it. The app's own rows (conversations, read marks,
session events, parked events) are listed in ``ignore_links_on_delete`` (hooks.py); what happens to them, and
to the WhatsApp messages this app stored, is decided here (docs/messaging.md, "Deleting, converting, renaming"):

- a Lead, Deal or Contact deleted: its conversations and messages stay (nothing a customer wrote is lost) and
  point at the record that still holds the person: a Deal's Lead, a Lead's Deal, or nothing;
- a Lead converted to a Deal: its conversations point at the Deal, unread marks and all;
- a WhatsApp Account deleted: its conversations and their read marks go with it (the inbox is per number);
  its messages and Leads keep their history without the account, and frappe_whatsapp's defaults forget it;
- renamed or merged records: Frappe updates every Link and Dynamic Link itself; nothing to do here.

These run in ``on_trash`` (before Frappe's link check) and make database writes only: no network.
"""

from __future__ import annotations

import frappe

from whatsapp_crm.chat import provider
from whatsapp_crm.chat.conversations import CONVERSATION, READ, describe

LEAD, DEAL, CONTACT = "CRM Lead", "CRM Deal", "Contact"
LEAD_ACCOUNT_FIELD = "whatsapp_account"  # crm_lead_fields.json
WHATSAPP_SETTINGS = "WhatsApp Settings"  # frappe_whatsapp's
PROFILES = "WhatsApp Profiles"
TRAFFIC_DOCTYPES = (provider.MESSAGE, PROFILES)


def _successor(doctype: str, name: str) -> tuple[str | None, str | None]:
	"""The record that holds the person once ``doctype`` ``name`` is gone: a Deal's Lead, a Lead's newest
	Deal, or (None, None)."""
	if doctype == DEAL:
		lead = frappe.db.get_value(DEAL, name, "lead")
		if lead and frappe.db.exists(LEAD, lead):
			return LEAD, lead
	elif doctype == LEAD and frappe.db.exists("DocType", DEAL):
		deal = frappe.db.get_value(DEAL, {"lead": name}, "name", order_by="creation desc")
		if deal:
			return DEAL, deal
	return None, None


def move_references(old_doctype: str, old_name: str, new_doctype: str | None, new_name: str | None) -> None:
	"""Point every conversation and stored message of ``old`` at ``new`` (or at nothing)."""
	for row in frappe.get_all(
		CONVERSATION,
		{"reference_doctype": old_doctype, "reference_name": old_name},
		["name", "number", "title"],
	):
		title, assignee = describe(new_doctype, new_name, row.title or row.number)
		if title == new_name:  # the record has no title of its own (a Deal without organization)
			title = row.title or title
		frappe.db.set_value(
			CONVERSATION,
			row.name,
			{
				"reference_doctype": new_doctype,
				"reference_name": new_name,
				"title": title,
				"assignee": assignee,
			},
			update_modified=False,
		)
	if frappe.db.exists("DocType", provider.MESSAGE):
		frappe.db.set_value(
			provider.MESSAGE,
			{"reference_doctype": old_doctype, "reference_name": old_name},
			{"reference_doctype": new_doctype, "reference_name": new_name},
			update_modified=False,
		)


def on_record_trash(doc, method: str | None = None) -> None:
	"""on_trash of CRM Lead, CRM Deal and Contact."""
	move_references(doc.doctype, doc.name, *_successor(doc.doctype, doc.name))
	if doc.doctype == CONTACT and frappe.db.exists("DocType", PROFILES):
		# frappe_whatsapp's profile of the number (made from the traffic this app stores) outlives the Contact
		frappe.db.set_value(PROFILES, {"contact": doc.name}, "contact", None, update_modified=False)


def on_deal_insert(doc, method: str | None = None) -> None:
	"""after_insert of CRM Deal: a Lead converted to this Deal hands it its conversations."""
	if doc.get("lead"):
		move_references(LEAD, doc.lead, DEAL, doc.name)


def on_account_trash(doc, method: str | None = None) -> None:
	"""on_trash of WhatsApp Account."""
	conversations = frappe.get_all(CONVERSATION, {"whatsapp_account": doc.name}, pluck="name")
	if conversations:
		frappe.db.delete(READ, {"conversation": ("in", conversations)})
		frappe.db.delete(CONVERSATION, {"name": ("in", conversations)})
	# What frappe_whatsapp makes from the traffic this app stores: kept, without the account. (Templates,
	# flows and notifications are set up by people: Frappe still names those.)
	for doctype in TRAFFIC_DOCTYPES:
		if frappe.db.exists("DocType", doctype):
			frappe.db.set_value(
				doctype, {"whatsapp_account": doc.name}, "whatsapp_account", None, update_modified=False
			)
	# frappe_whatsapp's defaults would otherwise name an account that is gone (and refuse the delete).
	for field in ("default_outgoing_account", "default_incoming_account"):
		if frappe.db.get_single_value(WHATSAPP_SETTINGS, field) == doc.name:
			frappe.db.set_single_value(WHATSAPP_SETTINGS, field, None)
	if frappe.db.exists("DocType", LEAD) and frappe.get_meta(LEAD).has_field(LEAD_ACCOUNT_FIELD):
		frappe.db.set_value(
			LEAD, {LEAD_ACCOUNT_FIELD: doc.name}, LEAD_ACCOUNT_FIELD, None, update_modified=False
		)


def on_session_trash(doc, method: str | None = None) -> None:
	"""on_trash of WhatsApp Session: the accounts it backed are left without a session (they say so when
	used), rather than refusing the delete."""
	if frappe.get_meta(provider.ACCOUNT).has_field(provider.SESSION_FIELD):
		frappe.db.set_value(
			provider.ACCOUNT,
			{provider.SESSION_FIELD: doc.name},
			provider.SESSION_FIELD,
			None,
			update_modified=False,
		)
