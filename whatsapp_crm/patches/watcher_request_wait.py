"""The watcher answers create and Status without waiting inside the request: sites still on the old default
in-request wait (0.5 s) move to the new one (0). A value an admin chose is kept."""

import frappe

OLD_DEFAULT = 0.5


def execute() -> None:
	current = frappe.db.get_single_value("WhatsApp CRM Settings", "request_wait")
	if current is not None and float(current) == OLD_DEFAULT:
		frappe.db.set_single_value("WhatsApp CRM Settings", "request_wait", 0)
