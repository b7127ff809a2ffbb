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
	// a conversation opens in the inbox (where anyone who may see it can answer), not as a bare record
	formatter(value, row, column, data, default_formatter) {
		if (column.fieldname === "conversation" && data && data.conversation) {
			const url = `/app/whatsapp-inbox?conversation=${encodeURIComponent(data.conversation)}`;
			return `<a href="${frappe.utils.escape_html(url)}">${frappe.utils.escape_html(data.conversation)}</a>`;
		}
		return default_formatter(value, row, column, data);
	},
};
