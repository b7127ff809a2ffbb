// Copyright (c) 2026, whatsapp_crm developers
// For license information, please see license.txt
// First response and resolution times in business hours, per agent or per WhatsApp number (chat/reports.py).
// The Group By values stay English (the server reads them); only their labels are translated.

frappe.query_reports["WhatsApp Response Times"] = {
	filters: [
		{
			fieldname: "from_date",
			label: __("From Date"),
			fieldtype: "Date",
			default: frappe.datetime.add_days(frappe.datetime.get_today(), -29),
			reqd: 1,
		},
		{
			fieldname: "to_date",
			label: __("To Date"),
			fieldtype: "Date",
			default: frappe.datetime.get_today(),
			reqd: 1,
		},
		{
			fieldname: "whatsapp_account",
			label: __("WhatsApp Number"),
			fieldtype: "Link",
			options: "WhatsApp Account",
		},
		{
			fieldname: "group_by",
			label: __("Group By"),
			fieldtype: "Select",
			options: [
				{ value: "Agent", label: __("Agent") },
				{ value: "WhatsApp Number", label: __("WhatsApp Number") },
			],
			default: "Agent",
			reqd: 1,
		},
	],
	// no cycle answered or resolved yet: an empty cell, not "0s"
	formatter(value, row, column, data, default_formatter) {
		if (column.fieldtype === "Duration" && data && data[column.fieldname] == null) return "";
		return default_formatter(value, row, column, data);
	},
};
