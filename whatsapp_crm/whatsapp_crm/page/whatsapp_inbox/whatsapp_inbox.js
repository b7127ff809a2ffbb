// The WhatsApp inbox: conversations by status across every linked number (left), the open thread with its
// files, private notes and a composer (middle), the Lead or Deal behind it (right). Every string from the
// server is escaped; one load of the list, the thread, the CRM panel and the message search in flight at a
// time; the realtime handlers and the keydown listener are named and removed when the page is left, and the
// "viewing" heartbeat is cleared then and when another conversation opens. The testable logic lives in
// public/js/whatsapp_inbox_state.js.
frappe.pages["whatsapp-inbox"].on_page_load = function (wrapper) {
	frappe.require("/assets/whatsapp_crm/js/whatsapp_inbox_state.js", () => {
		wrapper.whatsapp_inbox = new WhatsAppInbox(wrapper);
	});
};

frappe.pages["whatsapp-inbox"].on_page_show = function (wrapper) {
	if (wrapper.whatsapp_inbox) wrapper.whatsapp_inbox.show();
};

const wa_inbox_esc = (s) => frappe.utils.escape_html(s == null ? "" : String(s));
// a message from the server (it may carry markup such as <strong>) as plain text, escaped: shown, never run
const wa_inbox_text = (html) =>
	wa_inbox_esc(new DOMParser().parseFromString(String(html == null ? "" : html), "text/html").body.textContent || "");
const WA_API = "whatsapp_crm.api.inbox.";
const WA_TICKS = { sent: "✓", delivered: "✓✓", read: "✓✓", failed: "⚠", Queued: "🕓", queued: "🕓" };
// a conversation's status, an adjective ("Open" alone is also the verb): with a context, so a language may
// say it in the conversation's gender; without a translation in that context, the word's own is used
const WA_STATUS_LABELS = {
	Open: () => __("Open", null, "Conversation status"),
	Pending: () => __("Pending", null, "Conversation status"),
	Snoozed: () => __("Snoozed", null, "Conversation status"),
	Resolved: () => __("Resolved", null, "Conversation status"),
	all: () => __("All"),
};
const WA_STATUS_COLORS = { Open: "blue", Pending: "orange", Snoozed: "purple", Resolved: "green" };
const WA_SNOOZE = [
	{ until: "1h", label: () => __("1 hour") },
	{ until: "3h", label: () => __("3 hours") },
	{ until: "tomorrow", label: () => __("Tomorrow") },
	{ until: "next_week", label: () => __("Next week") },
	{ until: "reply", label: () => __("Until they reply") },
	{ until: "pick", label: () => __("Pick a time…") },
];
const WA_SHORTCUTS = [
	["j", "↓", () => __("Next conversation")],
	["k", "↑", () => __("Previous conversation")],
	["e", null, () => __("Resolve")],
	["s", null, () => __("Snooze")],
	["p", null, () => __("Pending")],
	["o", null, () => __("Reopen")],
	["r", null, () => __("Reply")],
	["n", null, () => __("Private note")],
	["/", null, () => __("Quick replies")],
	["a", null, () => __("Assign")],
	["?", null, () => __("Keyboard shortcuts")],
	["Esc", null, () => __("Leave the text box")],
];
const wa_inbox_status_label = (s) => (WA_STATUS_LABELS[s] ? WA_STATUS_LABELS[s]() : s || "");
const wa_inbox_when = (dt) => (dt ? frappe.datetime.prettyDate(dt, true) : "");
// the snoozed-until hint of a conversation: "Until <date>", or until the customer writes
const wa_inbox_snoozed = (c) =>
	c.snoozed_until
		? __("Until {0}", [frappe.datetime.str_to_user(c.snoozed_until)])
		: __("Until they reply");

class WhatsAppInbox {
	constructor(wrapper) {
		this.wrapper = wrapper;
		this.page = frappe.ui.make_app_page({ parent: wrapper, title: __("WhatsApp Inbox"), single_column: true });
		this.state = new WhatsAppInboxState();
		this.threadLoad = new WhatsAppOneLoad();
		this.contextLoad = new WhatsAppOneLoad();
		this.searchLoad = new WhatsAppOneLoad();
		this.menuLoad = new WhatsAppOneLoad();
		this.thread = null; // the open thread: {conversation, messages, notes, more, limits, around}
		this.thread_around = null; // opened at a message (a search result): reloads stay there
		this.highlight = null; // the message to scroll to and mark once the thread is shown
		this.context = null; // the CRM panel's answer
		this.viewers = []; // who else has the conversation open
		this.names = {}; // user -> full name, from the answers seen
		this.mode = "reply"; // the composer: "reply" or "note"
		this.attachment = null; // the uploaded file for the next reply (uploading: true until it is)
		this.picked = []; // @mentions picked in the note box: {user, label}
		this.drafts = {}; // conversation -> {reply, note, picked}: what was typed there before switching
		this.menu = null; // the "/" or "@" menu: {box, char, trigger, items, index}
		this.search_text = ""; // the "Search messages" box
		this.searching = null; // while search results replace the list: {text, rows, more, current}
		this.search_want = null;

		// named: removed when the page is left, added again when it is shown
		this.on_event = (data) => this.handle_event(data);
		this.on_viewers = (data) => this.handle_viewers(data);
		this.on_key = (e) => this.handle_key(e);
		this.realtime = new WhatsAppRealtimeHandler(frappe.realtime, "whatsapp_inbox", this.on_event);
		this.realtime_viewers = new WhatsAppRealtimeHandler(frappe.realtime, "whatsapp_inbox_viewers", this.on_viewers);
		// capture: before Frappe's own shortcuts (its "?" opens its shortcut list)
		this.keys = new WhatsAppDomListener(document, "keydown", this.on_key, true);
		this.heartbeat = new WhatsAppHeartbeat(
			(name) => this.beat(name),
			20000,
			null,
			(name) => this.left(name)
		);
		this.search_debounce = new WhatsAppDebounce((text) => this.search_messages(text), 300);
		this.menu_debounce = new WhatsAppDebounce(() => this.load_menu(), 150);

		this.make();
		$(wrapper).on("hide", () => this.hide());
		this.show();
	}

	// the page is shown (first time, or again after being left): listen again and catch up on what came
	show() {
		const again = this.realtime.listen();
		this.realtime_viewers.listen();
		this.keys.listen();
		if (again) {
			this.load_list();
			if (this.state.selected) {
				this.load_thread();
				this.load_context();
			}
		}
		if (this.state.selected) this.heartbeat.start(this.state.selected);
		this.open_linked();
	}

	// /app/whatsapp-inbox?conversation=NAME (a report's link, a colleague's): that conversation, once
	open_linked() {
		// Frappe's router turns a link's query into route_options; a typed address keeps it in the URL
		const options = frappe.route_options || {};
		const name = options.conversation || frappe.utils.get_url_arg("conversation");
		if (options.conversation) frappe.route_options = null;
		if (!name || name === this.linked) return;
		this.linked = name;
		this.open(name);
	}

	hide() {
		this.realtime.unlisten();
		this.realtime_viewers.unlisten();
		this.keys.unlisten();
		this.heartbeat.stop();
		this.search_debounce.cancel();
		this.close_menu();
	}

	// ---- layout ------------------------------------------------------------------------------------------

	make() {
		const body = $(`
			<div class="wa-inbox">
				<div class="wa-inbox-list">
					<div class="wa-inbox-filters"></div>
					<input type="search" class="form-control input-sm wa-search-messages" maxlength="200"
						placeholder="${wa_inbox_esc(__("Search messages"))}">
					<div class="wa-inbox-tabs"></div>
					<div class="wa-inbox-rows"></div>
					<button class="btn btn-default btn-sm wa-inbox-more hide">${wa_inbox_esc(__("Load more"))}</button>
				</div>
				<div class="wa-inbox-thread">
					<div class="wa-inbox-head"></div>
					<div class="wa-inbox-messages"><p class="text-muted">${wa_inbox_esc(__("Pick a conversation."))}</p></div>
					<div class="wa-composer hide">
						<div class="wa-composer-tabs">
							<button class="btn btn-xs btn-default wa-mode active" data-mode="reply">${wa_inbox_esc(__("Reply"))}</button>
							<button class="btn btn-xs btn-default wa-mode" data-mode="note">${wa_inbox_esc(__("Private note"))}</button>
						</div>
						<div class="wa-menu hide"></div>
						<div class="wa-chips"></div>
						<div class="wa-composer-row">
							<button class="btn btn-default btn-sm wa-attach" title="${wa_inbox_esc(__("Attach a file"))}"
								aria-label="${wa_inbox_esc(__("Attach a file"))}">${frappe.utils.icon("attachment", "sm")}</button>
							<input type="file" class="hide wa-file">
							<textarea class="form-control wa-reply-box" rows="2" maxlength="4096"
								placeholder="${wa_inbox_esc(__("Type / for quick replies"))}"></textarea>
							<textarea class="form-control wa-note-box hide" rows="2" maxlength="4096"
								placeholder="${wa_inbox_esc(__("Only your team sees notes. Type @ to mention someone."))}"></textarea>
							<button class="btn btn-primary btn-sm wa-send">${wa_inbox_esc(__("Send"))}</button>
						</div>
					</div>
				</div>
				<div class="wa-inbox-panel"></div>
			</div>`).appendTo(this.page.main);
		this.$body = body;
		this.$tabs = body.find(".wa-inbox-tabs");
		this.$rows = body.find(".wa-inbox-rows");
		this.$more = body.find(".wa-inbox-more");
		this.$thread = body.find(".wa-inbox-thread");
		this.$head = body.find(".wa-inbox-head");
		this.$messages = body.find(".wa-inbox-messages");
		this.$composer = body.find(".wa-composer");
		this.$menu = body.find(".wa-menu");
		this.$chips = body.find(".wa-chips");
		this.$reply = body.find(".wa-reply-box");
		this.$note = body.find(".wa-note-box");
		this.$send = body.find(".wa-send");
		this.$file = body.find(".wa-file");
		this.$panel = body.find(".wa-inbox-panel");
		this.make_filters(body.find(".wa-inbox-filters"));
		this.bind_list(body);
		this.bind_head();
		this.bind_thread();
		this.bind_composer();
		this.bind_panel();
		this.render_context();
		this.make_style();
	}

	make_filters(filters) {
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
		this.search.$wrapper.addClass("wa-wide");
		this.scope.set_value("all");
	}

	make_style() {
		$(`<style>
			.wa-inbox { display: flex; gap: 12px; height: calc(100vh - 160px); min-height: 520px; }
			.wa-inbox-list { flex: 0 0 30%; min-width: 260px; display: flex; flex-direction: column; min-height: 0; }
			.wa-inbox-filters { display: grid; grid-template-columns: 1fr 1fr; gap: 0 8px; }
			.wa-inbox-filters .frappe-control { margin-bottom: 6px; }
			.wa-inbox-filters .wa-wide { grid-column: 1 / -1; }
			.wa-search-messages { margin-bottom: 8px; }
			.wa-inbox-tabs { display: flex; flex-wrap: wrap; gap: 4px; margin-bottom: 6px; }
			.wa-tab { border-radius: 12px; }
			.wa-tab.active { background: var(--btn-primary, var(--primary)); color: var(--white, #fff); }
			.wa-tab .wa-count { opacity: 0.75; margin-left: 2px; }
			.wa-inbox-rows { flex: 1; overflow-y: auto; min-height: 0; }
			.wa-inbox-row { padding: 8px; border-bottom: 1px solid var(--border-color); cursor: pointer; }
			.wa-inbox-row:hover { background: var(--fg-hover-color); }
			.wa-inbox-row.active { background: var(--control-bg); }
			.wa-inbox-row .wa-top { display: flex; justify-content: space-between; gap: 8px; }
			.wa-inbox-row .wa-title { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
			.wa-inbox-row .wa-when { font-size: 11px; color: var(--text-muted); white-space: nowrap; }
			.wa-inbox-row .wa-last, .wa-inbox-row .wa-excerpt { color: var(--text-muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
			.wa-inbox-row .wa-excerpt { white-space: normal; }
			.wa-inbox-row mark, .wa-text mark { background: var(--bg-yellow); color: inherit; padding: 0; }
			.wa-inbox-row .wa-meta { font-size: 11px; color: var(--text-muted); display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin-top: 2px; }
			.wa-snoozed { color: var(--purple-500, var(--text-muted)); }
			.wa-unread { background: var(--green-500, #28a745); color: #fff; border-radius: 10px; padding: 0 7px; font-size: 11px; }
			.wa-search-head { padding: 4px 0 8px; }
			.wa-inbox-thread { flex: 1 1 auto; min-width: 0; display: flex; flex-direction: column; border-left: 1px solid var(--border-color); padding-left: 12px; position: relative; }
			.wa-inbox-thread.wa-drop { outline: 2px dashed var(--primary); outline-offset: -4px; }
			.wa-head-top { display: flex; justify-content: space-between; gap: 8px; flex-wrap: wrap; align-items: flex-start; }
			.wa-head-actions { display: flex; flex-wrap: wrap; gap: 4px; justify-content: flex-end; }
			.wa-head-sub { font-size: 12px; color: var(--text-muted); display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
			.wa-viewers { font-size: 12px; color: var(--text-muted); margin-top: 4px; }
			.wa-inbox-messages { flex: 1; overflow-y: auto; min-height: 0; padding: 8px 0; }
			.wa-msg, .wa-note { max-width: 75%; margin: 6px 0; padding: 6px 10px; border-radius: 8px; overflow-wrap: anywhere; }
			.wa-text { white-space: pre-wrap; }
			.wa-msg.in { background: var(--control-bg); }
			.wa-msg.out { background: var(--bg-green); margin-left: auto; }
			.wa-msg.wa-hit { box-shadow: 0 0 0 2px var(--yellow-500, #ecad4b); }
			.wa-note { background: var(--alert-bg-warning, var(--bg-yellow)); margin-left: auto; margin-right: auto; border: 1px dashed var(--yellow-500, #ecad4b); }
			.wa-note-head { font-size: 11px; font-weight: 600; color: var(--text-muted); }
			.wa-msg .wa-time, .wa-note .wa-time { font-size: 10px; color: var(--text-muted); text-align: right; }
			.wa-msg .wa-react { font-size: 14px; }
			.wa-msg img { max-width: 240px; max-height: 240px; border-radius: 6px; display: block; }
			.wa-msg video { max-width: 320px; max-height: 240px; display: block; }
			.wa-msg audio { max-width: 280px; display: block; }
			.wa-file-card { display: flex; gap: 8px; align-items: center; padding: 6px 8px; border: 1px solid var(--border-color); border-radius: 6px; background: var(--card-bg); color: var(--text-color); }
			.wa-file-card:hover { text-decoration: none; }
			.wa-file-card .icon { margin: 0; flex: none; }
			.wa-file-name { font-weight: 500; overflow: hidden; text-overflow: ellipsis; }
			.wa-file-size { font-size: 11px; color: var(--text-muted); white-space: nowrap; }
			.wa-thread-more { text-align: center; margin: 4px 0; }
			.wa-composer { position: relative; border-top: 1px solid var(--border-color); padding-top: 6px; }
			.wa-composer.wa-note-mode textarea { background: var(--alert-bg-warning, var(--bg-yellow)); }
			.wa-composer-tabs { display: flex; gap: 4px; margin-bottom: 4px; }
			.wa-composer-tabs .wa-mode.active { background: var(--control-bg); font-weight: 600; }
			.wa-composer-row { display: flex; gap: 6px; align-items: flex-end; }
			.wa-composer textarea { height: auto; min-height: 56px; max-height: 200px; resize: vertical; }
			.wa-chips:empty { display: none; }
			.wa-chip { display: inline-flex; gap: 6px; align-items: center; padding: 2px 4px 2px 8px; margin-bottom: 4px; border-radius: 12px; background: var(--control-bg); font-size: 12px; }
			.wa-chip.uploading { opacity: 0.6; }
			.wa-menu { position: absolute; bottom: 100%; left: 0; right: 0; max-height: 240px; overflow-y: auto; z-index: 20; background: var(--popover-bg, var(--fg-color)); border: 1px solid var(--border-color); border-radius: 6px; box-shadow: var(--shadow-md); }
			.wa-menu-item { padding: 6px 10px; cursor: pointer; }
			.wa-menu-item.active { background: var(--fg-hover-color); }
			.wa-menu-item .wa-menu-text { font-size: 11px; color: var(--text-muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
			.wa-inbox-panel { flex: 0 0 24%; min-width: 220px; overflow-y: auto; border-left: 1px solid var(--border-color); padding-left: 12px; }
			.wa-panel-title { font-weight: 600; margin-bottom: 8px; }
			.wa-field { margin-bottom: 8px; }
			.wa-field label { display: block; font-size: 11px; color: var(--text-muted); margin-bottom: 2px; }
			.wa-panel-actions { display: flex; flex-wrap: wrap; gap: 4px; margin: 8px 0; }
			.wa-other { padding: 6px 0; border-bottom: 1px solid var(--border-color); cursor: pointer; }
			.wa-other:hover { background: var(--fg-hover-color); }
			.wa-keys td { padding: 4px 8px; }
			@media (max-width: 1199px) {
				.wa-inbox { flex-wrap: wrap; height: auto; }
				.wa-inbox-list { flex: 1 1 100%; max-height: 45vh; }
				.wa-inbox-thread { flex: 1 1 60%; height: 75vh; border-left: 0; padding-left: 0; }
				.wa-inbox-panel { flex: 1 1 30%; }
			}
			@media (max-width: 767px) {
				.wa-inbox-thread, .wa-inbox-panel { flex-basis: 100%; border-left: 0; padding-left: 0; }
			}
		</style>`).appendTo(this.page.main);
	}

	// ---- the list ----------------------------------------------------------------------------------------

	bind_list(body) {
		this.$more.on("click", () => {
			if (this.searching) this.search_messages(this.searching.text, true);
			else this.load_list({ append: true });
		});
		this.$tabs.on("click", ".wa-tab", (e) => {
			const status = e.currentTarget.getAttribute("data-status");
			if (this.searching) this.back_to_list();
			this.filter("status", status);
		});
		this.$rows.on("click", ".wa-conversation", (e) => this.open(e.currentTarget.getAttribute("data-name")));
		this.$rows.on("click", ".wa-result", (e) => {
			const row = this.searching && this.searching.rows[parseInt(e.currentTarget.getAttribute("data-i"), 10)];
			if (row) this.open_result(row);
		});
		this.$rows.on("click", ".wa-back", (e) => {
			e.preventDefault();
			this.back_to_list();
		});
		body.find(".wa-search-messages").on("input", (e) => {
			const text = (e.currentTarget.value || "").trim();
			this.search_text = text;
			if (!text) {
				this.back_to_list({ clear: false });
			} else if (wa_inbox_search_ready(text)) {
				this.search_debounce.call(text);
			} else {
				this.search_debounce.cancel();
			}
		});
	}

	filter(key, value) {
		if (this.state.setFilter(key, value)) this.load_list();
		else if (key === "status") this.render_tabs();
	}

	load_list({ append = false } = {}) {
		if (!this.state.beginLoad()) return;
		const f = this.state.filters;
		frappe
			.xcall(WA_API + "conversations_page", {
				scope: f.scope,
				account: f.account || null,
				search: f.search || null,
				status: f.status,
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

	render_tabs() {
		this.$tabs.html(
			this.state
				.statusTabs()
				.map(
					(t) => `<button class="btn btn-xs btn-default wa-tab ${t.active ? "active" : ""}" data-status="${wa_inbox_esc(t.status)}">
						${wa_inbox_esc(wa_inbox_status_label(t.status))}<span class="wa-count">${wa_inbox_esc(t.count)}</span></button>`
				)
				.join("")
		);
	}

	render_list() {
		this.render_tabs();
		this.page.set_indicator(
			this.state.unreadTotal() ? __("{0} unread", [this.state.unreadTotal()]) : "",
			"green"
		);
		if (this.searching) return this.render_results();
		if (!this.state.rows.length) {
			this.$rows.html(`<p class="text-muted">${wa_inbox_esc(__("No conversations."))}</p>`);
		} else {
			const all = this.state.filters.status === "all";
			this.$rows.html(this.state.rows.map((r) => this.row_html(r, all)).join(""));
		}
		this.$more.toggleClass("hide", !this.state.more);
	}

	row_html(r, all) {
		const unread = r.unread ? `<span class="wa-unread">${wa_inbox_esc(r.unread)}</span>` : "";
		const who = r.assignee
			? `<span>${frappe.avatar(r.assignee, "avatar-xs")} ${wa_inbox_esc(r.assignee_name || r.assignee)}</span>`
			: `<span>${wa_inbox_esc(__("Unassigned"))}</span>`;
		const arrow = r.last_direction === "Outgoing" ? "↗ " : "";
		const status = all && r.status ? `<span>${this.status_pill(r.status)}</span>` : "";
		const snoozed =
			r.status === "Snoozed" ? `<span class="wa-snoozed">${wa_inbox_esc(wa_inbox_snoozed(r))}</span>` : "";
		return `<div class="wa-inbox-row wa-conversation ${r.name === this.state.selected ? "active" : ""}" data-name="${wa_inbox_esc(r.name)}">
			<div class="wa-top"><span class="wa-title">${wa_inbox_esc(r.title || r.number)}</span>
				<span class="wa-when">${wa_inbox_esc(wa_inbox_when(r.last_message_at))} ${unread}</span></div>
			<div class="wa-last">${arrow}${wa_inbox_esc(r.last_message)}</div>
			<div class="wa-meta"><span>${wa_inbox_esc(r.whatsapp_account)}</span>${who}${status}${snoozed}</div>
		</div>`;
	}

	status_pill(status) {
		const color = WA_STATUS_COLORS[status] || "gray";
		return `<span class="indicator-pill ${color}">${wa_inbox_esc(wa_inbox_status_label(status))}</span>`;
	}

	// ---- message search ------------------------------------------------------------------------------------

	search_messages(text, append = false) {
		this.search_want = { text, append };
		if (!this.searchLoad.begin()) return;
		const want = this.search_want;
		const start = want.append && this.searching && this.searching.text === want.text ? this.searching.rows.length : 0;
		frappe
			.xcall(WA_API + "search_messages", { text: want.text, start, limit: 20 })
			.then((r) => {
				if (want.text !== this.search_text) return; // typed on, or went back, since
				const rows = (r && r.rows) || [];
				const current = this.searching && this.searching.text === want.text ? this.searching.current : null;
				this.searching = {
					text: want.text,
					rows: start ? this.searching.rows.concat(rows) : rows,
					more: !!(r && r.more),
					current,
				};
				this.render_list();
			})
			.catch(() => {})
			.finally(() => {
				const want = this.search_want;
				if (this.searchLoad.end() && want && want.text === this.search_text && wa_inbox_search_ready(want.text)) {
					this.search_messages(want.text, want.append);
				}
			});
	}

	render_results() {
		const s = this.searching;
		const back = `<div class="wa-search-head"><a href="#" class="wa-back">← ${wa_inbox_esc(__("Back to conversations"))}</a></div>`;
		const rows = s.rows
			.map(
				(r, i) => `<div class="wa-inbox-row wa-result ${r.message === s.current ? "active" : ""}" data-i="${i}">
					<div class="wa-top"><span class="wa-title">${wa_inbox_esc(r.title || r.number)}</span>
						<span class="wa-when">${wa_inbox_esc(wa_inbox_when(r.creation))}</span></div>
					<div class="wa-excerpt">${r.type === "Outgoing" ? "↗ " : ""}${wa_inbox_highlight(r.text, s.text, wa_inbox_esc)}</div>
					<div class="wa-meta"><span>${wa_inbox_esc(r.whatsapp_account)}</span></div>
				</div>`
			)
			.join("");
		this.$rows.html(back + (rows || `<p class="text-muted">${wa_inbox_esc(__("No messages found."))}</p>`));
		this.$more.toggleClass("hide", !s.more);
	}

	open_result(row) {
		const target = wa_inbox_result_target(row);
		if (!target) return;
		this.searching.current = row.message;
		this.highlight = target.around;
		this.open(target.conversation, { around: target.around });
	}

	back_to_list({ clear = true } = {}) {
		this.search_debounce.cancel();
		this.search_text = "";
		if (clear) this.$body.find(".wa-search-messages").val("");
		if (!this.searching) return;
		this.searching = null;
		this.render_list();
	}

	// ---- the open conversation ---------------------------------------------------------------------------------

	open(name, { around = null } = {}) {
		if (!name) return;
		const same = name === this.state.selected;
		if (!same) {
			this.save_draft();
			this.remove_attachment();
			this.close_menu();
			this.thread = null;
			this.context = null;
			this.viewers = [];
		}
		this.state.open(name);
		this.render_list();
		this.scroll_row_into_view(name);
		if (!same) {
			this.restore_draft(name);
			this.$head.empty();
			this.$messages.empty();
			this.render_context();
			this.load_context();
		}
		this.load_thread({ around });
		this.heartbeat.start(name); // another conversation: the old beat is cleared first
	}

	scroll_row_into_view(name) {
		const el = this.$rows
			.find(".wa-conversation")
			.filter((i, row) => row.getAttribute("data-name") === name)
			.get(0);
		if (el && el.scrollIntoView) el.scrollIntoView({ block: "nearest" });
	}

	// everything about the open conversation again (after an action that changes it)
	refresh_open() {
		this.load_list();
		this.load_thread();
		this.load_context();
	}

	load_thread(opts = {}) {
		if ("around" in opts) this.thread_around = opts.around || null;
		if (opts.older) this.thread_older = true;
		const name = this.state.selected;
		if (!name || !this.threadLoad.begin()) return;
		const shown = this.thread && this.thread.conversation.name === name ? this.thread : null;
		const older = !!(this.thread_older && shown && shown.messages.length);
		this.thread_older = false;
		const args = { conversation: name };
		if (older) args.before = shown.messages[0].creation;
		else if (this.thread_around) args.around = this.thread_around;
		frappe
			.xcall(WA_API + "thread", args)
			.then((r) => {
				if (r && r.conversation && name === this.state.selected) this.apply_thread(r, { older, around: args.around });
			})
			.catch(() => {})
			.finally(() => {
				if (this.threadLoad.end()) this.load_thread();
			});
	}

	apply_thread(r, { older = false, around = null } = {}) {
		const same = this.thread && this.thread.conversation.name === r.conversation.name;
		const shown = same && !(around && !older) ? this.thread : null;
		const merged = wa_inbox_merge_thread(shown, r, { older });
		const box = this.$messages.get(0);
		const before = { height: box.scrollHeight, top: box.scrollTop, bottom: box.scrollHeight - box.scrollTop - box.clientHeight < 80 };
		this.thread = Object.assign({}, merged, {
			conversation: r.conversation,
			limits: r.limits || (shown && shown.limits) || {},
			around: older && shown ? shown.around : around || null, // opened at a message: still so after older ones
		});
		this.render_head();
		this.render_messages();
		this.$composer.removeClass("hide");
		const hit = !!this.highlight && this.mark_message(this.highlight);
		if (around && around === this.highlight) this.highlight = null; // found or not: once
		if (hit) {
			// scrolled to the message found
		} else if (older) {
			box.scrollTop = box.scrollHeight - before.height + before.top;
		} else if (!same || before.bottom) {
			box.scrollTop = box.scrollHeight;
		} else {
			box.scrollTop = before.top;
		}
	}

	// scroll to a message and mark it (a search result); false when it is not shown
	mark_message(name) {
		const el = this.$messages
			.find(".wa-msg")
			.filter((i, m) => m.getAttribute("data-name") === name)
			.get(0);
		if (!el) return false;
		this.$messages.find(".wa-hit").removeClass("wa-hit");
		el.classList.add("wa-hit");
		el.scrollIntoView({ block: "center" });
		return true;
	}

	bind_head() {
		this.$head.on("click", ".wa-resolve", () => this.set_status("Resolved"));
		this.$head.on("click", ".wa-reopen", () => this.set_status("Open"));
		this.$head.on("click", ".wa-pending", () => this.set_status("Pending"));
		this.$head.on("click", ".wa-snooze-item", (e) => {
			const until = e.currentTarget.getAttribute("data-until");
			if (until === "pick") this.snooze_dialog();
			else this.set_status("Snoozed", until);
		});
		this.$head.on("click", ".wa-assign", () => this.assign_dialog());
		this.$head.on("click", ".wa-unassign", () => this.unassign());
		this.$head.on("click", ".wa-lead", () => this.create_lead());
		this.$head.on("click", ".wa-block", () => this.thread && this.block(this.thread.conversation));
	}

	render_head() {
		const c = this.thread.conversation;
		const button = (cls, label) =>
			`<button class="btn btn-default btn-xs ${cls}">${wa_inbox_esc(label)}</button>`;
		const buttons = [];
		if (c.status !== "Resolved") buttons.push(button("wa-resolve", __("Resolve")));
		if (c.status && c.status !== "Open") buttons.push(button("wa-reopen", __("Reopen")));
		buttons.push(`<div class="dropdown">
			<button class="btn btn-default btn-xs dropdown-toggle wa-snooze" data-toggle="dropdown" aria-haspopup="true"
				aria-expanded="false">${wa_inbox_esc(__("Snooze"))}</button>
			<div class="dropdown-menu dropdown-menu-right">${WA_SNOOZE.map(
				(s) => `<button type="button" class="dropdown-item wa-snooze-item" data-until="${wa_inbox_esc(s.until)}">${wa_inbox_esc(s.label())}</button>`
			).join("")}</div></div>`);
		if (c.status !== "Pending") buttons.push(button("wa-pending", __("Pending")));
		buttons.push(button("wa-assign", __("Assign")));
		if (c.assignee) buttons.push(button("wa-unassign", __("Unassign")));
		if (!c.reference_name) buttons.push(button("wa-lead", __("Create Lead")));
		buttons.push(button("wa-block", __("Block number")));
		const who = c.assignee
			? `<span>${frappe.avatar(c.assignee, "avatar-xs")} ${wa_inbox_esc(c.assignee_name || c.assignee)}</span>`
			: `<span>${wa_inbox_esc(__("Unassigned"))}</span>`;
		const snoozed =
			c.status === "Snoozed" ? `<span class="wa-snoozed">${wa_inbox_esc(wa_inbox_snoozed(c))}</span>` : "";
		this.$head.html(`<div class="wa-head-top">
				<div><b>${wa_inbox_esc(c.title || c.number)}</b> ${c.status ? this.status_pill(c.status) : ""}
					<div class="wa-head-sub"><span>${wa_inbox_esc(c.number)}</span><span>${wa_inbox_esc(c.whatsapp_account)}</span>${who}${snoozed}</div>
				</div>
				<div class="wa-head-actions">${buttons.join("")}</div>
			</div>
			<div class="wa-viewers"></div>`);
		this.render_viewers();
	}

	bind_thread() {
		this.$messages.on("click", ".wa-older", () => this.load_thread({ older: true }));
		this.$messages.on("click", ".wa-latest", (e) => {
			e.preventDefault();
			this.thread = null;
			this.load_thread({ around: null });
		});
		// drop a file anywhere on the thread
		const has_files = (e) => {
			const dt = e.originalEvent && e.originalEvent.dataTransfer;
			return !!(dt && Array.from(dt.types || []).includes("Files"));
		};
		this.$thread.on("dragenter dragover", (e) => {
			if (!this.thread || !has_files(e)) return;
			e.preventDefault();
			this.$thread.addClass("wa-drop");
		});
		this.$thread.on("dragleave", (e) => {
			const to = e.originalEvent && e.originalEvent.relatedTarget;
			if (!to || !this.$thread.get(0).contains(to)) this.$thread.removeClass("wa-drop");
		});
		this.$thread.on("drop", (e) => {
			this.$thread.removeClass("wa-drop");
			if (!this.thread || !has_files(e)) return;
			e.preventDefault();
			const files = e.originalEvent.dataTransfer.files;
			if (files && files.length) this.attach(files[0]);
		});
	}

	render_messages() {
		const t = this.thread;
		const reactions = {};
		for (const m of t.messages) {
			if (m.content_type === "reaction" && m.reply_to_message_id) reactions[m.reply_to_message_id] = m.text;
		}
		const shown = t.messages.filter((m) => m.content_type !== "reaction");
		const items = wa_inbox_timeline(shown, t.notes, { more: t.more });
		const older = t.more
			? `<div class="wa-thread-more"><button class="btn btn-default btn-xs wa-older">${wa_inbox_esc(__("Load older messages"))}</button></div>`
			: "";
		const latest = t.around
			? `<div class="wa-thread-more"><a href="#" class="wa-latest">${wa_inbox_esc(__("Jump to latest"))} ↓</a></div>`
			: "";
		const html = items
			.map((it) => (it.kind === "note" ? this.note_html(it.item) : this.message_html(it.item, reactions)))
			.join("");
		this.$messages.html(older + (html || `<p class="text-muted">${wa_inbox_esc(__("No messages yet."))}</p>`) + latest);
	}

	message_html(m, reactions) {
		const dir = m.type === "Incoming" ? "in" : "out";
		const tick = dir === "out" ? ` ${wa_inbox_esc(WA_TICKS[m.status] || "")}` : "";
		let file = m.file ? this.file_html(m.file) : "";
		if (!file && m.attach) {
			const url = wa_inbox_safe_url(m.attach);
			if (url) {
				file = `<div><a href="${wa_inbox_esc(url)}" target="_blank" rel="noopener">${wa_inbox_esc(__("Attachment"))}</a></div>`;
			}
		}
		const text = m.text ? `<div class="wa-text">${wa_inbox_esc(m.text)}</div>` : "";
		const react = reactions[m.message_id] ? `<div class="wa-react">${wa_inbox_esc(reactions[m.message_id])}</div>` : "";
		const reply = m.is_reply ? `<div class="text-muted small">↩ ${wa_inbox_esc(__("Reply"))}</div>` : "";
		const waiting = m.waiting ? `<div class="text-muted small">${wa_inbox_esc(m.waiting)}</div>` : "";
		return `<div class="wa-msg ${dir}" data-name="${wa_inbox_esc(m.name)}">${reply}${file}${text}${react}${waiting}
			<div class="wa-time">${wa_inbox_esc(frappe.datetime.str_to_user(m.creation))}${tick}</div></div>`;
	}

	file_html(f) {
		const url = wa_inbox_safe_url(f.url);
		if (!url) return "";
		const name = wa_inbox_esc(f.name || __("Attachment"));
		if (f.kind === "image") {
			const thumb = wa_inbox_safe_url(f.thumb) || url;
			return `<a href="${wa_inbox_esc(url)}" target="_blank" rel="noopener"><img src="${wa_inbox_esc(thumb)}" loading="lazy" alt="${name}"></a>`;
		}
		if (f.kind === "audio") return `<audio controls preload="none" src="${wa_inbox_esc(url)}"></audio>`;
		if (f.kind === "video") return `<video controls preload="none" src="${wa_inbox_esc(url)}"></video>`;
		const size = f.size ? wa_inbox_human_size(f.size) : "";
		return `<a class="wa-file-card" href="${wa_inbox_esc(url)}" target="_blank" rel="noopener">
			${frappe.utils.icon(f.kind === "sticker" ? "image" : "file", "md")}
			<span class="wa-file-name">${name}</span><span class="wa-file-size">${wa_inbox_esc(size)}</span></a>`;
	}

	note_html(n) {
		return `<div class="wa-note" data-note="${wa_inbox_esc(n.name)}">
			<div class="wa-note-head">${frappe.utils.icon("lock", "xs")} ${wa_inbox_esc(__("Private note"))} · ${wa_inbox_esc(n.owner_name || n.owner)}</div>
			<div class="wa-text">${wa_inbox_esc(n.text)}</div>
			<div class="wa-time">${wa_inbox_esc(frappe.datetime.str_to_user(n.creation))}</div></div>`;
	}

	// ---- who else is here --------------------------------------------------------------------------------------

	beat(name) {
		if (document.hidden) return; // a tab in the background is not viewing
		frappe.call({
			method: WA_API + "viewing",
			args: { conversation: name },
			silent: true,
			callback: (r) => {
				if (name !== this.state.selected || !r.message) return;
				this.set_viewers(r.message.viewers || []);
			},
			error: () => this.heartbeat.stop(false), // not allowed any more, or gone: no beat every 20 s for nothing
		});
	}

	// another conversation opened, or the page left: the others stop seeing this user there
	left(name) {
		if (!name) return;
		frappe.call({ method: WA_API + "stop_viewing", args: { conversation: name }, silent: true, error: () => {} });
	}

	set_viewers(viewers) {
		for (const v of viewers) {
			if (v && typeof v === "object" && v.user && v.full_name) this.names[v.user] = v.full_name;
		}
		this.viewers = viewers;
		this.render_viewers();
	}

	handle_viewers(data) {
		if (!data || data.conversation !== this.state.selected) return;
		const viewers = data.viewers || [];
		this.set_viewers(viewers);
		// the event names users only: someone this page has no name for (a user added since it loaded)
		// would show as an e-mail address; the heartbeat's answer carries the full names
		const known = (user) => this.names[user] || (frappe.boot.user_info && frappe.boot.user_info[user]);
		const unknown = viewers.some((v) => typeof v === "string" && v !== frappe.session.user && !known(v));
		if (unknown) this.beat(data.conversation);
	}

	render_viewers() {
		const $v = this.$head.find(".wa-viewers");
		const v = wa_inbox_viewers(
			this.viewers,
			frappe.session.user,
			(user) => this.names[user] || frappe.user_info(user).fullname
		);
		if (!v.names.length) return $v.empty();
		const names = v.names.join(", ");
		const text = v.more ? __("{0} and {1} more", [names, v.more]) : names;
		$v.html(`${frappe.utils.icon("view", "sm")} ${wa_inbox_esc(__("Also here: {0}", [text]))}`);
	}

	// ---- status, assignment, lead, block ------------------------------------------------------------------------

	set_status(status, until = null) {
		const name = this.state.selected;
		if (!name) return;
		const c = this.thread && this.thread.conversation.name === name ? this.thread.conversation : null;
		if (c && c.status === status && status !== "Snoozed") return; // already so (a key pressed twice)
		const args = { conversation: name, status };
		if (until) args.until = until;
		frappe
			.xcall(WA_API + "set_status", args)
			.then((r) => {
				const now = (r && r.status) || status;
				const snoozed_until = (r && r.snoozed_until) || null;
				this.state.setRowStatus(name, now, snoozed_until);
				if (this.thread && this.thread.conversation.name === name) {
					Object.assign(this.thread.conversation, { status: now, snoozed_until });
					this.render_head();
				}
				this.render_list();
				frappe.show_alert({ message: wa_inbox_esc(__("Status: {0}", [wa_inbox_status_label(now)])), indicator: "green" });
				this.load_list();
			})
			.catch(() => {});
	}

	open_snooze_menu() {
		const $toggle = this.$head.find(".wa-snooze");
		if (!$toggle.length) return;
		$toggle.dropdown("toggle");
		setTimeout(() => this.$head.find(".wa-snooze-item").first().trigger("focus"), 0);
	}

	snooze_dialog() {
		const name = this.state.selected;
		const d = new frappe.ui.Dialog({
			title: __("Snooze"),
			fields: [{ fieldtype: "Datetime", fieldname: "until", label: __("Until"), reqd: 1 }],
			primary_action_label: __("Snooze"),
			primary_action: (values) => {
				d.hide();
				if (name === this.state.selected) this.set_status("Snoozed", values.until);
			},
		});
		d.show();
	}

	assign_dialog() {
		const name = this.state.selected;
		if (!name) return;
		const d = new frappe.ui.Dialog({
			title: __("Assign"),
			fields: [
				{
					fieldtype: "Link",
					fieldname: "user",
					options: "User",
					label: __("User"),
					reqd: 1,
					get_query: () => ({ filters: { enabled: 1, user_type: "System User" } }),
				},
			],
			primary_action_label: __("Assign"),
			primary_action: (values) => {
				d.hide();
				this.assign(name, values.user);
			},
			secondary_action_label: __("Assign to me"),
			secondary_action: () => {
				d.hide();
				this.assign(name, null);
			},
		});
		d.show();
	}

	assign(name, user) {
		const args = { conversation: name };
		if (user) args.user = user;
		frappe
			.xcall(WA_API + "assign", args)
			.then((r) => {
				const to = (r && r.assignee) || user || frappe.session.user;
				const message =
					to === frappe.session.user
						? __("Assigned to you")
						: __("Assigned to {0}", [frappe.user_info(to).fullname]);
				frappe.show_alert({ message: wa_inbox_esc(message), indicator: "green" });
				this.refresh_open();
			})
			.catch(() => {});
	}

	unassign() {
		const c = this.thread && this.thread.conversation;
		if (!c || !c.assignee) return;
		frappe
			.xcall(WA_API + "unassign", { conversation: c.name, user: c.assignee })
			.then(() => {
				frappe.show_alert({ message: wa_inbox_esc(__("Unassigned")), indicator: "orange" });
				this.refresh_open();
			})
			.catch(() => {});
	}

	create_lead() {
		const name = this.state.selected;
		if (!name) return;
		frappe
			.xcall(WA_API + "create_lead", { conversation: name })
			.then(() => {
				frappe.show_alert({ message: wa_inbox_esc(__("Lead created")), indicator: "green" });
				this.refresh_open();
			})
			.catch(() => {});
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
					.then(() => frappe.show_alert({ message: wa_inbox_esc(__("Number blocked")), indicator: "orange" }))
					.catch(() => {})
		);
	}

	// ---- the composer ----------------------------------------------------------------------------------------

	bind_composer() {
		this.$composer.on("click", ".wa-mode", (e) => {
			this.set_mode(e.currentTarget.getAttribute("data-mode"));
			this.box().trigger("focus");
		});
		this.$send.on("click", () => this.send());
		this.$composer.find(".wa-attach").on("click", () => this.$file.trigger("click"));
		this.$file.on("change", (e) => {
			const files = e.currentTarget.files;
			if (files && files.length) this.attach(files[0]);
			e.currentTarget.value = "";
		});
		this.$chips.on("click", ".wa-chip-x", () => this.remove_attachment());
		this.$reply.on("paste", (e) => {
			const data = e.originalEvent && e.originalEvent.clipboardData;
			if (data && data.files && data.files.length) {
				e.preventDefault();
				this.attach(data.files[0]);
			}
		});
		for (const $box of [this.$reply, this.$note]) {
			$box.on("keydown", (e) => this.composer_key(e));
			$box.on("input click", (e) => this.update_trigger(e.currentTarget));
			$box.on("keyup", (e) => {
				if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) this.update_trigger(e.currentTarget);
			});
			$box.on("blur", () => this.close_menu());
		}
		// mousedown, not click: the box keeps its focus (and its caret) while an item is picked
		this.$menu.on("mousedown", ".wa-menu-item", (e) => {
			e.preventDefault();
			this.pick(parseInt(e.currentTarget.getAttribute("data-i"), 10));
		});
	}

	box() {
		return this.mode === "note" ? this.$note : this.$reply;
	}

	set_mode(mode) {
		this.mode = mode === "note" ? "note" : "reply";
		const note = this.mode === "note";
		this.close_menu();
		this.$composer.toggleClass("wa-note-mode", note);
		this.$composer.find(".wa-mode").each((i, b) => b.classList.toggle("active", b.getAttribute("data-mode") === this.mode));
		this.$reply.toggleClass("hide", note);
		this.$note.toggleClass("hide", !note);
		this.$composer.find(".wa-attach").toggleClass("hide", note);
		this.$chips.toggleClass("hide", note);
		this.$send.text(note ? __("Add note") : __("Send"));
	}

	focus_box(mode) {
		if (!this.thread) return;
		this.set_mode(mode);
		this.box().trigger("focus");
	}

	composer_key(e) {
		const action = wa_inbox_composer_key(
			{
				key: e.key,
				shift: e.shiftKey,
				ctrl: e.ctrlKey,
				meta: e.metaKey,
				alt: e.altKey,
				composing: e.originalEvent && e.originalEvent.isComposing,
			},
			{ menu: this.menu_open() }
		);
		if (!action) return;
		e.preventDefault();
		if (action === "send") this.send();
		else if (action === "menu_down" || action === "menu_up") {
			this.menu.index = wa_inbox_menu_move(this.menu.index, this.menu.items.length, action === "menu_down" ? 1 : -1);
			this.render_menu();
		} else if (action === "menu_pick") this.pick(this.menu.index);
		else if (action === "menu_close") this.close_menu();
	}

	save_draft() {
		const name = this.state.selected;
		if (!name) return;
		this.drafts[name] = { reply: this.$reply.val() || "", note: this.$note.val() || "", picked: this.picked };
	}

	restore_draft(name) {
		const d = this.drafts[name] || {};
		this.$reply.val(d.reply || "");
		this.$note.val(d.note || "");
		this.picked = d.picked || [];
		delete this.drafts[name];
	}

	send() {
		if (this.mode === "note") return this.add_note();
		const name = this.state.selected;
		const text = (this.$reply.val() || "").trim();
		const att = this.attachment;
		if (!name || this.sending) return;
		if (att && att.uploading) {
			frappe.show_alert({ message: wa_inbox_esc(__("Wait for the file to finish uploading.")), indicator: "orange" });
			return;
		}
		if (!text && !att) return;
		const args = { conversation: name, text };
		if (att) args.file = att.file;
		this.sending = true;
		this.$send.prop("disabled", true);
		frappe
			.xcall(WA_API + "reply", args)
			.then(() => {
				if (this.state.selected === name) {
					this.$reply.val("");
					if (this.attachment === att) {
						this.attachment = null;
						this.render_chip();
					}
					this.thread_around = null; // what was sent is at the end
					this.load_thread();
				}
			})
			.catch(() => {})
			.finally(() => {
				this.sending = false;
				this.$send.prop("disabled", false);
			});
	}

	add_note() {
		const name = this.state.selected;
		const text = (this.$note.val() || "").trim();
		if (!name || !text || this.sending) return;
		const mentions = wa_inbox_mentions(text, this.picked);
		this.sending = true;
		this.$send.prop("disabled", true);
		frappe
			.xcall(WA_API + "add_note", { conversation: name, text, mentions })
			.then(() => {
				frappe.show_alert({ message: wa_inbox_esc(__("Note added")), indicator: "green" });
				if (this.state.selected === name) {
					this.$note.val("");
					this.picked = [];
					this.load_thread();
				}
			})
			.catch(() => {})
			.finally(() => {
				this.sending = false;
				this.$send.prop("disabled", false);
			});
	}

	// ---- files -------------------------------------------------------------------------------------------

	file_problem(file, check) {
		const name = wa_inbox_esc(file.name);
		if (check.reason === "empty") return __("{0} is empty.", [name]);
		if (check.reason === "too_big") {
			return __("{0} is larger than {1}, the most WhatsApp takes for this kind of file.", [
				name,
				wa_inbox_esc(wa_inbox_human_size(check.limit)),
			]);
		}
		return __("{0} cannot be sent on WhatsApp.", [name]);
	}

	attach(file) {
		const name = this.state.selected;
		if (!file || !name || !this.thread) return;
		if (this.mode !== "reply") this.set_mode("reply");
		const check = wa_inbox_check_file(file, this.thread.limits);
		if (!check.ok) {
			frappe.msgprint({ title: __("Message not sent"), message: this.file_problem(file, check), indicator: "orange" });
			return;
		}
		this.remove_attachment();
		const controller = window.AbortController ? new AbortController() : null;
		const att = { uploading: true, file_name: file.name, size: file.size, kind: check.kind, controller };
		this.attachment = att;
		this.render_chip();
		const form = new FormData();
		form.append("conversation", name);
		form.append("file", file, file.name);
		fetch("/api/method/whatsapp_crm.api.inbox.upload", {
			method: "POST",
			body: form,
			credentials: "same-origin",
			headers: { "X-Frappe-CSRF-Token": frappe.csrf_token, Accept: "application/json" },
			signal: controller ? controller.signal : undefined,
		})
			.then((res) =>
				res
					.json()
					.catch(() => ({}))
					.then((body) => ({ ok: res.ok, body }))
			)
			.then(({ ok, body }) => {
				if (this.attachment !== att) return; // removed, or another conversation opened, meanwhile
				const m = body && body.message;
				if (!ok || !m || !m.file) {
					this.attachment = null;
					this.render_chip();
					this.upload_problem(body);
					return;
				}
				this.attachment = {
					file: m.file,
					file_name: m.file_name || file.name,
					size: m.size || file.size,
					kind: m.kind || check.kind,
				};
				this.render_chip();
			})
			.catch((err) => {
				if (this.attachment !== att) return;
				this.attachment = null;
				this.render_chip();
				if (!err || err.name !== "AbortError") this.upload_problem(null);
			});
	}

	// the server's refusal, in its own (already translated) words, as text
	upload_problem(body) {
		const messages = wa_inbox_server_messages(body);
		frappe.msgprint({
			title: __("Message not sent"),
			message: messages.length
				? messages.map(wa_inbox_text).join("<br>")
				: wa_inbox_esc(__("The file could not be uploaded.")),
			indicator: "red",
		});
	}

	remove_attachment() {
		const att = this.attachment;
		this.attachment = null;
		if (att && att.uploading && att.controller) att.controller.abort();
		this.render_chip();
	}

	render_chip() {
		const a = this.attachment;
		this.$send.prop("disabled", !!(a && a.uploading) || !!this.sending);
		if (!a) return this.$chips.empty();
		const icon = frappe.utils.icon(a.kind === "image" || a.kind === "sticker" ? "image" : "file", "sm");
		const state = a.uploading ? ` · ${wa_inbox_esc(__("Uploading…"))}` : "";
		this.$chips.html(`<span class="wa-chip ${a.uploading ? "uploading" : ""}">${icon}
			<span>${wa_inbox_esc(a.file_name)} · ${wa_inbox_esc(wa_inbox_human_size(a.size))}${state}</span>
			<button type="button" class="btn btn-xs wa-chip-x" title="${wa_inbox_esc(__("Remove"))}"
				aria-label="${wa_inbox_esc(__("Remove"))}">×</button></span>`);
	}

	// ---- "/" quick replies and "@" mentions -------------------------------------------------------------------

	menu_open() {
		return !!(this.menu && this.menu.items.length);
	}

	update_trigger(box) {
		const char = box === this.$note.get(0) ? "@" : "/";
		const trigger =
			box.selectionStart === box.selectionEnd ? wa_inbox_trigger(box.value, box.selectionStart, char) : null;
		if (!trigger || !this.state.selected) return this.close_menu();
		const m = this.menu && this.menu.box === box ? this.menu : { items: [], index: 0 };
		const changed = !m.trigger || m.trigger.query !== trigger.query;
		this.menu = Object.assign(m, { box, char, trigger });
		if (changed) this.menu_debounce.call();
	}

	load_menu() {
		const m = this.menu;
		if (!m || !this.state.selected || !this.menuLoad.begin()) return;
		const query = m.trigger.query;
		const call =
			m.char === "/"
				? frappe.xcall(WA_API + "quick_replies", { conversation: this.state.selected, search: query })
				: frappe.xcall(WA_API + "users", { search: query });
		call
			.then((rows) => {
				if (this.menu !== m || m.trigger.query !== query) return; // closed, or typed on, since
				m.items = Array.isArray(rows) ? rows : [];
				m.index = 0;
				for (const u of m.items) if (u.user && u.full_name) this.names[u.user] = u.full_name;
				this.render_menu();
			})
			.catch(() => {})
			.finally(() => {
				if (this.menuLoad.end()) this.load_menu();
			});
	}

	render_menu() {
		const m = this.menu;
		if (!m || !m.items.length) return this.$menu.addClass("hide").empty();
		this.$menu
			.html(
				m.items
					.map((it, i) => {
						const body =
							m.char === "/"
								? `<div><b>/${wa_inbox_esc(it.code)}</b> ${wa_inbox_esc(it.title)}</div>
									<div class="wa-menu-text">${wa_inbox_esc(it.text)}</div>`
								: `<div>${frappe.avatar(it.user, "avatar-xs")} ${wa_inbox_esc(it.full_name || it.user)}
									<span class="text-muted small">${wa_inbox_esc(it.user)}</span></div>`;
						return `<div class="wa-menu-item ${i === m.index ? "active" : ""}" data-i="${i}">${body}</div>`;
					})
					.join("")
			)
			.removeClass("hide");
		const active = this.$menu.find(".wa-menu-item.active").get(0);
		if (active && active.scrollIntoView) active.scrollIntoView({ block: "nearest" });
	}

	pick(i) {
		const m = this.menu;
		const item = m && m.items[i];
		if (!item) return;
		const box = m.box;
		const label = item.full_name || item.user;
		const insert = m.char === "/" ? item.text || "" : `@${label} `;
		const out = wa_inbox_replace_token(box.value, m.trigger, insert);
		box.value = out.text;
		box.focus();
		box.setSelectionRange(out.caret, out.caret);
		if (m.char === "@") this.picked.push({ user: item.user, label });
		this.close_menu();
	}

	close_menu() {
		this.menu = null;
		this.menu_debounce.cancel();
		if (this.$menu) this.$menu.addClass("hide").empty();
	}

	// ---- the CRM panel ----------------------------------------------------------------------------------------

	load_context() {
		const name = this.state.selected;
		if (!name || !this.contextLoad.begin()) return;
		frappe
			.xcall(WA_API + "context", { conversation: name })
			.then((r) => {
				if (name === this.state.selected) {
					this.context = r || null;
					this.render_context();
				}
			})
			.catch(() => {})
			.finally(() => {
				if (this.contextLoad.end()) this.load_context();
			});
	}

	bind_panel() {
		this.$panel.on("change", ".wa-ref-status", (e) => this.set_reference_status(e.currentTarget.value));
		this.$panel.on("click", ".wa-convert", () => this.convert_to_deal());
		this.$panel.on("click", ".wa-task", () => this.task_dialog());
		this.$panel.on("click", ".wa-lead", () => this.create_lead());
		this.$panel.on("click", ".wa-other", (e) => this.open(e.currentTarget.getAttribute("data-name")));
	}

	render_context() {
		const title = `<div class="wa-panel-title">${wa_inbox_esc(__("CRM"))}</div>`;
		const c = this.context;
		if (!c) {
			this.$panel.html(title);
			return;
		}
		const field = (label, html) =>
			`<div class="wa-field"><label>${wa_inbox_esc(label)}</label><div>${html}</div></div>`;
		const parts = [title];
		if (c.opted_out) parts.push(`<div class="alert alert-warning small">${wa_inbox_esc(__("Opted out of campaigns"))}</div>`);
		const ref = c.reference;
		if (ref) {
			const url = wa_inbox_reference_url(ref);
			parts.push(`<div class="wa-field"><label>${wa_inbox_esc(__(ref.doctype))}</label>
				<a href="${wa_inbox_esc(url)}" target="_blank" rel="noopener"><b>${wa_inbox_esc(ref.title || ref.name)}</b></a>
				${ref.title && ref.title !== ref.name ? `<div class="text-muted small">${wa_inbox_esc(ref.name)}</div>` : ""}</div>`);
			const statuses = (ref.statuses || []).slice();
			if (ref.status && !statuses.includes(ref.status)) statuses.unshift(ref.status);
			if (statuses.length) {
				const options = statuses
					.map((s) => `<option value="${wa_inbox_esc(s)}" ${s === ref.status ? "selected" : ""}>${wa_inbox_esc(__(s))}</option>`)
					.join("");
				parts.push(
					field(
						__("Status"),
						`<select class="form-control input-xs wa-ref-status" ${ref.can_write ? "" : "disabled"}>${options}</select>`
					)
				);
			}
			if (ref.owner) {
				parts.push(field(__("Owner"), `${frappe.avatar(ref.owner, "avatar-xs")} ${wa_inbox_esc(ref.owner_name || ref.owner)}`));
			}
			if (ref.organization) parts.push(field(__("Organization"), wa_inbox_esc(ref.organization)));
			if (ref.value != null && ref.value !== "") {
				parts.push(field(__("Value"), wa_inbox_esc(format_currency(ref.value, ref.currency))));
			}
			// a Deal's stage is its status: shown once, in the select, when that is there
			if (ref.stage && !(statuses.length && ref.stage === ref.status)) {
				parts.push(field(__("Stage"), wa_inbox_esc(__(ref.stage))));
			}
			const actions = [];
			if (ref.can_convert) {
				actions.push(`<button class="btn btn-default btn-xs wa-convert">${wa_inbox_esc(__("Convert to Deal"))}</button>`);
			}
			if (ref.can_write) actions.push(`<button class="btn btn-default btn-xs wa-task">${wa_inbox_esc(__("Add task"))}</button>`);
			if (actions.length) parts.push(`<div class="wa-panel-actions">${actions.join("")}</div>`);
		} else {
			parts.push(`<p class="text-muted">${wa_inbox_esc(__("No Lead or Deal yet."))}</p>
				<div class="wa-panel-actions"><button class="btn btn-default btn-xs wa-lead">${wa_inbox_esc(__("Create Lead"))}</button></div>`);
		}
		const others = c.others || [];
		if (others.length) {
			parts.push(`<div class="wa-panel-title" style="margin-top: 16px">${wa_inbox_esc(__("Other conversations"))}</div>`);
			parts.push(
				others
					.map(
						(o) => `<div class="wa-other" data-name="${wa_inbox_esc(o.name)}">
							<div><b>${wa_inbox_esc(o.title || o.number)}</b> ${o.status ? this.status_pill(o.status) : ""}</div>
							<div class="text-muted small">${wa_inbox_esc(o.whatsapp_account)} · ${wa_inbox_esc(wa_inbox_when(o.last_message_at))}</div>
						</div>`
					)
					.join("")
			);
		}
		this.$panel.html(parts.join(""));
	}

	set_reference_status(status) {
		const name = this.state.selected;
		if (!name) return;
		frappe
			.xcall(WA_API + "set_reference_status", { conversation: name, status })
			.then((r) => {
				frappe.show_alert({ message: wa_inbox_esc(__("Status: {0}", [__(status)])), indicator: "green" });
				if (name !== this.state.selected) return;
				if (r) this.context = r;
				this.render_context();
			})
			.catch(() => this.render_context()); // the select shows the status it still has
	}

	convert_to_deal() {
		const name = this.state.selected;
		const ref = this.context && this.context.reference;
		if (!name || !ref) return;
		frappe.confirm(__("Convert {0} to a Deal?", [wa_inbox_esc(ref.title || ref.name)]), () =>
			frappe
				.xcall(WA_API + "convert_to_deal", { conversation: name })
				.then((r) => {
					frappe.show_alert({ message: wa_inbox_esc(__("Deal {0} created", [(r && r.deal) || ""])), indicator: "green" });
					if (name === this.state.selected) this.refresh_open();
				})
				.catch(() => {})
		);
	}

	task_dialog() {
		const name = this.state.selected;
		if (!name) return;
		const d = new frappe.ui.Dialog({
			title: __("Add task"),
			fields: [
				{ fieldtype: "Data", fieldname: "title", label: __("Title"), reqd: 1 },
				{ fieldtype: "Date", fieldname: "due_date", label: __("Due date") },
				{
					fieldtype: "Link",
					fieldname: "assigned_to",
					options: "User",
					label: __("Assigned To"),
					default: frappe.session.user,
					get_query: () => ({ filters: { enabled: 1, user_type: "System User" } }),
				},
			],
			primary_action_label: __("Add task"),
			primary_action: (values) => {
				const args = { conversation: name, title: values.title };
				if (values.due_date) args.due_date = values.due_date;
				if (values.assigned_to) args.assigned_to = values.assigned_to;
				frappe
					.xcall(WA_API + "add_task", args)
					.then(() => {
						d.hide();
						frappe.show_alert({ message: wa_inbox_esc(__("Task added")), indicator: "green" });
					})
					.catch(() => {});
			},
		});
		d.show();
	}

	// ---- keyboard ---------------------------------------------------------------------------------------------

	handle_key(e) {
		if (!$(this.wrapper).is(":visible")) return;
		const t = e.target || {};
		const action = wa_inbox_key_action(
			{
				key: e.key,
				tag: t.tagName,
				editable: !!t.isContentEditable,
				ctrl: e.ctrlKey,
				meta: e.metaKey,
				alt: e.altKey,
				composing: e.isComposing,
			},
			{
				conversation: !!(this.state.selected && this.thread),
				modal: $(".modal.show").length > 0,
				menu: this.menu_open() || this.$body.find(".dropdown-menu.show").length > 0,
			}
		);
		if (!action) return;
		if (action === "escape") return this.escape(t);
		e.preventDefault();
		e.stopPropagation(); // Frappe's "?" is ours on this page
		this.run(action);
	}

	escape(target) {
		if (target && target !== document.body && this.$body.get(0).contains(target) && target.blur) {
			if (["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName) || target.isContentEditable) {
				target.blur();
				return;
			}
		}
		if (this.searching) this.back_to_list();
	}

	run(action) {
		if (action === "next" || action === "prev") return this.move(action);
		if (action === "resolve") return this.set_status("Resolved");
		if (action === "pending") return this.set_status("Pending");
		if (action === "reopen") return this.set_status("Open");
		if (action === "snooze") return this.open_snooze_menu();
		if (action === "reply") return this.focus_box("reply");
		if (action === "note") return this.focus_box("note");
		if (action === "assign") return this.assign_dialog();
		if (action === "help") return this.shortcuts_dialog();
	}

	move(direction) {
		if (this.searching) {
			const s = this.searching;
			const next = wa_inbox_neighbour(
				s.rows.map((r) => r.message),
				s.current,
				direction
			);
			const row = s.rows.find((r) => r.message === next);
			if (row) this.open_result(row);
			return;
		}
		const name = this.state.neighbour(direction);
		if (name) this.open(name);
	}

	shortcuts_dialog() {
		const kbd = (k) => `<kbd>${wa_inbox_esc(k)}</kbd>`;
		const rows = WA_SHORTCUTS.map(
			([key, alt, label]) =>
				`<tr><td>${kbd(key)}${alt ? ` / ${kbd(alt)}` : ""}</td><td>${wa_inbox_esc(label())}</td></tr>`
		).join("");
		const d = new frappe.ui.Dialog({
			title: __("Keyboard shortcuts"),
			fields: [{ fieldtype: "HTML", fieldname: "keys", options: `<table class="wa-keys">${rows}</table>` }],
		});
		d.show();
	}

	// ---- realtime ------------------------------------------------------------------------------------------

	handle_event(data) {
		const what = this.state.onEvent(data);
		if (what.list) this.load_list();
		if (what.thread) this.load_thread();
	}
}
