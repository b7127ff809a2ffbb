// Copyright (c) 2026, whatsapp_crm developers
// For license information, please see license.txt
//
// The polling logic lives in public/js/whatsapp_session_poller.js (appended to this script by the
// doctype_js hook, tested with node); this file only renders and wires Frappe in.

const WA_API = "whatsapp_crm.api.session.";
const WA_PROGRESS_EVENT = "whatsapp_session_progress";
const WA_UPDATE_EVENT = "whatsapp_session_update";
const WA_LOST_EVENT = "whatsapp_session_lost";
const WA_SYNC_EVENT = "whatsapp_session_sync";
// With the socket up, changes are pushed; polling is only the fallback, so it slows down.
const WA_POLL_WITH_SOCKET_MS = 10000;
const WA_CAN_CREATE = ["Not Created", "Failed", "Disconnected"];
const WA_WAITING = ["Connecting", "QR Ready"];
const WA_HEADLINE_COLORS = {
	"Not Created": "gray",
	Connecting: "orange",
	"QR Ready": "blue",
	Connected: "green",
	Disconnected: "gray",
	Failed: "red",
};

frappe.ui.form.on("WhatsApp Session", {
	setup(frm) {
		frm.wa = {
			dialog: null,
			poller: null,
			clock: null,
			on_progress: null,
			on_update: null,
			on_lost: null,
			on_sync: null,
			pending: null,
		};
	},

	refresh(frm) {
		wa_teardown(frm);
		wa_headline(frm);
		// The Datetime control appends the time zone to its description before translating it, so the
		// lookup would miss: hand it the translated text.
		frm.set_df_property("sync_watermark", "description", __("Every message the gateway knew of up to this time is in the CRM."));
		if (frm.is_new()) return;
		wa_listen(frm);
		wa_sending(frm);
		const status = frm.doc.status;
		if (WA_CAN_CREATE.includes(status)) {
			frm.add_custom_button(__("Create session"), () => wa_open_dialog(frm, "create")).addClass("btn-primary");
		}
		if (WA_WAITING.includes(status)) {
			frm.add_custom_button(__("Show QR"), () => wa_open_dialog(frm, "poll")).addClass("btn-primary");
		}
		frm.add_custom_button(__("Status"), () => wa_show_status(frm));
		if (status === "Connected") {
			frm.add_custom_button(__("Sync messages"), () => wa_sync_dialog(frm));
			frm.add_custom_button(__("Log out"), () => wa_logout(frm));
		}
	},

	on_hide(frm) {
		wa_teardown(frm);
	},
});

function wa_esc(value) {
	return frappe.utils.escape_html(value == null ? "" : String(value));
}

function wa_headline(frm) {
	frm.dashboard.clear_headline();
	if (frm.is_new()) return;
	const status = frm.doc.status || "Not Created";
	let text = __("Status: {0}", [__(status)]);
	if (frm.doc.phone_number && status === "Connected") {
		text += " · " + __("Phone: {0}", [frm.doc.phone_number]);
	}
	if (frm.doc.last_error_message && status !== "Connected") {
		text += " · " + frm.doc.last_error_message;
	}
	frm.dashboard.set_headline_alert(wa_esc(text), WA_HEADLINE_COLORS[status] || "gray");
}

// Stops everything this form started: the dialog's work and the form's realtime listener.
function wa_teardown(frm) {
	const wa = frm.wa;
	if (!wa) return;
	wa_close_dialog(frm);
	if (wa.on_update) frappe.realtime.off(WA_UPDATE_EVENT, wa.on_update);
	if (wa.on_lost) frappe.realtime.off(WA_LOST_EVENT, wa.on_lost);
	if (wa.on_sync) frappe.realtime.off(WA_SYNC_EVENT, wa.on_sync);
	wa.on_update = null;
	wa.on_lost = null;
	wa.on_sync = null;
}

// Stops the dialog's poller, clock and progress listener, and closes it.
function wa_close_dialog(frm) {
	const wa = frm.wa;
	if (!wa) return;
	if (wa.poller) wa.poller.stop();
	wa.poller = null;
	if (wa.clock) clearInterval(wa.clock);
	wa.clock = null;
	if (wa.on_progress) frappe.realtime.off(WA_PROGRESS_EVENT, wa.on_progress);
	wa.on_progress = null;
	wa.pending = null;
	if (wa.dialog) {
		const dialog = wa.dialog;
		wa.dialog = null;
		dialog.hide();
	}
}

function wa_call(method, args) {
	return frappe.xcall(WA_API + method, args);
}

function wa_socket_up() {
	return !!(frappe.realtime && frappe.realtime.socket && frappe.realtime.socket.connected);
}

// Every payload from the server passes here: the message in this viewer's language (pushed payloads are
// built in a background job), and a slower fallback poll while the socket pushes changes.
function wa_prepare(payload) {
	if (!payload || typeof payload !== "object") return payload;
	if (typeof payload.message_template === "string" && payload.message_template) {
		payload.message = __(payload.message_template, Array.isArray(payload.message_args) ? payload.message_args : []);
	}
	if (payload.keep_polling && wa_socket_up()) {
		payload.poll_after_ms = Math.max(payload.poll_after_ms || 0, WA_POLL_WITH_SOCKET_MS);
	}
	return payload;
}

// Changes pushed by the monitor, a webhook or another user's action (the doc room checks read permission).
function wa_listen(frm) {
	const wa = frm.wa;
	wa.on_update = (payload) => {
		if (!payload || payload.session_db_id !== frm.doc.name) return;
		if (wa.poller && wa.poller.running) {
			wa.poller.apply(wa_prepare(payload));
		} else if (wa.dialog) {
			wa.pending = payload; // the create call has not answered yet
		} else if (payload.status !== frm.doc.status) {
			frm.reload_doc();
		}
	};
	frappe.realtime.on(WA_UPDATE_EVENT, wa.on_update);
	// The health check found the phone no longer linked: say so at once, in this viewer's language.
	wa.on_lost = (data) => {
		if (!data || data.session !== frm.doc.name) return;
		const subject = __(data.subject_template || "", data.subject_args || []);
		const message = __(data.message_template || "", data.message_args || []);
		frappe.show_alert({ message: wa_esc(subject + ": " + message), indicator: "red" }, 15);
		frm.reload_doc();
	};
	frappe.realtime.on(WA_LOST_EVENT, wa.on_lost);
	// A catch-up finished (scheduled, after a relink, or asked for here): show what it found.
	wa.on_sync = (data) => {
		if (!data || data.session !== frm.doc.name) return;
		if (data.reason === "by_hand") {
			const text = data.error
				? __("The catch-up could not finish: see Last Catch-up Problem.")
				: __("Catch-up done: {0} missed messages recovered.", [String(data.found || 0)]);
			frappe.show_alert({ message: wa_esc(text), indicator: data.error ? "orange" : "green" }, 10);
		}
		// A refresh collapses every collapsible section: keep the catch-up's open if the user had opened it.
		const section = frm.fields_dict.sync_section;
		const open = section && !section.is_collapsed();
		frm.reload_doc().then(() => open && frm.fields_dict.sync_section && frm.fields_dict.sync_section.collapse(false));
	};
	frappe.realtime.on(WA_SYNC_EVENT, wa.on_sync);
}

// Sync messages: read back from the gateway what the webhooks missed since a date (a background job).
function wa_sync_dialog(frm) {
	const dialog = new frappe.ui.Dialog({
		title: __("Sync messages"),
		fields: [
			{
				fieldname: "since",
				fieldtype: "Datetime",
				label: __("Since"),
				description: __("Messages from this time on that are not in the CRM yet are read back from the gateway. Leave empty to go on from the last catch-up."),
			},
		],
		primary_action_label: __("Sync"),
		primary_action(values) {
			dialog.get_primary_btn().prop("disabled", true);
			wa_call("sync_messages", { session: frm.doc.name, since: values.since || "" })
				.then((r) => {
					dialog.hide();
					frappe.show_alert({ message: wa_esc(r && r.message), indicator: r && r.queued ? "blue" : "orange" }, 7);
				})
				.catch(() => {}) // refused (a date in the future, no permission): xcall has shown why
				.finally(() => dialog.get_primary_btn().prop("disabled", false));
		},
	});
	dialog.show();
}

function wa_open_dialog(frm, mode) {
	wa_close_dialog(frm);
	const wa = frm.wa;
	const started = Date.now();
	let state = null;
	let render = null;
	const dialog = new frappe.ui.Dialog({
		title: __("Link WhatsApp: {0}", [frm.doc.label || frm.doc.name]),
		fields: [{ fieldtype: "HTML", fieldname: "qr_area" }],
		primary_action_label: __("Close"),
		primary_action: () => dialog.hide(),
		secondary_action_label: __("Link with phone number"),
		secondary_action: () => wa_pairing(frm, state, render),
	});
	wa.dialog = dialog;
	dialog.onhide = () => {
		if (wa.dialog !== dialog) return; // closed by wa_close_dialog itself
		wa.dialog = null;
		wa_close_dialog(frm);
		frm.reload_doc();
	};

	state = { message: __("Creating the session on the gateway..."), progress: "", qr: "", note: "" };
	state.stuck = false;
	state.final = null;
	state.pairing = "";
	render = () => wa_render(dialog, state, started);

	wa.clock = setInterval(render, 1000);
	wa.on_progress = (data) => {
		if (!data || data.session !== frm.doc.name) return;
		state.progress = wa_progress_text(data);
		render();
	};
	frappe.realtime.on(WA_PROGRESS_EVENT, wa.on_progress);

	const poller = new whatsapp_crm.SessionPoller({
		fetch_status: () => wa_call("get_status", { session: frm.doc.name, recreate: 1 }).then(wa_prepare),
		on_update: (view) => wa_on_view(frm, dialog, state, view, render),
		on_stuck: () => {
			state.stuck = true;
			render();
		},
		default_interval_ms: 3000,
	});
	wa.poller = poller;
	dialog.show();
	render();

	if (mode === "create") {
		wa_call("create_session", { session: frm.doc.name })
			.then((payload) => {
				if (wa.poller !== poller) return;
				poller.start(wa_prepare(payload));
				if (wa.pending) poller.apply(wa_prepare(wa.pending)); // pushed while the call was running
				wa.pending = null;
			})
			.catch(() => {
				// frappe.xcall already showed the server's error (e.g. no permission)
				if (wa.dialog === dialog) dialog.hide();
			});
	} else {
		state.message = __("Checking the session...");
		poller.start();
	}
}

function wa_progress_text(data) {
	if (!data.message) return "";
	let text = __("Attempt {0}: {1}", [data.attempt, data.message]);
	if (data.wait_s) text += " " + __("Next try in {0} s.", [Math.round(data.wait_s)]);
	return text;
}

function wa_on_view(frm, dialog, state, view, render) {
	state.message = view.message || state.message;
	state.progress = "";
	if (view.qr_code) {
		state.note = view.qr_changed && state.qr ? __("The QR code changed; scan the new one.") : state.note;
		state.qr = view.qr_code;
	}
	if (view.phase !== "qr" && view.phase !== "waiting") state.qr = "";
	state.transport_error = view.transport_error;
	if (view.phase === "connected") {
		frappe.show_alert({ message: wa_esc(view.message || __("WhatsApp is linked.")), indicator: "green" }, 7);
		dialog.hide();
		return;
	}
	if (["failed", "ended", "error", "gave_up"].includes(view.phase)) {
		state.final = view.phase;
		if (view.phase === "error") state.message = __("The server stopped answering. Check your connection and click Status.");
		if (view.phase === "gave_up") state.message = __("Stopped waiting for the phone. Click Show QR or Status to check again.");
	}
	render();
}

function wa_render(dialog, state, started) {
	const seconds = Math.floor((Date.now() - started) / 1000);
	const elapsed = Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
	const parts = [];
	if (state.pairing) {
		parts.push(
			`<div class="text-center"><div class="wa-pairing-code" style="font:600 32px/1.4 monospace;letter-spacing:4px">${wa_esc(state.pairing)}</div>
			<p class="text-muted">${wa_esc(state.pairing_help)}</p></div>`
		);
	}
	if (state.qr && !state.pairing) {
		// is_safe_qr_src() (in the poller) only lets base64 PNG/SVG data URIs through.
		parts.push(
			`<div class="text-center"><img class="wa-qr" alt="${wa_esc(__("WhatsApp QR code"))}" src="${state.qr}"
				style="width:264px;height:264px;image-rendering:pixelated;background:#fff"></div>`,
			`<p class="text-center text-muted">${wa_esc(__("On your phone: WhatsApp > Linked devices > Link a device"))}</p>`
		);
	} else if (!state.final && !state.pairing) {
		parts.push(`<div class="text-center" style="padding:24px"><div class="wa-spinner spinner-border text-muted" role="status"></div></div>`);
	}
	const indicator = state.final ? "red" : state.qr ? "blue" : "orange";
	parts.push(`<p class="wa-message indicator-pill ${indicator}" style="white-space:normal">${wa_esc(state.message)}</p>`);
	if (state.note) parts.push(`<p class="text-muted small">${wa_esc(state.note)}</p>`);
	if (state.progress) parts.push(`<p class="wa-progress text-muted small">${wa_esc(state.progress)}</p>`);
	if (state.transport_error && !state.final) {
		parts.push(`<p class="text-muted small">${wa_esc(__("The server did not answer the last check; trying again."))}</p>`);
	}
	if (!state.final) {
		parts.push(`<p class="wa-elapsed text-muted small">${wa_esc(__("Elapsed: {0}", [elapsed]))}</p>`);
	}
	if (state.stuck || state.final) parts.push(wa_diagnosis_html());
	dialog.get_field("qr_area").$wrapper.html(parts.join(""));
	// a pairing code needs a live session on the gateway
	dialog.get_secondary_btn().toggleClass("hide", !!state.final);
}

function wa_diagnosis_html() {
	const steps = [
		__("Open the session's WhatsApp Gateway and click Test connection: it checks the gateway URL and the API key."),
		__("Make sure the gateway is running and reachable from the Frappe server."),
		__(
			"If the gateway answers but never shows a QR, it usually cannot reach WhatsApp (network, proxy or firewall on the gateway's host), or its WhatsApp Web version is outdated (for Evolution API, update it or set CONFIG_SESSION_PHONE_VERSION). Run whatsapp-crm doctor --probe on the gateway's URL to check."
		),
		__("Open the Error Log and look for WhatsApp QR Generation Error or WhatsApp Gateway Error."),
		__("Click Status on this session to see what the gateway says."),
	];
	// The desk's own URL builder: /app/... on Frappe v15, /desk/... on v16.
	const gateways = frappe.router.make_url(["whatsapp-gateway"]);
	const errors = frappe.router.make_url(["error-log"]) + "?reference_doctype=WhatsApp%20Session";
	const links = [
		`<a href="${wa_esc(gateways)}">${wa_esc(__("WhatsApp Gateway"))}</a>`,
		`<a href="${wa_esc(errors)}">${wa_esc(__("Error Log"))}</a>`,
	];
	return `<div class="wa-diagnosis alert alert-warning small">
		<b>${wa_esc(__("No QR code yet. What to check:"))}</b>
		<ol>${steps.map((s) => `<li>${wa_esc(s)}</li>`).join("")}</ol>
		<div>${links.join(" · ")}</div></div>`;
}

function wa_show_status(frm) {
	frappe.call({
		method: WA_API + "get_status",
		args: { session: frm.doc.name },
		freeze: true,
		freeze_message: __("Asking the gateway..."),
		callback: (r) => {
			const p = wa_prepare(r.message || {});
			const d = p.debug || {};
			frm.reload_doc().then(() => {
				const yes_no = (v) => (v ? __("Yes") : __("No"));
				const rows = [
					[__("Status"), __(p.status || frm.doc.status)],
					[__("Gateway says"), d.gateway_status || "-"],
					[__("Gateway has a QR"), yes_no(d.has_qr)],
					[__("Last checked"), frappe.datetime.str_to_user(frm.doc.last_checked) || "-"],
					[
						__("Last error"),
						frm.doc.last_error_code ? frm.doc.last_error_code + ": " + (frm.doc.last_error_message || "") : "-",
					],
					[__("Phone Number"), frm.doc.phone_number || "-"],
				];
				const table = rows.map(([k, v]) => `<tr><th style="width:35%">${wa_esc(k)}</th><td>${wa_esc(v)}</td></tr>`).join("");
				frappe.msgprint({
					title: __("Session status"),
					indicator: WA_HEADLINE_COLORS[p.status] || "gray",
					message: `<p>${wa_esc(p.message)}</p><table class="table table-bordered small">${table}</table>`,
				});
			});
		},
	});
}

function wa_logout(frm) {
	frappe.confirm(__("Unlink this phone from WhatsApp CRM? You will need to scan a new QR code to link it again."), () => {
		frappe.call({
			method: WA_API + "logout",
			args: { session: frm.doc.name },
			freeze: true,
			freeze_message: __("Logging out..."),
			callback: (r) => {
				const p = wa_prepare(r.message || {});
				frappe.show_alert({ message: wa_esc(p.message), indicator: p.success ? "green" : "red" }, 7);
				frm.reload_doc();
			},
		});
	});
}

function wa_pairing(frm, state, render) {
	frappe.prompt(
		[
			{
				fieldname: "phone",
				fieldtype: "Data",
				label: __("Phone Number"),
				description: __("With the country code, digits only, for example 34600111222."),
				reqd: 1,
			},
		],
		(values) => {
			frappe.call({
				method: WA_API + "request_pairing_code",
				args: { session: frm.doc.name, phone: values.phone },
				freeze: true,
				freeze_message: __("Asking the gateway for a pairing code..."),
				callback: (r) => {
					const p = r.message || {};
					if (!p.success) {
						frappe.msgprint({ title: __("No pairing code"), indicator: "red", message: wa_esc(p.message) });
						return;
					}
					state.pairing = p.code;
					state.pairing_help = p.message;
					render();
				},
			});
		},
		__("Link with phone number"),
		__("Get code")
	);
}

// The Sending tab: the caps in force today, what was used, and why the next message waits (one load at a time).
function wa_sending(frm) {
	const field = frm.get_field("sending_intro");
	if (!field || frm.wa.sending_loading) return;
	frm.wa.sending_loading = true;
	frappe
		.xcall("whatsapp_crm.api.sending.session_status", { name: frm.doc.name })
		.then((s) => {
			const caps = s.caps || {};
			const used = s.used || {};
			const rows = [
				[__("Messages Per Minute"), used.minute, caps.per_minute],
				[__("Messages Per Hour"), used.hour, caps.per_hour],
				[__("Messages Per Day"), used.day, caps.per_day],
				[__("New Conversations Per Day"), used.new_day, caps.new_per_day],
			];
			let html = `<table class="table table-sm"><tr><th>${wa_esc(__("Limit"))}</th><th>${wa_esc(__("Used"))}</th><th>${wa_esc(__("In force today"))}</th></tr>`;
			for (const [label, n, cap] of rows) {
				html += `<tr><td>${wa_esc(label)}</td><td>${wa_esc(n == null ? "-" : n)}</td><td>${wa_esc(cap)}</td></tr>`;
			}
			html += "</table>";
			if (s.warming_up) {
				html += `<p>${wa_esc(__("This number is warming up: it may use {0}% of its limits today.", [Math.round((caps.share || 0) * 100)]))}</p>`;
			}
			html += `<p>${wa_esc(__("Messages waiting: {0}", [s.waiting || 0]))}${s.next ? " · " + wa_esc(s.next) : ""}</p>`;
			field.$wrapper.html(html);
		})
		.finally(() => {
			frm.wa.sending_loading = false;
		});
}
