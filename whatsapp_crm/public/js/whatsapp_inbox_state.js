// One load at a time (the list, the open thread): begin() false means "queued behind the current".
class WhatsAppOneLoad {
	constructor() {
		this.loading = false;
		this.pending = false;
	}
	begin() {
		if (this.loading) {
			this.pending = true;
			return false;
		}
		this.loading = true;
		return true;
	}
	end() {
		this.loading = false;
		const again = this.pending;
		this.pending = false;
		return again;
	}
}

// The WhatsApp inbox's client state, kept apart from the DOM so node can test it: the list and its page,
// the open conversation, unread counts, and one load in flight at a time (a load asked for meanwhile runs
// once when the current one ends, never two at once).
class WhatsAppInboxState {
	constructor() {
		this.rows = [];
		this.more = false;
		this.selected = null;
		this.load = new WhatsAppOneLoad();
		this.filters = { scope: "all", account: "", search: "" };
	}

	// true: start the load now; false: one is in flight, this one runs after it (coalesced)
	beginLoad() {
		return this.load.begin();
	}

	get loading() {
		return this.load.loading;
	}

	// the page that came back; returns whether a load asked for meanwhile must run now
	endLoad(page, { append = false } = {}) {
		if (page) {
			const rows = (page.rows || []).map((r) =>
				r.name === this.selected ? Object.assign({}, r, { unread: 0 }) : r
			);
			this.rows = append ? this.rows.concat(rows.filter((r) => !this.rows.some((x) => x.name === r.name))) : rows;
			this.more = !!page.more;
		}
		return this.load.end();
	}

	setFilter(key, value) {
		if (this.filters[key] === value) return false;
		this.filters[key] = value;
		return true;
	}

	open(name) {
		this.selected = name;
		this.rows = this.rows.map((r) => (r.name === name ? Object.assign({}, r, { unread: 0 }) : r));
	}

	unreadTotal() {
		return this.rows.reduce((n, r) => n + (r.unread || 0), 0);
	}

	// a realtime event: what to reload (the list always; the thread when it is the open one)
	onEvent(data) {
		const name = data && data.conversation;
		return { list: true, thread: !!name && name === this.selected };
	}
}

// A named realtime handler, on at most once and removable (the page is left, or shown again).
class WhatsAppRealtimeHandler {
	constructor(realtime, event, handler) {
		this.realtime = realtime;
		this.event = event;
		this.handler = handler;
		this.on = false;
	}
	listen() {
		if (this.on) return false;
		this.realtime.on(this.event, this.handler);
		this.on = true;
		return true;
	}
	unlisten() {
		if (!this.on) return false;
		this.realtime.off(this.event, this.handler);
		this.on = false;
		return true;
	}
}

if (typeof module !== "undefined") {
	module.exports = { WhatsAppInboxState, WhatsAppOneLoad, WhatsAppRealtimeHandler };
}
