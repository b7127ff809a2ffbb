// The workspace's "WhatsApp Gateways" block: one card per gateway with its health. Runs inside the block's
// shadow root (root_element); every string from the server is escaped.
(function () {
	const esc = (s) => frappe.utils.escape_html(s == null ? "" : String(s));
	const colors = { Healthy: "green", Down: "red", Unknown: "gray", Disabled: "gray" };
	const box = root_element.querySelector(".wa-gateways");
	const render = (rows) => {
		if (!rows.length) {
			box.innerHTML = `<p class="wa-empty">${esc(
				__("No gateways to show. WhatsApp Managers add them under WhatsApp Gateway.")
			)}</p>`;
			return;
		}
		box.innerHTML = rows
			.map((g) => {
				const color = colors[g.health] || "gray";
				const limit = g.max_sessions ? ` / ${esc(g.max_sessions)}` : "";
				const when = g.last_check ? esc(frappe.datetime.prettyDate(g.last_check)) : esc(__("never"));
				// the desk's own form URL: /app/... on Frappe v15, /desk/... on v16
				const href = esc(frappe.utils.get_form_link("WhatsApp Gateway", g.name));
				return `<a class="wa-card" href="${href}">
					<div class="wa-head"><span class="wa-name">${esc(g.name)}</span>
					<span class="wa-pill ${color}">${esc(g.health_label)}</span></div>
					<div class="wa-kind">${esc(g.kind)}${g.is_default ? " · " + esc(__("Default")) : ""}</div>
					<div class="wa-count">${esc(__("{0} of {1} sessions linked", [g.connected, g.sessions]))}${limit}</div>
					<div class="wa-when">${esc(__("Last check"))}: ${when}</div>
					${g.last_error ? `<div class="wa-error">${esc(g.last_error)}</div>` : ""}
				</a>`;
			})
			.join("");
	};
	frappe
		.xcall("whatsapp_crm.api.gateway.health")
		.then(render)
		.catch(() => {
			box.innerHTML = `<p class="wa-empty">${esc(__("The gateways' health could not be loaded."))}</p>`;
		});
})();
