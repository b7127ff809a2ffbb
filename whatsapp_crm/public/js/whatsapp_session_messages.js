// Copyright (c) 2026, whatsapp_crm developers
// For license information, please see license.txt
//
// The WhatsApp Session form's Messages section: "Send test message" and the session's last messages, so an
// admin can check sending and receiving end to end, with or without Frappe CRM. Appended to the form's
// script by the doctype_js hook, so it keeps its names to itself. Every server string is escaped; the
// realtime handler is named and removed on refresh and when the form is left; one load in flight at a time.
(function () {
	"use strict";

	const API = "whatsapp_crm.api.messages.";
	const EVENT = "whatsapp_session_messages";
	const TICKS = { queued: "🕓", pending: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "✗" };
	const STATUS_TEXT = {
		queued: () => __("Waiting to be sent"),
		pending: () => __("Waiting to be sent"),
		sent: () => __("Sent to WhatsApp"),
		delivered: () => __("Delivered to the phone"),
		read: () => __("Read by the recipient"),
		failed: () => __("Not sent"),
	};

	frappe.ui.form.on("WhatsApp Session", {
		refresh(frm) {
			stop(frm);
			if (frm.is_new()) return;
			if (frm.doc.status === "Connected") {
				frm.add_custom_button(__("Send test message"), () => open_dialog(frm));
			}
			listen(frm);
			load(frm);
		},
		on_hide(frm) {
			stop(frm);
		},
	});

	function esc(value) {
		return frappe.utils.escape_html(value == null ? "" : String(value));
	}

	function state(frm) {
		frm.wa_messages = frm.wa_messages || { handler: null, loading: false, again: false, seq: 0 };
		return frm.wa_messages;
	}

	function stop(frm) {
		const s = state(frm);
		if (s.handler) frappe.realtime.off(EVENT, s.handler);
		s.handler = null;
		s.seq += 1; // answers of loads started before this are dropped
	}

	function listen(frm) {
		const s = state(frm);
		s.handler = (data) => {
			if (data && data.name === frm.doc.name) load(frm);
		};
		frappe.realtime.on(EVENT, s.handler);
	}

	function load(frm) {
		const s = state(frm);
		const field = frm.fields_dict.messages_html;
		if (!field) return;
		if (s.loading) {
			s.again = true; // never two loads in flight: one more after this one
			return;
		}
		const seq = s.seq;
		const name = frm.doc.name;
		s.loading = true;
		frappe
			.xcall(API + "recent_messages", { name })
			.then((rows) => {
				if (seq === s.seq && name === frm.doc.name) field.$wrapper.html(render(rows || []));
			})
			.catch(() => {
				if (seq === s.seq) {
					field.$wrapper.html(`<p class="text-muted small">${esc(__("The messages could not be loaded."))}</p>`);
				}
			})
			.finally(() => {
				s.loading = false;
				if (s.again) {
					s.again = false;
					if (seq === s.seq) load(frm);
				}
			});
	}

	function render(rows) {
		if (!rows.length) {
			return `<p class="text-muted small">${esc(
				__("No messages yet. Messages sent and received through this session in the last 7 days show here.")
			)}</p>`;
		}
		const items = rows.map((row) => {
			const out = row.direction === "out";
			const who = out ? __("To {0}", [row.number || ""]) : __("From {0}", [row.number || ""]);
			const label = STATUS_TEXT[row.status] ? STATUS_TEXT[row.status]() : "";
			const tick = out
				? `<span class="wa-tick" data-status="${esc(row.status)}" title="${esc(label)}">${esc(TICKS[row.status] || "")}</span>`
				: "";
			const error = row.error_message ? `<div class="text-danger small">${esc(row.error_message)}</div>` : "";
			return `<div class="wa-message ${out ? "text-right" : ""}" style="margin-bottom: 8px">
				<div class="small text-muted">${esc(who)} · ${frappe.datetime.comment_when(esc(row.at))} ${tick}</div>
				<div>${esc(row.text)}</div>${error}</div>`;
		});
		return items.join("");
	}

	function open_dialog(frm) {
		const dialog = new frappe.ui.Dialog({
			title: __("Send test message"),
			fields: [
				{
					fieldname: "to",
					fieldtype: "Data",
					label: __("Send to (phone number)"),
					reqd: 1,
					description: __("With its country code, for example +34 600 111 222."),
				},
				{
					fieldname: "text",
					fieldtype: "Small Text",
					label: __("Message text"),
					reqd: 1,
					default: __("Test message from {0}", [frappe.boot.sitename || "Frappe"]),
				},
			],
			primary_action_label: __("Send message"),
			primary_action(values) {
				dialog.disable_primary_action();
				frappe
					.xcall(API + "send_test_message", { name: frm.doc.name, to: values.to, text: values.text })
					.then(() => {
						dialog.hide();
						frappe.show_alert({ message: esc(__("Message queued. Its ticks show under Messages.")), indicator: "green" });
						load(frm);
					})
					.catch(() => dialog.enable_primary_action()); // the server's message was shown; the input stays
			},
		});
		dialog.show();
	}
})();
