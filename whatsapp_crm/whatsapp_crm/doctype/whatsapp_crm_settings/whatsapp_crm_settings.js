// Copyright (c) 2026, whatsapp_crm developers
// For license information, please see license.txt

frappe.ui.form.on("WhatsApp CRM Settings", {
	refresh(frm) {
		frm.add_custom_button(__("Test connection"), () => whatsapp_crm_test_connection(frm));
	},
});

function whatsapp_crm_test_connection(frm) {
	const run = () =>
		frappe.call({
			method: "whatsapp_crm.whatsapp_crm.doctype.whatsapp_crm_settings.whatsapp_crm_settings.test_connection",
			freeze: true,
			freeze_message: __("Contacting the gateway..."),
			callback: (r) => {
				const res = r.message || {};
				const esc = frappe.utils.escape_html;
				const marks = { ok: ["green", __("Passed")], fail: ["red", __("Failed")], skip: ["gray", __("Skipped")] };
				const rows = (res.checks || [])
					.map((c) => {
						const [color, word] = marks[c.result] || marks.skip;
						return `<tr><td style="width:20%"><span class="indicator-pill ${color}">${esc(word)}</span></td><td>${esc(c.message || "")}</td></tr>`;
					})
					.join("");
				frappe.msgprint({
					title: __("Test connection"),
					indicator: res.ok ? "green" : "red",
					message: `<p>${esc(res.message || "")}</p><table class="table table-bordered">${rows}</table>`,
				});
				if (res.gateway) frm.reload_doc();
			},
		});
	// The test reads the saved settings: save pending edits first.
	if (frm.is_dirty()) {
		frm.save().then(run);
	} else {
		run();
	}
}
