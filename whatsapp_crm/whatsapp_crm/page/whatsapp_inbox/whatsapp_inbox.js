// The WhatsApp inbox: conversations across every linked number (left), the open thread and a reply (right).
// Every string from the server is escaped; one load of the list and one of the thread in flight at a time;
// the realtime handler is named and removed when the page is left.
frappe.pages["whatsapp-inbox"].on_page_load = function (wrapper) {
	frappe.require("/assets/whatsapp_crm/js/whatsapp_inbox_state.js", () => {
		wrapper.whatsapp_inbox = new WhatsAppInbox(wrapper);
	});
};

frappe.pages["whatsapp-inbox"].on_page_show = function (wrapper) {
	if (wrapper.whatsapp_inbox) wrapper.whatsapp_inbox.listen();
};

const wa_inbox_esc = (s) => frappe.utils.escape_html(s == null ? "" : String(s));
const WA_TICKS = { sent: "✓", delivered: "✓✓", read: "✓✓", failed: "⚠", Queued: "🕓" };

class WhatsAppInbox {
	constructor(wrapper) {
		this.wrapper = wrapper;
		this.page = frappe.ui.make_app_page({ parent: wrapper, title: __("WhatsApp Inbox"), single_column: true });
		this.state = new WhatsAppInboxState();
		this.threadLoad = new WhatsAppOneLoad();
		this.on_event = (data) => this.handle_event(data); // named: removed when the page is left
		this.realtime = new WhatsAppRealtimeHandler(frappe.realtime, "whatsapp_inbox", this.on_event);
		this.make();
		this.realtime.listen();
		$(wrapper).on("hide", () => this.unlisten());
		this.load_list();
	}

	listen() {
		// shown again after being left: listen again, and catch up on what came meanwhile
		if (this.realtime.listen() && this.state) this.load_list();
	}

	unlisten() {
		this.realtime.unlisten();
	}

	make() {
		const body = $(`
			<div class="wa-inbox">
				<div class="wa-inbox-list">
					<div class="wa-inbox-filters"></div>
					<div class="wa-inbox-rows"></div>
					<button class="btn btn-default btn-sm wa-inbox-more hide">${wa_inbox_esc(__("Load more"))}</button>
				</div>
				<div class="wa-inbox-thread">
					<div class="wa-inbox-head"></div>
					<div class="wa-inbox-messages"><p class="text-muted">${wa_inbox_esc(__("Pick a conversation."))}</p></div>
					<div class="wa-inbox-reply hide">
						<textarea class="form-control" rows="2" maxlength="4096"></textarea>
						<button class="btn btn-primary btn-sm">${wa_inbox_esc(__("Send"))}</button>
					</div>
				</div>
			</div>`).appendTo(this.page.main);
		this.$rows = body.find(".wa-inbox-rows");
		this.$more = body.find(".wa-inbox-more").on("click", () => this.load_list({ append: true }));
		this.$head = body.find(".wa-inbox-head");
		this.$messages = body.find(".wa-inbox-messages");
		this.$reply = body.find(".wa-inbox-reply");
		this.$reply.find("button").on("click", () => this.send());
		this.$reply.find("textarea").on("keydown", (e) => {
			if (e.key === "Enter" && !e.shiftKey) {
				e.preventDefault();
				this.send();
			}
		});
		const filters = body.find(".wa-inbox-filters");
		this.scope = frappe.ui.form.make_control({
			parent: filters,
			df: {
				fieldtype: "Select",
				fieldname: "scope",
				label: __("Show"),
				options: [
					{ value: "all", label: __("All") },
					{ value: "mine", label: __("Mine") },
					{ value: "unassigned", label: __("Unassigned") },
				],
				default: "all",
				change: () => this.filter("scope", this.scope.get_value()),
			},
			render_input: true,
		});
		this.account = frappe.ui.form.make_control({
			parent: filters,
			df: {
				fieldtype: "Link",
				options: "WhatsApp Account",
				fieldname: "account",
				label: __("WhatsApp Number"),
				change: () => this.filter("account", this.account.get_value() || ""),
			},
			render_input: true,
		});
		this.search = frappe.ui.form.make_control({
			parent: filters,
			df: {
				fieldtype: "Data",
				fieldname: "search",
				label: __("Search by name or number"),
				change: () => this.filter("search", (this.search.get_value() || "").trim()),
			},
			render_input: true,
		});
		this.scope.set_value("all");
		$(`<style>
			.wa-inbox { display: flex; gap: 16px; min-height: 70vh; }
			.wa-inbox-list { width: 38%; min-width: 280px; }
			.wa-inbox-thread { flex: 1; display: flex; flex-direction: column; border-left: 1px solid var(--border-color); padding-left: 16px; }
			.wa-inbox-row { padding: 8px; border-bottom: 1px solid var(--border-color); cursor: pointer; }
			.wa-inbox-row.active { background: var(--control-bg); }
			.wa-inbox-row .wa-top { display: flex; justify-content: space-between; gap: 8px; }
			.wa-inbox-row .wa-title { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
			.wa-inbox-row .wa-last { color: var(--text-muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
			.wa-inbox-row .wa-meta { font-size: 11px; color: var(--text-muted); }
			.wa-unread { background: var(--green-500, #28a745); color: #fff; border-radius: 10px; padding: 0 7px; font-size: 11px; }
			.wa-inbox-messages { flex: 1; overflow-y: auto; max-height: 60vh; padding: 8px 0; }
			.wa-msg { max-width: 75%; margin: 6px 0; padding: 6px 10px; border-radius: 8px; white-space: pre-wrap; overflow-wrap: anywhere; }
			.wa-msg.in { background: var(--control-bg); }
			.wa-msg.out { background: #dcf8c6; margin-left: auto; }
			.wa-msg .wa-time { font-size: 10px; color: var(--text-muted); text-align: right; }
			.wa-msg .wa-react { font-size: 14px; }
			.wa-inbox-reply { display: flex; gap: 8px; align-items: flex-end; }
		</style>`).appendTo(this.page.main);
	}

	filter(key, value) {
		if (this.state.setFilter(key, value)) this.load_list();
	}

	load_list({ append = false } = {}) {
		if (!this.state.beginLoad()) return;
		const f = this.state.filters;
		frappe
			.xcall("whatsapp_crm.api.inbox.conversations_page", {
				scope: f.scope,
				account: f.account || null,
				search: f.search || null,
				start: append ? this.state.rows.length : 0,
				limit: 20,
			})
			.then((page) => this.after_list(page, append))
			.catch(() => this.after_list(null, append));
	}

	after_list(page, append) {
		const again = this.state.endLoad(page, { append });
		this.render_list();
		if (again) this.load_list();
	}

	render_list() {
		if (!this.state.rows.length) {
			this.$rows.html(`<p class="text-muted">${wa_inbox_esc(__("No conversations."))}</p>`);
		} else {
			this.$rows.html(
				this.state.rows
					.map((r) => {
						const when = r.last_message_at ? frappe.datetime.prettyDate(r.last_message_at, true) : "";
						const unread = r.unread ? `<span class="wa-unread">${wa_inbox_esc(r.unread)}</span>` : "";
						const who = r.assignee ? wa_inbox_esc(r.assignee) : wa_inbox_esc(__("Unassigned"));
						const arrow = r.last_direction === "Outgoing" ? "↗ " : "";
						return `<div class="wa-inbox-row ${r.name === this.state.selected ? "active" : ""}" data-name="${wa_inbox_esc(r.name)}">
							<div class="wa-top"><span class="wa-title">${wa_inbox_esc(r.title || r.number)}</span>${unread}</div>
							<div class="wa-last">${arrow}${wa_inbox_esc(r.last_message)}</div>
							<div class="wa-meta">${wa_inbox_esc(when)} · ${wa_inbox_esc(r.whatsapp_account)} · ${who}</div>
						</div>`;
					})
					.join("")
			);
		}
		this.$rows.find(".wa-inbox-row").on("click", (e) => this.open($(e.currentTarget).attr("data-name")));
		this.$more.toggleClass("hide", !this.state.more);
		this.page.set_indicator(
			this.state.unreadTotal() ? __("{0} unread", [this.state.unreadTotal()]) : "",
			"green"
		);
	}

	open(name) {
		this.state.open(name);
		this.render_list();
		this.load_thread();
	}

	load_thread() {
		const name = this.state.selected;
		if (!name || !this.threadLoad.begin()) return;
		frappe
			.xcall("whatsapp_crm.api.inbox.thread", { conversation: name })
			.then((r) => {
				if (name === this.state.selected) this.render_thread(r);
			})
			.catch(() => {})
			.finally(() => {
				if (this.threadLoad.end()) this.load_thread();
			});
	}

	render_thread(r) {
		const c = r.conversation;
		this.current = c;
		const buttons = [];
		if (c.reference_name) {
			buttons.push(`<button class="btn btn-default btn-xs wa-open">${wa_inbox_esc(__("Open {0}", [__(c.reference_doctype)]))}</button>`);
			buttons.push(`<button class="btn btn-default btn-xs wa-assign">${wa_inbox_esc(__("Assign to me"))}</button>`);
		} else {
			buttons.push(`<button class="btn btn-default btn-xs wa-lead">${wa_inbox_esc(__("Create Lead"))}</button>`);
		}
		buttons.push(`<button class="btn btn-default btn-xs wa-block">${wa_inbox_esc(__("Block number"))}</button>`);
		this.$head.html(`<div class="flex justify-between align-center">
			<div><b>${wa_inbox_esc(c.title || c.number)}</b> <span class="text-muted">${wa_inbox_esc(c.number)} · ${wa_inbox_esc(c.whatsapp_account)}</span></div>
			<div>${buttons.join(" ")}</div></div>`);
		this.$head.find(".wa-open").on("click", () => this.open_reference(c));
		this.$head.find(".wa-assign").on("click", () => this.act("assign_to_me"));
		this.$head.find(".wa-lead").on("click", () => this.act("create_lead"));
		this.$head.find(".wa-block").on("click", () => this.block(c));
		const reactions = {};
		for (const m of r.messages) {
			if (m.content_type === "reaction" && m.reply_to_message_id) reactions[m.reply_to_message_id] = m.text;
		}
		this.$messages.html(
			r.messages
				.filter((m) => m.content_type !== "reaction")
				.map((m) => {
					const dir = m.type === "Incoming" ? "in" : "out";
					const tick = dir === "out" ? ` ${wa_inbox_esc(WA_TICKS[m.status] || "")}` : "";
					const file = m.attach
						? `<div><a href="${wa_inbox_esc(m.attach)}" target="_blank" rel="noopener">${wa_inbox_esc(__("Attachment"))}</a></div>`
						: "";
					const react = reactions[m.message_id] ? `<div class="wa-react">${wa_inbox_esc(reactions[m.message_id])}</div>` : "";
					const reply = m.is_reply ? `<div class="text-muted small">↩ ${wa_inbox_esc(__("Reply"))}</div>` : "";
					const waiting = m.waiting ? `<div class="text-muted small">${wa_inbox_esc(m.waiting)}</div>` : "";
					return `<div class="wa-msg ${dir}">${reply}${wa_inbox_esc(m.text)}${file}${react}${waiting}
						<div class="wa-time">${wa_inbox_esc(frappe.datetime.str_to_user(m.creation))}${tick}</div></div>`;
				})
				.join("") || `<p class="text-muted">${wa_inbox_esc(__("No messages yet."))}</p>`
		);
		this.$messages.scrollTop(this.$messages.prop("scrollHeight"));
		this.$reply.removeClass("hide");
	}

	open_reference(c) {
		const route = { "CRM Lead": "leads", "CRM Deal": "deals" }[c.reference_doctype];
		if (route) window.open(`/crm/${route}/${encodeURIComponent(c.reference_name)}#whatsapp`, "_blank");
		else frappe.set_route("Form", c.reference_doctype, c.reference_name);
	}

	act(method) {
		const name = this.state.selected;
		frappe.xcall(`whatsapp_crm.api.inbox.${method}`, { conversation: name }).then(() => {
			frappe.show_alert({ message: method === "create_lead" ? __("Lead created") : __("Assigned to you"), indicator: "green" });
			this.load_list();
			this.load_thread();
		});
	}

	block(c) {
		frappe.confirm(
			__("Block {0}? Its messages are still stored, but it will never create a Lead or a Contact.", [wa_inbox_esc(c.number)]),
			() =>
				frappe
					.xcall("whatsapp_crm.whatsapp_crm.doctype.whatsapp_blocked_number.whatsapp_blocked_number.block", {
						number: c.number,
						reason: __("Blocked from the WhatsApp inbox"),
					})
					.then(() => frappe.show_alert({ message: __("Number blocked"), indicator: "orange" }))
		);
	}

	send() {
		const box = this.$reply.find("textarea");
		const text = (box.val() || "").trim();
		if (!text || this.sending) return;
		this.sending = true;
		frappe
			.xcall("whatsapp_crm.api.inbox.reply", { conversation: this.state.selected, text })
			.then(() => {
				box.val("");
				this.load_thread();
			})
			.finally(() => {
				this.sending = false;
			});
	}

	handle_event(data) {
		const what = this.state.onEvent(data);
		if (what.list) this.load_list();
		if (what.thread) this.load_thread();
	}
}
