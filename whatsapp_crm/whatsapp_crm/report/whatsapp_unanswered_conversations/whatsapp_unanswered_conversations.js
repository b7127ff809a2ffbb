// Copyright (c) 2026, whatsapp_crm developers
// For license information, please see license.txt
// Open conversations waiting on the team for more than an hour of business time, longest first
// (chat/reports.py).

frappe.query_reports["WhatsApp Unanswered Conversations"] = {
	filters: [
		{
			fieldname: "whatsapp_account",
			label: __("WhatsApp Number"),
			fieldtype: "Link",
			options: "WhatsApp Account",
		},
	],
};
