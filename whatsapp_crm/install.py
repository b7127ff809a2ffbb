"""Install hooks: give the settings their defaults so every policy number is set from the start."""

import frappe

from whatsapp_crm.integration import SETTINGS


def after_install() -> None:
	settings = frappe.get_single(SETTINGS)
	stored = frappe.db.get_singles_dict(SETTINGS)
	for df in settings.meta.fields:
		if df.default is not None and stored.get(df.fieldname) is None:
			settings.set(df.fieldname, df.default)
	settings.flags.ignore_permissions = True
	settings.save()
