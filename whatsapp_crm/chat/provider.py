"""frappe_whatsapp's WhatsApp Account, backed by a WhatsApp Session instead of Meta's Cloud API.

Optional: everything here does nothing unless frappe_whatsapp is installed on the site. An account gets a
"Gateway Session" field (a custom field, added on install and migrate); while its session is Connected the
account is Active, otherwise Inactive, so Frappe CRM's ``is_whatsapp_enabled`` follows the phone.
"""

from __future__ import annotations

import json
from pathlib import Path

import frappe
from frappe import _
from frappe.custom.doctype.custom_field.custom_field import create_custom_fields

from whatsapp_crm.gateway.acquire import CONNECTED
from whatsapp_crm.integration import MANAGER_ROLE, SESSION

APP = "frappe_whatsapp"
ACCOUNT = "WhatsApp Account"
MESSAGE = "WhatsApp Message"
SESSION_FIELD = "whatsapp_session"
ROLES_FIELD = "whatsapp_send_roles"
ACTIVE, INACTIVE = "Active", "Inactive"
# Frappe CRM's doctypes a message can belong to; reading one is what lets a user read its messages.
REFERENCE_DOCTYPES = ("CRM Lead", "CRM Deal", "Contact")
ALL_ACCESS_ROLES = ("System Manager", MANAGER_ROLE)

# The Gateway Session fields of frappe_whatsapp's WhatsApp Account (JSON, so their labels are extracted for
# translation like a doctype's).
FIELDS_FILE = Path(__file__).with_name("whatsapp_account_fields.json")
# The outbox's send claim on frappe_whatsapp's WhatsApp Message.
MESSAGE_FIELDS_FILE = Path(__file__).with_name("whatsapp_message_fields.json")
LEAD_FIELDS_FILE = Path(__file__).with_name("crm_lead_fields.json")
# A Contact's WhatsApp opt-out (Frappe's own Contact: there with or without CRM).
CONTACT_FIELDS_FILE = Path(__file__).with_name("contact_fields.json")


def installed() -> bool:
	# Cached by Frappe: no query on the webhook's path (frappe_whatsapp installed means its doctypes exist).
	return APP in frappe.get_installed_apps()


def setup() -> None:
	"""Add the Gateway Session fields and an index for the gateway's message ids (install, migrate, and when
	frappe_whatsapp is installed after this app)."""
	if not installed():
		return
	for path in (FIELDS_FILE, MESSAGE_FIELDS_FILE, CONTACT_FIELDS_FILE):
		spec = json.loads(path.read_text(encoding="utf-8"))
		create_custom_fields({spec["dt"]: spec["fields"]}, update=True)
	frappe.db.add_index(MESSAGE, ["message_id"])
	# the sending policy's ledger: one number's sends of the last day
	frappe.db.add_index(MESSAGE, ["whatsapp_account", "gateway_sent_at"])
	# the inbox's thread: one account's messages from or to one number (``from`` is a reserved word, which
	# frappe.db.add_index does not quote)
	for name, columns in (
		("wa_account_from", "whatsapp_account, `from`"),
		("wa_account_to", "whatsapp_account, `to`"),
	):
		if not frappe.db.sql(f"show index from `tab{MESSAGE}` where Key_name = %s", name):
			frappe.db.sql_ddl(f"alter table `tab{MESSAGE}` add index `{name}` ({columns})")
	setup_crm()


def setup_crm() -> None:
	"""With Frappe CRM: the Lead's WhatsApp Number field and the Lead Source "WhatsApp"."""
	if not frappe.db.exists("DocType", "CRM Lead"):
		return
	spec = json.loads(LEAD_FIELDS_FILE.read_text(encoding="utf-8"))
	create_custom_fields({spec["dt"]: spec["fields"]}, update=True)
	if frappe.db.exists("DocType", "CRM Lead Source") and not frappe.db.exists("CRM Lead Source", "WhatsApp"):
		frappe.get_doc({"doctype": "CRM Lead Source", "source_name": "WhatsApp"}).insert(
			ignore_permissions=True
		)


def after_app_install(app: str) -> None:
	if app == APP:
		setup()
	elif app == "crm":
		setup_crm()


def _has_field() -> bool:
	return installed() and frappe.get_meta(ACCOUNT).has_field(SESSION_FIELD)


def session_for_account(account: str | None) -> str | None:
	if not account or not _has_field():
		return None
	return frappe.db.get_value(ACCOUNT, account, SESSION_FIELD) or None


def account_for_session(session: str) -> str | None:
	if not _has_field():
		return None
	found = frappe.get_all(
		ACCOUNT, filters={SESSION_FIELD: session}, pluck="name", order_by="creation asc", limit=1
	)
	return found[0] if found else None


def status_for(session_status: str | None) -> str:
	return ACTIVE if session_status == CONNECTED else INACTIVE


def account_validate(doc, method: str | None = None) -> None:
	"""An account backed by a session: one account per session, and its status is the session's."""
	session = doc.get(SESSION_FIELD)
	if not session:
		return
	other = frappe.db.get_value(ACCOUNT, {SESSION_FIELD: session, "name": ("!=", doc.name)}, "name")
	if other:
		frappe.throw(
			_("WhatsApp Session {0} already backs the WhatsApp Account {1}.").format(
				frappe.bold(session), frappe.bold(other)
			),
			title=_("Session already in use"),
		)
	doc.status = status_for(frappe.db.get_value(SESSION, session, "status"))


def session_status_changed(event, method: str | None = None) -> None:
	"""A WhatsApp Session Event (every status change is one): the backed account follows."""
	if not _has_field():
		return
	status = status_for(event.to_status)
	for name in frappe.get_all(
		ACCOUNT, filters={SESSION_FIELD: event.session, "status": ("!=", status)}, pluck="name"
	):
		frappe.db.set_value(ACCOUNT, name, "status", status)
		# Frappe CRM reads the status with get_cached_value.
		frappe.clear_document_cache(ACCOUNT, name)


def check_can_send(account: str, user: str | None = None) -> None:
	"""Only users with one of the account's sending roles (any, when none is set) send through it."""
	user = user or frappe.session.user
	if user == "Administrator":
		return
	roles = frappe.get_all(
		"WhatsApp Account Role", filters={"parent": account, "parenttype": ACCOUNT}, pluck="role"
	)
	if roles and not set(roles) & set(frappe.get_roles(user)):
		frappe.throw(
			_("You are not allowed to send WhatsApp messages through the account {0}.").format(
				frappe.bold(account)
			),
			frappe.PermissionError,
			title=_("Not allowed to send"),
		)


def _sees_all(user: str) -> bool:
	return user == "Administrator" or bool(set(ALL_ACCESS_ROLES) & set(frappe.get_roles(user)))


def message_has_permission(doc, ptype: str | None = None, user: str | None = None) -> bool:
	"""A message of a Lead, Deal or Contact is readable only by whoever can read that document."""
	user = user or frappe.session.user
	if _sees_all(user):
		return True
	doctype, name = doc.get("reference_doctype"), doc.get("reference_name")
	if not doctype or not name or not frappe.db.exists(doctype, name):
		return True  # no reference: the doctype's own permissions decide
	return bool(frappe.has_permission(doctype, "read", doc=name, user=user))


def message_query(user: str | None = None) -> str:
	"""List views: messages of doctypes the user cannot read at all are left out."""
	user = user or frappe.session.user
	if _sees_all(user):
		return ""
	hidden = [
		dt
		for dt in REFERENCE_DOCTYPES
		if frappe.db.exists("DocType", dt) and not frappe.has_permission(dt, "read", user=user)
	]
	if not hidden:
		return ""
	names = ", ".join(frappe.db.escape(dt) for dt in hidden)
	return f"(ifnull(`tabWhatsApp Message`.reference_doctype, '') not in ({names}))"


def refresh_crm(doc) -> None:
	"""Frappe CRM's WhatsApp tab reloads on its ``whatsapp_message`` event, which CRM publishes from on_update
	before the transaction commits: a page that reloads at once can miss the change. The same event once more,
	after the commit, makes the open Lead or Deal page show it."""
	if doc.reference_doctype and doc.reference_name:
		frappe.publish_realtime(
			"whatsapp_message",
			{"reference_doctype": doc.reference_doctype, "reference_name": doc.reference_name},
			after_commit=True,
		)
