// Copyright (c) 2026, whatsapp_crm developers
// For license information, please see license.txt
// The campaign form: filters set with Frappe's own filter editor, Start/Pause/Resume/Cancel, and a progress
// bar fed by one grouped query, reloaded on the campaign's realtime event (a named handler, removed on hide).

const WAC_API = "whatsapp_crm.api.campaigns.";
const WAC_EVENT = "whatsapp_campaign_progress";
const WAC_REASONS = {
	opted_out: __("opted out"),
	blocked: __("blocked"),
	not_on_whatsapp: __("not on WhatsApp"),
	invalid_number: __("invalid number"),
	duplicate: __("duplicate"),
	no_number: __("no number"),
	cancelled: __("cancelled"),
};

frappe.ui.form.on("WhatsApp Campaign", {
	setup(frm) {
		frm.wac = { on_progress: null, loading: false, again: false };
	},

	refresh(frm) {
		wac_teardown(frm);
		// The Datetime control appends the time zone to its description before translating it, so the lookup
		// would miss: hand it the translated text.
		frm.set_df_property(
			"start_at",
			"description",
			__("When the first message may go. Empty: as soon as you click Start. Messages still wait for each number's sending policy (caps, quiet hours).")
		);
		if (frm.doc.source !== "Pasted list" && frm.doc.status === "Draft") {
			frm.add_custom_button(__("Set filters"), () => wac_filters(frm));
		}
		if (frm.is_new()) return;
		const status = frm.doc.status;
		if (status === "Draft") {
			frm.add_custom_button(__("Start"), () => wac_act(frm, "start", __("Start sending this campaign?"))).addClass("btn-primary");
		}
		if (status === "Running" || status === "Scheduled") {
			frm.add_custom_button(__("Pause"), () => wac_act(frm, "pause"));
		}
		if (status === "Paused") {
			frm.add_custom_button(__("Resume"), () => wac_act(frm, "resume")).addClass("btn-primary");
		}
		if (!["Completed", "Cancelled", "Draft"].includes(status)) {
			frm.add_custom_button(__("Cancel"), () => wac_act(frm, "cancel", __("Cancel the campaign? Recipients still waiting are skipped.")));
		}
		frm.add_custom_button(__("Recipients"), () => frappe.set_route("List", "WhatsApp Campaign Recipient", { campaign: frm.doc.name }));
		frm.wac.on_progress = (data) => {
			if (data && data.campaign === frm.doc.name) wac_load(frm);
		};
		frappe.realtime.on(WAC_EVENT, frm.wac.on_progress);
		wac_load(frm);
	},

	on_hide(frm) {
		wac_teardown(frm);
	},
});

function wac_teardown(frm) {
	if (frm.wac && frm.wac.on_progress) frappe.realtime.off(WAC_EVENT, frm.wac.on_progress);
	if (frm.wac) frm.wac.on_progress = null;
}

function wac_esc(value) {
	return frappe.utils.escape_html(value == null ? "" : String(value));
}

function wac_act(frm, action, confirm) {
	// frm.save() on an unchanged form never settles: save only what changed.
	const saved = () => (frm.is_dirty() ? frm.save() : Promise.resolve());
	const go = () =>
		saved()
			.then(() => frappe.xcall(WAC_API + action, { name: frm.doc.name }))
			.then(() => frm.reload_doc());
	if (confirm) frappe.confirm(wac_esc(confirm), go);
	else go();
}

function wac_filters(frm) {
	const dialog = new frappe.ui.Dialog({
		title: __("Filters"),
		fields: [{ fieldtype: "HTML", fieldname: "filter_area" }],
		primary_action_label: __("Set"),
		primary_action() {
			frm.set_value("filters", JSON.stringify(group.get_filters()));
			dialog.hide();
		},
	});
	const group = new frappe.ui.FilterGroup({
		parent: dialog.get_field("filter_area").$wrapper,
		doctype: frm.doc.source,
		on_change() {},
	});
	frappe.model.with_doctype(frm.doc.source, () => {
		let current = [];
		try {
			current = JSON.parse(frm.doc.filters || "[]");
		} catch (e) {
			current = [];
		}
		group.add_filters_to_filter_group(Array.isArray(current) ? current : []);
	});
	dialog.show();
}

// One load at a time; a load asked for meanwhile runs once the current one ends.
function wac_load(frm) {
	if (frm.wac.loading) {
		frm.wac.again = true;
		return;
	}
	frm.wac.loading = true;
	frappe
		.xcall(WAC_API + "progress", { name: frm.doc.name })
		.then((p) => wac_render(frm, p))
		.finally(() => {
			frm.wac.loading = false;
			if (frm.wac.again) {
				frm.wac.again = false;
				wac_load(frm);
			}
		});
}

function wac_render(frm, p) {
	const field = frm.get_field("progress_html");
	if (!field) return;
	const by = p.by_status || {};
	const parts = ["Waiting", "Sending", "Sent", "Delivered", "Seen", "Replied", "Failed", "Skipped"]
		.filter((s) => by[s])
		.map((s) => `${wac_esc(__(s))}: ${wac_esc(by[s])}`);
	const skipped = Object.entries(p.skipped || {}).map(([r, n]) => `${wac_esc(WAC_REASONS[r] || r)}: ${wac_esc(n)}`);
	let html = `<div class="progress" style="height: 10px; margin-bottom: 8px;"><div class="progress-bar" role="progressbar" style="width: ${Number(p.percent) || 0}%"></div></div>`;
	html += `<p>${wac_esc(__("{0} of {1} recipients done ({2}%)", [p.done || 0, p.total || 0, p.percent || 0]))}</p>`;
	if (parts.length) html += `<p>${parts.join(" · ")}</p>`;
	if (skipped.length) html += `<p>${wac_esc(__("Skipped"))}: ${skipped.join(" · ")}</p>`;
	for (const w of p.waits || []) html += `<p class="text-muted">${wac_esc(w.session)}: ${wac_esc(w.text)}</p>`;
	field.$wrapper.html(html);
	if (p.status && p.status !== frm.doc.status) frm.reload_doc();
}
