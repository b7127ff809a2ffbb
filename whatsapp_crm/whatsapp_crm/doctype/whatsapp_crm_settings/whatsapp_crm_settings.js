// Copyright (c) 2026, whatsapp_crm developers
// For license information, please see license.txt

frappe.ui.form.on("WhatsApp CRM Settings", {
	refresh(frm) {
		// The servers (URL, key, secret, Test connection) are WhatsApp Gateway records; this is the policy.
		frm.add_custom_button(__("Gateways"), () => frappe.set_route("List", "WhatsApp Gateway"));
	},
});
