"""Many gateways: the single gateway of WhatsApp CRM Settings becomes the first WhatsApp Gateway record.

Its URL, type, key, webhook secret and what was detected move over (the passwords decrypted from the
settings and stored again on the record); every session and parked webhook event points at it. Nothing is
re-linked: sessions keep their names and their gateway ids, and the webhook URL registered on the gateway
(no gateway name in it) is still accepted, checked against this record's secret. Safe to run again.
"""

import frappe
from frappe.utils.password import get_decrypted_password

SETTINGS = "WhatsApp CRM Settings"
GATEWAY = "WhatsApp Gateway"
FIRST = "main"
MOVED = ("gateway_url", "gateway_type", "detected_gateway", "detected_gateway_type")
SECRETS = ("api_key", "webhook_secret")


def execute() -> None:
	old = dict(
		frappe.db.sql(
			"select field, value from `tabSingles` where doctype=%s and field in %s", (SETTINGS, MOVED)
		)
	)
	secrets = {f: get_decrypted_password(SETTINGS, SETTINGS, f, raise_exception=False) for f in SECRETS}
	sessions = frappe.db.count("WhatsApp Session", {"gateway": ("is", "not set")})
	name = frappe.db.get_value(GATEWAY, {"is_default": 1}, "name") or frappe.db.get_value(GATEWAY, {}, "name")
	if not name:
		if not old.get("gateway_url") and not sessions:
			return  # a site that never had a gateway: nothing to move
		doc = frappe.new_doc(GATEWAY)
		doc.update(
			{
				"label": FIRST,
				"enabled": 1,
				"is_default": 1,
				"gateway_url": old.get("gateway_url") or "",
				"gateway_type": old.get("gateway_type") or "Baileys REST",  # the old default
				"api_key": secrets["api_key"] or "",
				"webhook_secret": secrets["webhook_secret"] or "",
			}
		)
		# An old site may have had sessions and no URL: keep them, the record says what is missing.
		doc.flags.ignore_mandatory = not doc.gateway_url
		doc.flags.ignore_validate = not doc.gateway_url
		doc.insert(ignore_permissions=True)
		frappe.db.set_value(
			GATEWAY,
			doc.name,
			{
				"detected_gateway": old.get("detected_gateway"),
				"detected_gateway_type": old.get("detected_gateway_type"),
			},
			update_modified=False,
		)
		name = doc.name
	frappe.db.sql("update `tabWhatsApp Session` set gateway=%s where ifnull(gateway, '')=''", (name,))
	if frappe.db.table_exists("WhatsApp Parked Event"):
		frappe.db.sql(
			"update `tabWhatsApp Parked Event` set gateway=%s where ifnull(gateway, '')=''", (name,)
		)
	# The settings no longer hold a gateway: no stale copy of the key or the secret stays behind.
	frappe.db.sql("delete from `tabSingles` where doctype=%s and field in %s", (SETTINGS, MOVED + SECRETS))
	frappe.db.sql(
		"delete from `__Auth` where doctype=%s and name=%s and fieldname in %s", (SETTINGS, SETTINGS, SECRETS)
	)
	frappe.clear_cache(doctype=SETTINGS)
