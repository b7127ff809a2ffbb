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

// The statuses a conversation can have, in the order of the tabs above the list ("all" last).
const WA_INBOX_STATUSES = ["Open", "Pending", "Snoozed", "Resolved"];

// The WhatsApp inbox's client state, kept apart from the DOM so node can test it: the list and its page,
// the status tab and its counts, the open conversation, unread counts, and one load in flight at a time
// (a load asked for meanwhile runs once when the current one ends, never two at once).
class WhatsAppInboxState {
	constructor() {
		this.rows = [];
		this.more = false;
		this.selected = null;
		this.load = new WhatsAppOneLoad();
		this.filters = { scope: "all", account: "", search: "", status: "Open" };
		this.counts = { Open: 0, Pending: 0, Snoozed: 0, Resolved: 0 };
		// where the open conversation stood when it left the list (resolved under the Open tab): j/k go on from there
		this.gone = null;
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
			if (page.counts) {
				const counts = {};
				for (const s of WA_INBOX_STATUSES) counts[s] = Math.max(0, parseInt(page.counts[s], 10) || 0);
				this.counts = counts;
			}
			if (this.rows.some((r) => r.name === this.selected)) this.gone = null;
		}
		return this.load.end();
	}

	setFilter(key, value) {
		if (this.filters[key] === value) return false;
		this.filters[key] = value;
		if (key === "status") this.gone = null;
		return true;
	}

	// the tabs above the list: each status with its count, then "all" with their sum
	statusTabs() {
		const tabs = WA_INBOX_STATUSES.map((status) => ({
			status,
			count: this.counts[status] || 0,
			active: this.filters.status === status,
		}));
		tabs.push({
			status: "all",
			count: tabs.reduce((n, t) => n + t.count, 0),
			active: this.filters.status === "all",
		});
		return tabs;
	}

	open(name) {
		this.selected = name;
		this.gone = null;
		this.rows = this.rows.map((r) => (r.name === name ? Object.assign({}, r, { unread: 0 }) : r));
	}

	// a status set from this page (before the list reloads): the row changes, the counts move, and a row
	// that no longer belongs under the current tab leaves the list. Returns whether it left.
	setRowStatus(name, status, snoozed_until = null) {
		const i = this.rows.findIndex((r) => r.name === name);
		if (i === -1) return false;
		const before = this.rows[i].status;
		if (before !== status) {
			if (before in this.counts) this.counts[before] = Math.max(0, this.counts[before] - 1);
			if (status in this.counts) this.counts[status] += 1;
		}
		const f = this.filters.status;
		if (f !== "all" && f !== status) {
			this.rows = this.rows.slice(0, i).concat(this.rows.slice(i + 1));
			if (name === this.selected) this.gone = i;
			return true;
		}
		this.rows = this.rows.map((r, j) => (j === i ? Object.assign({}, r, { status, snoozed_until }) : r));
		return false;
	}

	// j/k: the conversation after/before the open one (null: nothing to move to)
	neighbour(direction) {
		return wa_inbox_neighbour(
			this.rows.map((r) => r.name),
			this.selected,
			direction,
			this.gone
		);
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

// The name after ("next") or before ("prev") `current` in `names`; nothing open yet: the first. `gone` is
// the index `current` had before it left the list: next is then whatever took its place.
function wa_inbox_neighbour(names, current, direction, gone = null) {
	if (!names.length) return null;
	const i = current == null ? -1 : names.indexOf(current);
	if (i === -1) {
		if (current != null && gone != null) {
			const j = direction === "next" ? Math.min(gone, names.length - 1) : Math.min(gone - 1, names.length - 1);
			return j >= 0 ? names[j] : null;
		}
		return names[0];
	}
	const j = direction === "next" ? i + 1 : i - 1;
	return j >= 0 && j < names.length ? names[j] : null;
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

// A named DOM listener (the page's keydown on document), added at most once and removable.
class WhatsAppDomListener {
	constructor(target, event, handler, capture = false) {
		this.target = target;
		this.event = event;
		this.handler = handler;
		this.capture = capture;
		this.on = false;
	}
	listen() {
		if (this.on) return false;
		this.target.addEventListener(this.event, this.handler, this.capture);
		this.on = true;
		return true;
	}
	unlisten() {
		if (!this.on) return false;
		this.target.removeEventListener(this.event, this.handler, this.capture);
		this.on = false;
		return true;
	}
}

// "I am viewing this conversation" every `every` ms while one is open and the page shown: start() beats at
// once and then on the interval; another conversation restarts it; stop() clears the timer. leave(name) is
// told when a conversation is left (another opened, the page hidden), unless stop(false) (the server refused).
class WhatsAppHeartbeat {
	constructor(beat, every = 20000, timers = null, leave = null) {
		this.beat = beat;
		this.every = every;
		this.timers = timers || {
			setInterval: (fn, ms) => setInterval(fn, ms),
			clearInterval: (id) => clearInterval(id),
		};
		this.leave = leave;
		this.timer = null;
		this.conversation = null;
	}
	start(conversation) {
		if (!conversation) return this.stop();
		if (this.timer != null && this.conversation === conversation) return false;
		this.stop();
		this.conversation = conversation;
		this.timer = this.timers.setInterval(() => this.beat(conversation), this.every);
		this.beat(conversation);
		return true;
	}
	stop(leave = true) {
		if (this.timer == null) return false;
		this.timers.clearInterval(this.timer);
		const left = this.conversation;
		this.timer = null;
		this.conversation = null;
		if (leave && this.leave) this.leave(left);
		return true;
	}
	get running() {
		return this.timer != null;
	}
}

// Calls fn(value) once `wait` ms after the last call(value); cancel() drops a call not made yet.
class WhatsAppDebounce {
	constructor(fn, wait = 300, timers = null) {
		this.fn = fn;
		this.wait = wait;
		this.timers = timers || {
			setTimeout: (f, ms) => setTimeout(f, ms),
			clearTimeout: (id) => clearTimeout(id),
		};
		this.timer = null;
	}
	call(value) {
		this.cancel();
		this.timer = this.timers.setTimeout(() => {
			this.timer = null;
			this.fn(value);
		}, this.wait);
	}
	cancel() {
		if (this.timer == null) return false;
		this.timers.clearTimeout(this.timer);
		this.timer = null;
		return true;
	}
}

// ---- keyboard -------------------------------------------------------------------------------------------

// The page's shortcuts: key -> action (the "?" dialog lists them in this order).
const WA_INBOX_KEYS = {
	j: "next",
	ArrowDown: "next",
	k: "prev",
	ArrowUp: "prev",
	e: "resolve",
	s: "snooze",
	p: "pending",
	o: "reopen",
	r: "reply",
	n: "note",
	a: "assign",
	"?": "help",
};
// actions that need an open conversation
const WA_INBOX_CONVERSATION_ACTIONS = ["resolve", "snooze", "pending", "reopen", "reply", "note", "assign"];
const WA_INBOX_TYPING_TAGS = ["INPUT", "TEXTAREA", "SELECT"];

// A key event ({key, tag, editable, ctrl, meta, alt, composing}) and the page ({conversation, modal, menu})
// -> the action to take, or null to leave the key alone. While typing in a field only Escape counts; with a
// dialog or a menu open, nothing (they handle their own keys); with Ctrl/Cmd/Alt held, nothing (the
// browser's and Frappe's shortcuts).
function wa_inbox_key_action(ev, ctx = {}) {
	if (!ev || !ev.key || ev.composing) return null;
	if (ctx.modal || ctx.menu) return null;
	if (ev.ctrl || ev.meta || ev.alt) return null;
	const typing = ev.editable || WA_INBOX_TYPING_TAGS.includes(String(ev.tag || "").toUpperCase());
	if (ev.key === "Escape") return "escape";
	if (typing) return null;
	const action = Object.prototype.hasOwnProperty.call(WA_INBOX_KEYS, ev.key) ? WA_INBOX_KEYS[ev.key] : null;
	if (!action) return null;
	if (WA_INBOX_CONVERSATION_ACTIONS.includes(action) && !ctx.conversation) return null;
	return action;
}

// A key in the reply or note box: Enter sends (Shift+Enter is a new line); with the quick-reply or mention
// menu open, the arrows move, Enter/Tab pick and Escape closes it.
function wa_inbox_composer_key(ev, { menu = false } = {}) {
	if (!ev || ev.composing) return null;
	if (menu) {
		if (ev.key === "ArrowDown") return "menu_down";
		if (ev.key === "ArrowUp") return "menu_up";
		if ((ev.key === "Enter" && !ev.shift) || (ev.key === "Tab" && !ev.shift)) return "menu_pick";
		if (ev.key === "Escape") return "menu_close";
	}
	if (ev.key === "Enter" && !ev.shift && !ev.ctrl && !ev.meta && !ev.alt) return "send";
	return null;
}

// The highlighted item of a menu of `count` items after `move` (+1/-1), wrapping around.
function wa_inbox_menu_move(index, count, move) {
	if (!count) return -1;
	return (((index + move) % count) + count) % count;
}

// ---- "/" quick replies and "@" mentions -------------------------------------------------------------------

// The token being typed at `caret` when it starts with `char` ("/" or "@") at the start of the text or after
// a space: {query (what follows the char, up to the caret), start, end (the token's end, past the caret)}.
function wa_inbox_trigger(text, caret, char) {
	text = text == null ? "" : String(text);
	if (caret == null) caret = text.length;
	caret = Math.max(0, Math.min(caret, text.length));
	let start = caret - 1;
	while (start >= 0 && !/\s/.test(text[start]) && text[start] !== char) start -= 1;
	if (start < 0 || text[start] !== char) return null;
	if (start > 0 && !/\s/.test(text[start - 1])) return null;
	const query = text.slice(start + 1, caret);
	if (query.length > 40) return null;
	let end = caret;
	while (end < text.length && !/\s/.test(text[end])) end += 1;
	return { query, start, end };
}

// The text with the trigger's token replaced by `insert`, and where the caret goes (after the insert).
function wa_inbox_replace_token(text, trigger, insert) {
	text = text == null ? "" : String(text);
	const before = text.slice(0, trigger.start);
	const after = text.slice(trigger.end);
	return { text: before + insert + after, caret: before.length + insert.length };
}

// The users mentioned in a note: those picked from the menu whose "@label" is still in the text, once each.
function wa_inbox_mentions(text, picked) {
	text = text == null ? "" : String(text);
	const users = [];
	for (const p of picked || []) {
		if (p && p.user && !users.includes(p.user) && text.includes("@" + p.label)) users.push(p.user);
	}
	return users;
}

// ---- files -----------------------------------------------------------------------------------------------

// How WhatsApp shows a file, as the server decides it (inbox/files.py): the name's extension first, the
// declared type when the name says nothing; only these types are an image, a sticker, audio or video, any
// other goes as a document (a GIF, a HEIC photo, a WAV).
const WA_INBOX_KIND_TYPES = {
	image: ["image/jpeg", "image/jpg", "image/pjpeg", "image/png", "image/x-png"],
	sticker: ["image/webp"],
	audio: [
		"audio/aac", "audio/x-aac", "audio/aacp", "audio/amr", "audio/mpeg", "audio/mp3", "audio/mpeg3",
		"audio/x-mp3", "audio/x-mpeg", "audio/mp4", "audio/m4a", "audio/x-m4a", "audio/ogg", "audio/opus",
	],
	video: ["video/mp4", "video/x-m4v", "video/3gpp"],
};
const WA_INBOX_EXT_KIND = {
	jpg: "image", jpeg: "image", jpe: "image", jfif: "image", png: "image",
	webp: "sticker",
	aac: "audio", amr: "audio", mp3: "audio", m4a: "audio", ogg: "audio", oga: "audio", opus: "audio",
	mp4: "video", m4v: "video", "3gp": "video",
};
// extensions the server knows as something WhatsApp sends as a document, whatever type the browser declares
const WA_INBOX_EXT_DOCUMENT = (
	"gif bmp tif tiff heic heif avif svg wav flac mov webm mkv avi pdf doc xls ppt docx xlsx pptx odt ods odp " +
	"epub zip rtf txt csv tsv md html htm xml json vcf ics"
).split(" ");

function wa_inbox_extension(name) {
	const base = String(name || "").split(/[\\/]/).pop();
	const dot = base.lastIndexOf(".");
	return dot > 0 ? base.slice(dot + 1).toLowerCase() : "";
}

// What WhatsApp would send a file as: image (JPEG/PNG), sticker (WebP), audio, video or document.
function wa_inbox_file_kind(file) {
	const ext = wa_inbox_extension(file && file.name);
	if (WA_INBOX_EXT_KIND[ext]) return WA_INBOX_EXT_KIND[ext];
	if (WA_INBOX_EXT_DOCUMENT.includes(ext)) return "document";
	const type = String((file && file.type) || "")
		.toLowerCase()
		.split(";")[0]
		.trim();
	for (const kind of Object.keys(WA_INBOX_KIND_TYPES)) {
		if (WA_INBOX_KIND_TYPES[kind].includes(type)) return kind;
	}
	return "document";
}

// The check before uploading, with the server's limits ({image: bytes, ..., blocked_extensions: [...]}):
// {ok: true, kind} or {ok: false, kind, reason: "empty" | "blocked" | "too_big", limit}.
function wa_inbox_check_file(file, limits) {
	limits = limits || {};
	const kind = wa_inbox_file_kind(file);
	const blocked = (limits.blocked_extensions || []).map((x) => String(x).toLowerCase().replace(/^\./, ""));
	const size = Number(file && file.size) || 0;
	if (size <= 0) return { ok: false, kind, reason: "empty" };
	const ext = wa_inbox_extension(file && file.name);
	if (ext && blocked.includes(ext)) return { ok: false, kind, reason: "blocked" };
	const limit = Number(limits[kind]) || 0;
	if (limit && size > limit) return { ok: false, kind, reason: "too_big", limit };
	return { ok: true, kind };
}

// 2048 -> "2 KB", 5242880 -> "5 MB", 1536000 -> "1.5 MB"
function wa_inbox_human_size(bytes) {
	let n = Math.max(0, Number(bytes) || 0);
	const units = ["B", "KB", "MB", "GB"];
	let u = 0;
	while (n >= 1024 && u < units.length - 1) {
		n /= 1024;
		u += 1;
	}
	const shown = u === 0 ? String(Math.round(n)) : String(Math.round(n * 10) / 10);
	return `${shown} ${units[u]}`;
}

// The messages of a failed Frappe call's JSON body (_server_messages, else the exception's text), as text
// still to be escaped; [] when there is nothing to show (the page says something of its own).
function wa_inbox_server_messages(body) {
	const out = [];
	if (!body || typeof body !== "object") return out;
	if (body._server_messages) {
		let list = [];
		try {
			list = JSON.parse(body._server_messages);
		} catch (e) {
			list = [];
		}
		for (const item of Array.isArray(list) ? list : []) {
			let m = item;
			try {
				m = JSON.parse(item);
			} catch (e) {
				m = item;
			}
			const text = m && typeof m === "object" ? m.message : m;
			if (text != null && String(text).trim()) out.push(String(text));
		}
	}
	if (!out.length && typeof body.exception === "string") {
		const i = body.exception.indexOf(": ");
		const text = i === -1 ? "" : body.exception.slice(i + 2).trim();
		if (text) out.push(text);
	}
	return out;
}

// ---- thread -----------------------------------------------------------------------------------------------

// Messages and private notes in one timeline by creation (a note and a message at the same instant: the
// message first). While older messages are not loaded, notes older than the first one shown wait for them.
function wa_inbox_timeline(messages, notes, { more = false } = {}) {
	messages = messages || [];
	notes = notes || [];
	const first = messages.length ? messages[0].creation : null;
	const items = messages.map((m, i) => ({ kind: "message", at: m.creation || "", order: i, item: m }));
	for (const [i, n] of notes.entries()) {
		if (more && first && (n.creation || "") < first) continue;
		items.push({ kind: "note", at: n.creation || "", order: messages.length + i, item: n });
	}
	items.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.order - b.order));
	return items;
}

// A thread answer merged into what is shown: an older page goes before it; a reload of the newest keeps the
// older pages already loaded (a message in both: the answer's copy, with its new status). A reload that does
// not reach what is shown (more came meanwhile than a page holds) replaces it rather than leave a gap.
function wa_inbox_merge_thread(shown, page, { older = false } = {}) {
	page = page || {};
	const messages = page.messages || [];
	const notes = page.notes || [];
	if (!shown) return { messages: messages.slice(), notes: notes.slice(), more: !!page.more };
	const had = shown.messages || [];
	const first = messages.length ? messages[0].creation || "" : null;
	let more = !!page.more;
	if (!older && first != null) {
		const newest = had.length ? had[had.length - 1].creation || "" : null;
		if (page.more && newest != null && newest < first) {
			return { messages: messages.slice(), notes: notes.slice(), more: true };
		}
		if (had.some((m) => (m.creation || "") < first)) more = !!shown.more;
	} else if (!older) {
		more = !!shown.more;
	}
	const union = (a, b) => {
		const byName = new Map();
		for (const x of a) byName.set(x.name, x);
		for (const x of b) byName.set(x.name, x);
		return Array.from(byName.values()).sort((x, y) =>
			(x.creation || "") < (y.creation || "") ? -1 : (x.creation || "") > (y.creation || "") ? 1 : 0
		);
	};
	return { messages: union(had, messages), notes: union(shown.notes || [], notes), more };
}

// A link the page may put in href/src: a path on this site or http(s); anything else (javascript:, //host) null.
function wa_inbox_safe_url(url) {
	if (url == null) return null;
	const s = String(url).trim();
	if (/^\/(?![\/\\])/.test(s) || /^https?:\/\//i.test(s)) return s;
	return null;
}

// Who else is on the conversation: viewers as {user, full_name} or user ids (the realtime event), without
// me and without repeats: {names (at most `max`), more (how many not named)}.
function wa_inbox_viewers(viewers, me, nameOf = null, max = 3) {
	const names = [];
	const seen = new Set();
	for (const v of viewers || []) {
		const user = v && typeof v === "object" ? v.user : v;
		if (!user || user === me || seen.has(user)) continue;
		seen.add(user);
		const name = (v && typeof v === "object" && v.full_name) || (nameOf && nameOf(user)) || user;
		names.push(String(name));
	}
	return { names: names.slice(0, max), more: Math.max(0, names.length - max) };
}

// ---- message search ----------------------------------------------------------------------------------------

// The server searches words of three letters or digits and more (each a prefix); shorter ones are not in the
// full-text index, so a search needs one such word and only such words are marked.
const WA_INBOX_SEARCH_WORD = /[\p{L}\p{N}]{3,}/gu;

function wa_inbox_search_words(text) {
	return String(text == null ? "" : text).match(WA_INBOX_SEARCH_WORD) || [];
}

function wa_inbox_search_ready(text) {
	return wa_inbox_search_words(text).length > 0;
}

// The excerpt as HTML: each part escaped with `esc`, the searched words (case-insensitive) wrapped in <mark>.
// Matching runs on the plain text and escaping on each part, so a word can never split an entity or a tag.
function wa_inbox_highlight(text, query, esc) {
	text = text == null ? "" : String(text);
	const words = wa_inbox_search_words(query).map((w) => w.toLowerCase());
	const lower = text.toLowerCase();
	if (lower.length !== text.length) return esc(text); // a letter whose lower case is longer: no marks, safely
	const hit = new Array(text.length).fill(false);
	for (const w of words) {
		let i = lower.indexOf(w);
		while (i !== -1) {
			for (let j = i; j < i + w.length; j++) hit[j] = true;
			i = lower.indexOf(w, i + w.length);
		}
	}
	let html = "";
	let i = 0;
	while (i < text.length) {
		let j = i;
		while (j < text.length && hit[j] === hit[i]) j += 1;
		const part = esc(text.slice(i, j));
		html += hit[i] ? `<mark>${part}</mark>` : part;
		i = j;
	}
	return html;
}

// A search result -> what to open: the conversation, around the message found.
function wa_inbox_result_target(result) {
	if (!result || !result.conversation) return null;
	return { conversation: result.conversation, around: result.message || null };
}

// ---- CRM panel ----------------------------------------------------------------------------------------------

// Where the Lead or Deal opens in Frappe CRM (anything else: its desk form).
function wa_inbox_reference_url(ref) {
	if (!ref || !ref.name) return null;
	const name = encodeURIComponent(ref.name);
	// CRM opens its WhatsApp tab on #whatsapp: the whole conversation, as in the inbox
	if (ref.doctype === "CRM Lead") return `/crm/leads/${name}#whatsapp`;
	if (ref.doctype === "CRM Deal") return `/crm/deals/${name}#whatsapp`;
	const slug = String(ref.doctype || "")
		.toLowerCase()
		.replace(/[^a-z0-9]+/g, "-");
	return `/app/${slug}/${name}`;
}

if (typeof module !== "undefined") {
	module.exports = {
		WhatsAppInboxState,
		WhatsAppOneLoad,
		WhatsAppRealtimeHandler,
		WhatsAppDomListener,
		WhatsAppHeartbeat,
		WhatsAppDebounce,
		WA_INBOX_STATUSES,
		WA_INBOX_KEYS,
		wa_inbox_neighbour,
		wa_inbox_key_action,
		wa_inbox_composer_key,
		wa_inbox_menu_move,
		wa_inbox_trigger,
		wa_inbox_replace_token,
		wa_inbox_mentions,
		wa_inbox_extension,
		wa_inbox_file_kind,
		wa_inbox_check_file,
		wa_inbox_human_size,
		wa_inbox_server_messages,
		wa_inbox_timeline,
		wa_inbox_merge_thread,
		wa_inbox_safe_url,
		wa_inbox_viewers,
		wa_inbox_search_words,
		wa_inbox_search_ready,
		wa_inbox_highlight,
		wa_inbox_result_target,
		wa_inbox_reference_url,
	};
}
