"""The session form's history: the recent status changes and the Connected share of the last 7 days.

Events are readable only by managers as documents; anyone who can read the session (its owner through the
read share, for one) gets its history here, after a read check on the session itself. Read only, so GET too.
"""

from __future__ import annotations

import frappe
from frappe import _

from whatsapp_crm.integration import SESSION
from whatsapp_crm.sessions import history


@frappe.whitelist(methods=["GET", "POST"])
def get_history(session: str) -> dict:
	"""``events`` (newest first) and ``connected_share`` (0..1) of the last 7 days."""
	if not session or not frappe.db.exists(SESSION, session):
		frappe.throw(
			_("WhatsApp Session {0} not found.").format(frappe.bold(session)), frappe.DoesNotExistError
		)
	frappe.get_doc(SESSION, session).check_permission("read")
	return history.summary(session)
