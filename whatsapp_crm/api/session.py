"""Whitelisted endpoints for other UIs and integrations (e.g. Frappe CRM's own UI).

Each one takes the WhatsApp Session document name, checks permissions itself (through the controller,
which also reloads from the database), and returns the structured payload
(see docs/architecture.md, 'The session payload'). Everything that talks to the gateway or stores state is
POST only. Arguments are plain strings and bools, which is what desk's form-encoded ``frappe.call`` sends
(Frappe v15 enforces these hints).
"""

from __future__ import annotations

import frappe
from frappe import _

from whatsapp_crm.integration import SESSION


def _session(session: str):
	try:
		if not session:
			raise frappe.DoesNotExistError
		doc = frappe.get_doc(SESSION, session)
	except frappe.DoesNotExistError:
		frappe.clear_last_message()
		frappe.throw(
			_("WhatsApp Session {0} not found.").format(frappe.bold(session)), frappe.DoesNotExistError
		)
	doc.flags.fresh_from_db = True  # no second load in the controller
	return doc


@frappe.whitelist(methods=["POST"])
def create_session(session: str) -> dict:
	"""Create the session on the gateway and wait, within the configured deadline, for its QR."""
	return _session(session).create_session()


@frappe.whitelist(methods=["POST"])
def get_status(session: str, recreate: bool = False) -> dict:
	"""One status read (plus the QR when the gateway has one); stores what it learnt."""
	return _session(session).get_status(recreate=recreate)


@frappe.whitelist(methods=["POST"])
def refresh_qr(session: str) -> dict:
	"""Wait, within the configured deadline, for a fresh QR."""
	return _session(session).refresh_qr()


@frappe.whitelist(methods=["POST"])
def logout(session: str) -> dict:
	"""Unlink the phone and remove the session from the gateway."""
	return _session(session).logout()


@frappe.whitelist(methods=["POST"])
def request_pairing_code(session: str, phone: str) -> dict:
	"""An 8-character code to type on the phone instead of scanning the QR (rate-limited per session)."""
	return _session(session).request_pairing_code(phone)


@frappe.whitelist(methods=["POST"])
def sync_messages(session: str, since: str | None = None) -> dict:
	"""Queue a catch-up: messages the webhooks missed since ``since`` (or the last catch-up) are read back
	from the gateway. Only users who may write the session."""
	return _session(session).sync_messages(since or None)
