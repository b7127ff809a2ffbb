"""Install and migrate hooks: every settings field has its default from the start, including fields that
a newer version of the app adds to an existing site."""

import frappe

from whatsapp_crm.chat.provider import setup
from whatsapp_crm.gateway_records.install import ensure_block
from whatsapp_crm.integration import SETTINGS


def set_missing_defaults() -> None:
	settings = frappe.get_single(SETTINGS)
	stored = frappe.db.get_singles_dict(SETTINGS)
	missing = [
		df for df in settings.meta.fields if df.default is not None and stored.get(df.fieldname) is None
	]
	if not missing:
		return
	for df in missing:
		settings.set(df.fieldname, df.default)
	settings.flags.ignore_permissions = True
	settings.save()


def after_install() -> None:
	set_missing_defaults()
	setup()
	ensure_block()
