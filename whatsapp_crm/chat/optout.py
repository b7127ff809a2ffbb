"""Opt-out and opt-in: a customer who writes an opt-out word to a number gets one confirmation, is recorded
(with the date, on their Lead or Contact too), and no campaign sends to them from that number again. An agent
may still answer a conversation the customer starts; an agent may opt them in again, with a reason."""

from __future__ import annotations

import html

import frappe
from frappe import _
from frappe.utils import now_datetime

from whatsapp_crm.chat import campaign_recipients, provider
from whatsapp_crm.gateway.phones import with_plus
from whatsapp_crm.integration import get_settings, logger
from whatsapp_crm.sending import optout as words
from whatsapp_crm.sending import recipients as lists

OPT_OUT = campaign_recipients.OPT_OUT
FLAG, FLAG_ON = "whatsapp_opted_out", "whatsapp_opted_out_on"


def add_indexes() -> None:
	frappe.db.add_unique(OPT_OUT, ["session", "number"], constraint_name="unique_session_number")


def on_incoming(doc, method: str | None = None) -> None:
	"""WhatsApp Message after_insert: a customer's message that is an opt-out word."""
	if doc.type != "Incoming" or not doc.get("from") or doc.content_type not in (None, "", "text"):
		return
	session = provider.session_for_account(doc.whatsapp_account)
	if not session:
		return
	found = words.match(html.unescape(doc.message or ""), words.parse_words(get_settings().opt_out_words))
	if found:
		doc.flags.opt_out_word = True  # its confirmation is the only answer (no away message besides)
		record(session, doc.get("from").lstrip("+"), found, doc)


def record(session: str, number: str, found: tuple[str, str], message) -> bool:
	"""Opt ``number`` out of ``session``'s campaigns; False when it already was (no second confirmation)."""
	lang, word = found
	name = frappe.db.get_value(
		OPT_OUT, {"session": session, "number": number}, ["name", "opted_out"], as_dict=True
	)
	if name and name.opted_out:
		return False
	values = {
		"opted_out": 1,
		"opted_out_on": now_datetime(),
		"word": word[:140],
		"reference_doctype": message.get("reference_doctype"),
		"reference_name": message.get("reference_name"),
	}
	if name:
		frappe.db.set_value(OPT_OUT, name.name, values)
	else:
		frappe.get_doc({"doctype": OPT_OUT, "session": session, "number": number, **values}).insert(
			ignore_permissions=True
		)
	_flag(message.get("reference_doctype"), message.get("reference_name"), True)
	frappe.db.sql(
		f"""update `tab{campaign_recipients.RECIPIENT}` r join `tab{campaign_recipients.NUMBER}` n
		on n.parent = r.campaign and n.parenttype = %s
		set r.status = %s, r.skip_reason = %s where r.number = %s and r.status = %s and n.session = %s""",
		(campaign_recipients.CAMPAIGN, campaign_recipients.SKIPPED, lists.OPTED_OUT, number,
			campaign_recipients.WAITING, session),
	)  # fmt: skip
	_confirm(message, lang)
	logger().info("op=opt_out session=%s lang=%s", session, lang)
	return True


def _confirm(message, lang: str) -> None:
	# The settings' text, else ours in the language of the word that matched.
	reply = (get_settings().opt_out_reply or "").strip() or _(
		"You will not receive more messages from us. Write to us any time if you need anything.",
		lang=lang or None,
	)
	doc = frappe.new_doc(provider.MESSAGE)
	doc.flags.gateway_system_send = True  # the webhook's request has no user who could send
	doc.update(
		{
			"type": "Outgoing",
			"to": with_plus(message.get("from").lstrip("+")),
			"message": html.escape(reply, quote=False),
			"content_type": "text",
			"whatsapp_account": message.whatsapp_account,
			"reference_doctype": message.get("reference_doctype"),
			"reference_name": message.get("reference_name"),
		}
	)
	doc.insert(ignore_permissions=True)


def _flag(doctype: str | None, name: str | None, on: bool) -> None:
	"""The Lead's or Contact's WhatsApp Opt-out field (a Deal's Lead), when the field exists."""
	if doctype == "CRM Deal" and name:
		doctype, name = "CRM Lead", frappe.db.get_value("CRM Deal", name, "lead")
	if doctype not in ("CRM Lead", "Contact") or not name or not frappe.get_meta(doctype).has_field(FLAG):
		return
	frappe.db.set_value(
		doctype, name, {FLAG: int(on), FLAG_ON: now_datetime() if on else None}, update_modified=False
	)


def opt_in(name: str, reason: str) -> None:
	"""An agent opts a number in again: campaigns may send to it from this number from now on."""
	reason = (reason or "").strip()
	if not reason:
		frappe.throw(
			_("Say why this customer may receive campaign messages again (for example, they asked to).")
		)
	doc = frappe.get_doc(OPT_OUT, name)
	if not doc.opted_out:
		frappe.throw(_("This number is not opted out."))
	doc.db_set(
		{
			"opted_out": 0,
			"opted_in_on": now_datetime(),
			"opted_in_by": frappe.session.user,
			"opt_in_reason": reason[:1000],
		}
	)
	doc.add_comment("Info", _("Opted in again: {0}").format(frappe.utils.escape_html(reason[:1000])))
	_flag(doc.reference_doctype, doc.reference_name, False)
