// Copyright (c) 2026, whatsapp_crm developers
// For license information, please see license.txt
// Opt in again: only with a reason, which is kept on the record and in its timeline.

frappe.ui.form.on("WhatsApp Opt Out", {
	refresh(frm) {
		if (frm.is_new() || !frm.doc.opted_out) return;
		frm.add_custom_button(__("Opt in again"), () => {
			frappe.prompt(
				[{ fieldname: "reason", fieldtype: "Small Text", label: __("Reason"), reqd: 1 }],
				(values) =>
					frappe
						.xcall("whatsapp_crm.api.sending.opt_in", { name: frm.doc.name, reason: values.reason })
						.then(() => frm.reload_doc()),
				__("Opt in again"),
				__("Opt in")
			);
		});
	},
});
