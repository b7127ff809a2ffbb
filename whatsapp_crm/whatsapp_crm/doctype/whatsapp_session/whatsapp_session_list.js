// Copyright (c) 2026, whatsapp_crm developers
// For license information, please see license.txt

frappe.listview_settings["WhatsApp Session"] = {
	add_fields: ["status"],
	get_indicator(doc) {
		const colors = {
			"Not Created": "gray",
			Connecting: "orange",
			"QR Ready": "blue",
			Connected: "green",
			Disconnected: "gray",
			Failed: "red",
		};
		return [__(doc.status), colors[doc.status] || "gray", "status,=," + doc.status];
	},
};
