// Copyright (c) 2026, whatsapp_crm developers
// For license information, please see license.txt

frappe.ui.form.on("WhatsApp Gateway", {
	refresh(frm) {
		if (!frm.is_new()) {
			frm.add_custom_button(__("Test connection"), () => whatsapp_crm_gateway_test(frm));
			frm.add_custom_button(__("Sessions"), () =>
				frappe.set_route("List", "WhatsApp Session", { gateway: frm.doc.name })
			);
		}
		const colors = { Healthy: "green", Down: "red", Unknown: "gray" };
		if (frm.doc.health_status) {
			frm.page.set_indicator(__(frm.doc.health_status), colors[frm.doc.health_status] || "gray");
		}
	},
});

function whatsapp_crm_gateway_test(frm) {
	const run = () =>
		frm.call({
			method: "test_connection",
			doc: frm.doc,
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
				frm.reload_doc();
			},
		});
	// The test reads the saved record: save pending edits first.
	if (frm.is_dirty()) {
		frm.save().then(run);
	} else {
		run();
	}
}
