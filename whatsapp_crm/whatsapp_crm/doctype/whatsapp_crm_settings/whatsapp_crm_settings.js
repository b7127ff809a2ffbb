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
				const yes_no = (v) => (v === true ? __("Yes") : v === false ? __("No") : __("Unknown"));
				const rows = [
					[__("Reachable"), yes_no(res.reachable)],
					[__("API key accepted"), yes_no(res.key_accepted)],
					[__("Gateway"), [res.gateway_name, res.gateway_version].filter(Boolean).join(" ") || "-"],
					[__("Gateway status"), res.gateway_status || "-"],
					[__("Response time"), res.latency_ms != null ? res.latency_ms + " ms" : "-"],
				];
				const table = rows
					.map(([k, v]) => `<tr><th style="width:40%">${esc(k)}</th><td>${esc(String(v))}</td></tr>`)
					.join("");
				frappe.msgprint({
					title: __("Test connection"),
					indicator: res.error_code ? "red" : "green",
					message: `<p>${esc(res.message || "")}</p><table class="table table-bordered">${table}</table>`,
				});
			},
		});
	// The test reads the saved settings: save pending edits first.
	if (frm.is_dirty()) {
		frm.save().then(run);
	} else {
		run();
	}
}
