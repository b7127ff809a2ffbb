// Copyright (c) 2026, whatsapp_crm developers
// For license information, please see license.txt
//
// The WhatsApp Session form's History section: the recent status changes and how much of the last 7 days
// the session was Connected. Appended to the form's script by the doctype_js hook, so it keeps its names to
// itself (the form's own script shares the scope). The server checks read permission on the session.
(function () {
	"use strict";

	const METHOD = "whatsapp_crm.api.history.get_history";
	const COLORS = {
		"Not Created": "gray",
		Connecting: "orange",
		"QR Ready": "blue",
		Connected: "green",
		Disconnected: "gray",
		Failed: "red",
	};

	frappe.ui.form.on("WhatsApp Session", {
		refresh(frm) {
			load(frm);
		},
	});

	function esc(value) {
		return frappe.utils.escape_html(value == null ? "" : String(value));
	}

	function load(frm) {
		const field = frm.fields_dict.history_html;
		if (!field) return;
		// A newer refresh (or another document in the same form) wins over a late answer.
		const seq = (frm.wa_history_seq = (frm.wa_history_seq || 0) + 1);
		const name = frm.doc.name;
		if (frm.is_new()) {
			field.$wrapper.empty();
			return;
		}
		const current = () => frm.wa_history_seq === seq && frm.doc.name === name;
		frappe.call({
			method: METHOD,
			type: "GET",
			args: { session: name },
			callback: (r) => {
				if (current()) field.$wrapper.html(render(r.message || {}));
			},
			error: () => {
				if (current()) {
					field.$wrapper.html(
						`<p class="text-muted small">${esc(__("The history could not be loaded."))}</p>`
					);
				}
			},
		});
	}

	function status_pill(status) {
		if (!status) return "";
		const color = COLORS[status] || "gray";
		return `<span class="indicator-pill no-indicator-dot ${color}">${esc(__(status))}</span>`;
	}

	function when(time) {
		if (!time) return "";
		// comment_when puts the value into attributes: escape it first
		return frappe.datetime.comment_when(esc(time));
	}

	function render(data) {
		const events = Array.isArray(data.events) ? data.events : [];
		if (!events.length) {
			return `<p class="text-muted small">${esc(__("No status changes recorded yet."))}</p>`;
		}
		const share = Math.max(0, Math.min(1, Number(data.connected_share) || 0));
		const pct = Math.round(share * 1000) / 10;
		let head = esc(__("Connected {0}% of the last 7 days", [format_number(pct, null, pct % 1 ? 1 : 0)]));
		if (data.recorded_since) {
			head +=
				" · " +
				esc(__("History recorded since {0}", [frappe.datetime.str_to_user(data.recorded_since)]));
		}
		const rows = events
			.map((e) => {
				const change = e.from
					? `${status_pill(e.from)} &rarr; ${status_pill(e.to)}`
					: status_pill(e.to);
				return `<tr>
					<td class="text-nowrap">${when(e.time)}</td>
					<td class="text-nowrap">${change}</td>
					<td>${esc(e.source ? __(e.source) : "")}</td>
					<td>${e.gateway_status ? `<code>${esc(e.gateway_status)}</code>` : ""}</td>
					<td>${esc(e.reason || "")}</td>
				</tr>`;
			})
			.join("");
		return `<div class="wa-session-history">
			<p class="small"><b>${head}</b></p>
			<table class="table table-bordered table-sm small" style="margin-bottom: 0">
				<thead>
					<tr>
						<th>${esc(__("When"))}</th>
						<th>${esc(__("Change"))}</th>
						<th>${esc(__("Noticed By"))}</th>
						<th>${esc(__("Gateway Status"))}</th>
						<th>${esc(__("Reason"))}</th>
					</tr>
				</thead>
				<tbody>${rows}</tbody>
			</table>
		</div>`;
	}
})();
