"""The gateways' health for the workspace: one card per WhatsApp Gateway (managers only)."""

from __future__ import annotations

import frappe
from frappe import _

from whatsapp_crm.gateway.acquire import CONNECTED
from whatsapp_crm.gateway_records.config import GATEWAY, session_counts_by_status


@frappe.whitelist(methods=["GET", "POST"])  # the desk's xcall posts
def health() -> list[dict]:
	"""Each gateway with its health, last check and error, and its sessions (linked / all). Users who may
	not read gateways get an empty list (the card says so) rather than an error on their workspace."""
	if not frappe.has_permission(GATEWAY, "read"):
		return []
	rows = frappe.get_all(
		GATEWAY,
		fields=[
			"name",
			"enabled",
			"is_default",
			"gateway_type",
			"detected_gateway",
			"health_status",
			"last_check",
			"last_error",
			"max_sessions",
		],
		order_by="creation asc",
	)
	counts = session_counts_by_status()
	out = []
	for row in rows:
		mine = [c for c in counts if c.gateway == row.name]
		status = row.health_status or "Unknown"
		out.append(
			{
				"name": row.name,
				"enabled": bool(row.enabled),
				"is_default": bool(row.is_default),
				"kind": row.detected_gateway or _(row.gateway_type or "Auto-detect"),
				"health": status if row.enabled else "Disabled",
				"health_label": _(status) if row.enabled else _("Disabled"),
				"last_check": row.last_check,
				"last_error": row.last_error or "",
				"sessions": sum(c.n for c in mine),
				"connected": sum(c.n for c in mine if c.status == CONNECTED),
				"max_sessions": row.max_sessions or 0,
			}
		)
	return out
