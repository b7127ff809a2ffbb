// Copyright (c) 2026, whatsapp_crm developers
// For license information, please see license.txt
// Conversations opened and resolved per day (chat/reports.py), the last 30 days unless told.

frappe.query_reports["WhatsApp Conversations per Day"] = {
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
	],
};
