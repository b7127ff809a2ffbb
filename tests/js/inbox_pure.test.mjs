// The inbox page's pure pieces (public/js/whatsapp_inbox_state.js): status tabs, keyboard, "/" and "@",
// file checks, the thread's timeline, viewers, message search, timers. `node --test tests/js/*.test.mjs`
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const m = require("../../whatsapp_crm/public/js/whatsapp_inbox_state.js");
const { WhatsAppInboxState } = m;

// an escaper like frappe.utils.escape_html
const esc = (s) =>
	String(s).replace(/[&<>"'`=]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#x60;", "=": "&#x3D;" })[c]);

// a fake clock for setInterval/setTimeout: run(ms) fires what falls due
function clock() {
	let now = 0;
	let seq = 0;
	const timers = new Map();
	const add = (fn, ms, every) => {
		const id = ++seq;
		timers.set(id, { at: now + ms, fn, every });
		return id;
	};
	return {
		setInterval: (fn, ms) => add(fn, ms, ms),
		clearInterval: (id) => timers.delete(id),
		setTimeout: (fn, ms) => add(fn, ms, 0),
		clearTimeout: (id) => timers.delete(id),
		size: () => timers.size,
		run(ms) {
			const end = now + ms;
			for (;;) {
				const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
				if (!due) break;
				const [id, t] = due;
				now = t.at;
				if (t.every) t.at += t.every;
				else timers.delete(id);
				t.fn();
			}
			now = end;
		},
	};
}

const loaded = (rows, counts) => {
	const s = new WhatsAppInboxState();
	s.beginLoad();
	s.endLoad({ rows, more: false, counts });
	return s;
};

// ---- status tabs ------------------------------------------------------------------------------------------

test("the list asks for Open by default, and the tabs carry the counts with All as their sum", () => {
	const s = loaded([], { Open: 4, Pending: 2, Snoozed: 1, Resolved: 30 });
	assert.equal(s.filters.status, "Open");
	const tabs = s.statusTabs();
	assert.deepEqual(
		tabs.map((t) => [t.status, t.count, t.active]),
		[
			["Open", 4, true],
			["Pending", 2, false],
			["Snoozed", 1, false],
			["Resolved", 30, false],
			["all", 37, false],
		]
	);
	assert.equal(s.setFilter("status", "all"), true);
	assert.equal(s.statusTabs().find((t) => t.active).status, "all");
});

test("counts that are missing or not numbers count as 0; a page without counts keeps the last ones", () => {
	const s = loaded([], { Open: "3", Pending: null });
	assert.deepEqual(s.counts, { Open: 3, Pending: 0, Snoozed: 0, Resolved: 0 });
	s.beginLoad();
	s.endLoad({ rows: [], more: false });
	assert.equal(s.counts.Open, 3);
});

test("resolving under the Open tab takes the row out and moves the counts; under All it stays", () => {
	const rows = [
		{ name: "a", status: "Open" },
		{ name: "b", status: "Open" },
		{ name: "c", status: "Open" },
	];
	const s = loaded(rows, { Open: 3, Pending: 0, Snoozed: 0, Resolved: 0 });
	s.open("b");
	assert.equal(s.setRowStatus("b", "Resolved"), true);
	assert.deepEqual(s.rows.map((r) => r.name), ["a", "c"]);
	assert.equal(s.counts.Open, 2);
	assert.equal(s.counts.Resolved, 1);
	// j goes on to what took b's place, k to what was before it
	assert.equal(s.neighbour("next"), "c");
	assert.equal(s.neighbour("prev"), "a");

	const all = loaded(rows.map((r) => Object.assign({}, r)), { Open: 3 });
	all.setFilter("status", "all");
	assert.equal(all.setRowStatus("a", "Snoozed", "2030-01-01 09:00:00"), false);
	assert.equal(all.rows[0].status, "Snoozed");
	assert.equal(all.rows[0].snoozed_until, "2030-01-01 09:00:00");
	assert.equal(all.setRowStatus("zzz", "Open"), false); // not in the list: nothing to do
});

// ---- next / previous ----------------------------------------------------------------------------------------

test("j/k move through the list and stop at its ends; nothing open yet: the first", () => {
	const s = loaded([{ name: "a" }, { name: "b" }, { name: "c" }]);
	assert.equal(s.neighbour("next"), "a");
	assert.equal(s.neighbour("prev"), "a");
	s.open("b");
	assert.equal(s.neighbour("next"), "c");
	assert.equal(s.neighbour("prev"), "a");
	s.open("c");
	assert.equal(s.neighbour("next"), null);
	assert.equal(m.wa_inbox_neighbour([], "a", "next"), null);
	// the last one left: next stays on the (new) last
	assert.equal(m.wa_inbox_neighbour(["a", "b"], "c", "next", 2), "b");
	assert.equal(m.wa_inbox_neighbour(["b"], "a", "prev", 0), null);
});

// ---- keyboard --------------------------------------------------------------------------------------------

test("the keyboard map: each key to its action with a conversation open", () => {
	const ctx = { conversation: true };
	const key = (k) => m.wa_inbox_key_action({ key: k, tag: "BODY" }, ctx);
	assert.equal(key("j"), "next");
	assert.equal(key("ArrowDown"), "next");
	assert.equal(key("k"), "prev");
	assert.equal(key("ArrowUp"), "prev");
	assert.equal(key("e"), "resolve");
	assert.equal(key("s"), "snooze");
	assert.equal(key("p"), "pending");
	assert.equal(key("o"), "reopen");
	assert.equal(key("r"), "reply");
	assert.equal(key("n"), "note");
	assert.equal(key("a"), "assign");
	assert.equal(key("?"), "help");
	assert.equal(key("x"), null);
	assert.equal(key("J"), null); // Shift+J is not j
});

test("typing in a field only Escape counts; Ctrl/Cmd/Alt, dialogs and menus leave keys alone", () => {
	const ctx = { conversation: true };
	for (const tag of ["INPUT", "TEXTAREA", "SELECT", "input"]) {
		assert.equal(m.wa_inbox_key_action({ key: "e", tag }, ctx), null);
	}
	assert.equal(m.wa_inbox_key_action({ key: "j", tag: "DIV", editable: true }, ctx), null);
	assert.equal(m.wa_inbox_key_action({ key: "Escape", tag: "TEXTAREA" }, ctx), "escape");
	assert.equal(m.wa_inbox_key_action({ key: "k", tag: "BODY", ctrl: true }, ctx), null);
	assert.equal(m.wa_inbox_key_action({ key: "k", tag: "BODY", meta: true }, ctx), null);
	assert.equal(m.wa_inbox_key_action({ key: "s", tag: "BODY", alt: true }, ctx), null);
	assert.equal(m.wa_inbox_key_action({ key: "j", tag: "BODY" }, { conversation: true, modal: true }), null);
	assert.equal(m.wa_inbox_key_action({ key: "Escape", tag: "BODY" }, { menu: true }), null);
	assert.equal(m.wa_inbox_key_action({ key: "j", tag: "BODY", composing: true }, ctx), null);
	assert.equal(m.wa_inbox_key_action(null, ctx), null);
});

test("without an open conversation only moving and the shortcut list work", () => {
	const key = (k) => m.wa_inbox_key_action({ key: k, tag: "BODY" }, { conversation: false });
	assert.equal(key("j"), "next");
	assert.equal(key("?"), "help");
	for (const k of ["e", "s", "p", "o", "r", "n", "a"]) assert.equal(key(k), null, k);
});

test("the reply box: Enter sends, Shift+Enter is a new line; with the menu open keys drive it", () => {
	const k = m.wa_inbox_composer_key;
	assert.equal(k({ key: "Enter" }), "send");
	assert.equal(k({ key: "Enter", shift: true }), null);
	assert.equal(k({ key: "Enter", composing: true }), null);
	assert.equal(k({ key: "Tab" }), null);
	assert.equal(k({ key: "ArrowDown" }, { menu: true }), "menu_down");
	assert.equal(k({ key: "ArrowUp" }, { menu: true }), "menu_up");
	assert.equal(k({ key: "Enter" }, { menu: true }), "menu_pick");
	assert.equal(k({ key: "Tab" }, { menu: true }), "menu_pick");
	assert.equal(k({ key: "Escape" }, { menu: true }), "menu_close");
	assert.equal(k({ key: "a" }, { menu: true }), null);
	assert.equal(m.wa_inbox_menu_move(0, 3, -1), 2);
	assert.equal(m.wa_inbox_menu_move(2, 3, 1), 0);
	assert.equal(m.wa_inbox_menu_move(0, 0, 1), -1);
});

// ---- "/" quick replies and "@" mentions ------------------------------------------------------------------------

test("'/co' at the caret asks for quick replies starting 'co'; a slash inside a word or a URL does not", () => {
	assert.deepEqual(m.wa_inbox_trigger("/co", 3, "/"), { query: "co", start: 0, end: 3 });
	assert.deepEqual(m.wa_inbox_trigger("Hi /co", 6, "/"), { query: "co", start: 3, end: 6 });
	assert.deepEqual(m.wa_inbox_trigger("/", 1, "/"), { query: "", start: 0, end: 1 });
	assert.deepEqual(m.wa_inbox_trigger("Hi\n/price", 9, "/"), { query: "price", start: 3, end: 9 });
	assert.equal(m.wa_inbox_trigger("and/or", 6, "/"), null);
	assert.equal(m.wa_inbox_trigger("see https://x.io/a", 18, "/"), null);
	assert.equal(m.wa_inbox_trigger("/co done", 8, "/"), null); // the caret is past the token
	assert.equal(m.wa_inbox_trigger("", 0, "/"), null);
	// the caret inside the token: the query is what is before it, the token runs to its end
	assert.deepEqual(m.wa_inbox_trigger("/code", 3, "/"), { query: "co", start: 0, end: 5 });
});

test("choosing a quick reply replaces the '/co' token with its text and puts the caret after it", () => {
	const text = "Hello /co and more";
	const t = m.wa_inbox_trigger(text, 9, "/");
	const out = m.wa_inbox_replace_token(text, t, "Our price is 10 EUR");
	assert.equal(out.text, "Hello Our price is 10 EUR and more");
	assert.equal(out.caret, "Hello Our price is 10 EUR".length);
});

test("@ in the note box offers users; picked mentions still in the text are sent, once each", () => {
	assert.deepEqual(m.wa_inbox_trigger("ask @an", 7, "@"), { query: "an", start: 4, end: 7 });
	assert.equal(m.wa_inbox_trigger("mail ana@example.com", 20, "@"), null);
	const t = m.wa_inbox_trigger("ask @an", 7, "@");
	const out = m.wa_inbox_replace_token("ask @an", t, "@Ana Ruiz ");
	assert.equal(out.text, "ask @Ana Ruiz ");
	const picked = [
		{ user: "ana@x.com", label: "Ana Ruiz" },
		{ user: "bo@x.com", label: "Bo" },
		{ user: "ana@x.com", label: "Ana Ruiz" },
	];
	assert.deepEqual(m.wa_inbox_mentions("@Ana Ruiz please call", picked), ["ana@x.com"]);
	assert.deepEqual(m.wa_inbox_mentions("@Ana Ruiz and @Bo", picked), ["ana@x.com", "bo@x.com"]);
	assert.deepEqual(m.wa_inbox_mentions("", picked), []);
});

// ---- files ---------------------------------------------------------------------------------------------------

const limits = {
	image: 5 * 1024 * 1024,
	sticker: 500 * 1024,
	audio: 16 * 1024 * 1024,
	video: 16 * 1024 * 1024,
	document: 100 * 1024 * 1024,
	blocked_extensions: ["exe", ".BAT", "js"],
};

test("a file's kind as the server decides it: the extension first, else the declared type", () => {
	assert.equal(m.wa_inbox_file_kind({ name: "a.png", type: "image/png" }), "image");
	assert.equal(m.wa_inbox_file_kind({ name: "a.jpg", type: "image/jpeg" }), "image");
	assert.equal(m.wa_inbox_file_kind({ name: "s.webp", type: "image/webp" }), "sticker");
	assert.equal(m.wa_inbox_file_kind({ name: "v.mp4", type: "video/mp4" }), "video");
	assert.equal(m.wa_inbox_file_kind({ name: "n.ogg", type: "audio/ogg" }), "audio");
	assert.equal(m.wa_inbox_file_kind({ name: "q.pdf", type: "application/pdf" }), "document");
	assert.equal(m.wa_inbox_file_kind({ name: "g.gif", type: "image/gif" }), "document");
	// only the types WhatsApp plays go as audio or video: a WAV or a QuickTime film is a document
	assert.equal(m.wa_inbox_file_kind({ name: "r.wav", type: "audio/wav" }), "document");
	assert.equal(m.wa_inbox_file_kind({ name: "f.mov", type: "video/quicktime" }), "document");
	// the name wins over the declared type; the type speaks when the name says nothing
	assert.equal(m.wa_inbox_file_kind({ name: "scan.pdf", type: "image/png" }), "document");
	assert.equal(m.wa_inbox_file_kind({ name: "PHOTO.JPG", type: "" }), "image");
	assert.equal(m.wa_inbox_file_kind({ name: "voice.opus", type: "" }), "audio");
	assert.equal(m.wa_inbox_file_kind({ name: "pasted", type: "image/png" }), "image");
	assert.equal(m.wa_inbox_file_kind({ name: "clip", type: "audio/ogg; codecs=opus" }), "audio");
	assert.equal(m.wa_inbox_file_kind({ name: "noext", type: "" }), "document");
	assert.equal(m.wa_inbox_extension(".bashrc"), "");
	assert.equal(m.wa_inbox_extension("C:\\docs\\x.PDF"), "pdf");
});

test("the check before uploading: blocked, empty, too big for its kind, or fine", () => {
	assert.deepEqual(m.wa_inbox_check_file({ name: "x.exe", size: 10, type: "application/x-msdownload" }, limits), {
		ok: false,
		kind: "document",
		reason: "blocked",
	});
	assert.equal(m.wa_inbox_check_file({ name: "run.bat", size: 10, type: "" }, limits).reason, "blocked");
	assert.equal(m.wa_inbox_check_file({ name: "a.pdf", size: 0, type: "application/pdf" }, limits).reason, "empty");
	const big = m.wa_inbox_check_file({ name: "p.png", size: 6 * 1024 * 1024, type: "image/png" }, limits);
	assert.deepEqual(big, { ok: false, kind: "image", reason: "too_big", limit: 5 * 1024 * 1024 });
	// the same size is fine as a document
	assert.deepEqual(m.wa_inbox_check_file({ name: "p.pdf", size: 6 * 1024 * 1024, type: "application/pdf" }, limits), {
		ok: true,
		kind: "document",
	});
	assert.equal(m.wa_inbox_check_file({ name: "s.webp", size: 600 * 1024, type: "image/webp" }, limits).reason, "too_big");
	// no limits from the server (yet): only empty and nothing else
	assert.equal(m.wa_inbox_check_file({ name: "a.exe", size: 1, type: "" }, null).ok, true);
});

test("sizes for people", () => {
	assert.equal(m.wa_inbox_human_size(0), "0 B");
	assert.equal(m.wa_inbox_human_size(512), "512 B");
	assert.equal(m.wa_inbox_human_size(2048), "2 KB");
	assert.equal(m.wa_inbox_human_size(5242880), "5 MB");
	assert.equal(m.wa_inbox_human_size(1572864), "1.5 MB");
	assert.equal(m.wa_inbox_human_size(3 * 1024 ** 3), "3 GB");
	assert.equal(m.wa_inbox_human_size(null), "0 B");
});

test("an upload's refusal: the server's messages, else the exception's text, else nothing", () => {
	const body = {
		exc: '["Traceback ..."]',
		_server_messages: JSON.stringify([JSON.stringify({ message: "File too large", title: "Not sent" }), JSON.stringify("plain")]),
	};
	assert.deepEqual(m.wa_inbox_server_messages(body), ["File too large", "plain"]);
	assert.deepEqual(m.wa_inbox_server_messages({ exception: "frappe.exceptions.ValidationError: Type not allowed" }), [
		"Type not allowed",
	]);
	assert.deepEqual(m.wa_inbox_server_messages({ exc: '["Traceback"]' }), []); // never a traceback
	assert.deepEqual(m.wa_inbox_server_messages({ _server_messages: "not json" }), []);
	assert.deepEqual(m.wa_inbox_server_messages(null), []);
});

// ---- the thread -----------------------------------------------------------------------------------------------

test("notes sit among the messages by time; notes before the first loaded message wait for older ones", () => {
	const messages = [
		{ name: "m1", creation: "2026-01-01 10:00:00" },
		{ name: "m2", creation: "2026-01-01 11:00:00" },
	];
	const notes = [
		{ name: "n0", creation: "2026-01-01 09:00:00" },
		{ name: "n1", creation: "2026-01-01 10:30:00" },
		{ name: "n2", creation: "2026-01-01 11:00:00" },
	];
	const names = (items) => items.map((i) => i.item.name);
	assert.deepEqual(names(m.wa_inbox_timeline(messages, notes)), ["n0", "m1", "n1", "m2", "n2"]);
	assert.deepEqual(names(m.wa_inbox_timeline(messages, notes, { more: true })), ["m1", "n1", "m2", "n2"]);
	assert.equal(m.wa_inbox_timeline(messages, notes)[1].kind, "message");
	assert.deepEqual(names(m.wa_inbox_timeline([], notes, { more: true })), ["n0", "n1", "n2"]);
});

test("merging thread pages: older go first, a reload keeps them, a gap replaces", () => {
	const msg = (name, at, status = "sent") => ({ name, creation: `2026-01-01 ${at}`, status });
	const shown = { messages: [msg("b", "10:00"), msg("c", "11:00")], notes: [], more: true };
	const older = m.wa_inbox_merge_thread(shown, { messages: [msg("a", "09:00")], notes: [], more: false }, { older: true });
	assert.deepEqual(older.messages.map((x) => x.name), ["a", "b", "c"]);
	assert.equal(older.more, false);
	// a reload of the newest page (c's status moved on, d is new) keeps a and b
	const reload = m.wa_inbox_merge_thread(
		older,
		{ messages: [msg("c", "11:00", "read"), msg("d", "12:00")], notes: [{ name: "n", creation: "2026-01-01 11:30" }], more: true }
	);
	assert.deepEqual(reload.messages.map((x) => x.name), ["a", "b", "c", "d"]);
	assert.equal(reload.messages[2].status, "read");
	assert.equal(reload.more, false); // what is shown reaches the start
	assert.equal(reload.notes.length, 1);
	// more came than a page holds: the newest page alone, nothing in between pretended
	const gap = m.wa_inbox_merge_thread(shown, { messages: [msg("x", "15:00"), msg("y", "16:00")], notes: [], more: true });
	assert.deepEqual(gap.messages.map((x) => x.name), ["x", "y"]);
	assert.deepEqual(m.wa_inbox_merge_thread(null, { messages: [msg("a", "1")] }).messages.length, 1);
});

test("only site paths and http(s) go in href/src", () => {
	assert.equal(m.wa_inbox_safe_url("/api/method/whatsapp_crm.api.inbox.media?message=M1"), "/api/method/whatsapp_crm.api.inbox.media?message=M1");
	assert.equal(m.wa_inbox_safe_url("https://cdn.example.com/a.png"), "https://cdn.example.com/a.png");
	assert.equal(m.wa_inbox_safe_url("javascript:alert(1)"), null);
	assert.equal(m.wa_inbox_safe_url("//evil.example/a"), null);
	assert.equal(m.wa_inbox_safe_url("/\\evil.example/a"), null);
	assert.equal(m.wa_inbox_safe_url("data:text/html,x"), null);
	assert.equal(m.wa_inbox_safe_url(null), null);
});

test("'Also here': others only, once each, named, at most three and a count", () => {
	const v = m.wa_inbox_viewers(
		[{ user: "me@x", full_name: "Me" }, { user: "ana@x", full_name: "Ana" }, "bo@x", "ana@x", "cy@x", "di@x"],
		"me@x",
		(u) => ({ "bo@x": "Bo" })[u]
	);
	assert.deepEqual(v, { names: ["Ana", "Bo", "cy@x"], more: 1 });
	assert.deepEqual(m.wa_inbox_viewers(["me@x"], "me@x"), { names: [], more: 0 });
	assert.deepEqual(m.wa_inbox_viewers(null, "me@x"), { names: [], more: 0 });
});

// ---- message search -------------------------------------------------------------------------------------------

test("message search needs a word of three letters or digits, as the server does", () => {
	assert.equal(m.wa_inbox_search_ready("ab"), false);
	assert.equal(m.wa_inbox_search_ready("  ab  "), false);
	assert.equal(m.wa_inbox_search_ready("a b c"), false); // five characters, no word the index holds
	assert.equal(m.wa_inbox_search_ready("..."), false);
	assert.equal(m.wa_inbox_search_ready("abc"), true);
	assert.equal(m.wa_inbox_search_ready("año"), true);
	assert.equal(m.wa_inbox_search_ready("order 123"), true);
	assert.equal(m.wa_inbox_search_ready(null), false);
	assert.deepEqual(m.wa_inbox_search_words("the price, 10 €!"), ["the", "price"]);
});

test("the excerpt is escaped, then the searched words are marked, never inside an entity", () => {
	assert.equal(
		m.wa_inbox_highlight("Price is <b>10</b> & more", "price more", esc),
		"<mark>Price</mark> is &lt;b&gt;10&lt;/b&gt; &amp; <mark>more</mark>"
	);
	// "amp" is in the entity of the escaped text, not in the text: nothing is marked
	assert.equal(m.wa_inbox_highlight("a & b < c", "amp", esc), "a &amp; b &lt; c");
	// markup typed in the search is no word; the text around a word stays escaped
	assert.equal(m.wa_inbox_highlight("x <img> y", "<img>", esc), "x &lt;<mark>img</mark>&gt; y");
	// words are prefixes: "12345" marks the start of "123456"; overlapping words make one mark
	assert.equal(m.wa_inbox_highlight("order 123456", "12345", esc), "order <mark>12345</mark>6");
	assert.equal(m.wa_inbox_highlight("recharge", "rech charge", esc), "<mark>recharge</mark>");
	assert.equal(m.wa_inbox_highlight("Año nuevo", "AÑO", esc), "<mark>Año</mark> nuevo");
	assert.equal(m.wa_inbox_highlight("İstanbul <3", "ist", esc), "İstanbul &lt;3"); // İ lowers to two characters
	assert.equal(m.wa_inbox_highlight("abc", "", esc), "abc");
	assert.equal(m.wa_inbox_highlight(null, "xyz", esc), "");
});

test("a search result opens its conversation at the message found", () => {
	assert.deepEqual(m.wa_inbox_result_target({ message: "MSG-9", conversation: "CONV-1", title: "Ana" }), {
		conversation: "CONV-1",
		around: "MSG-9",
	});
	assert.equal(m.wa_inbox_result_target({ message: "MSG-9" }), null);
});

test("a Lead or Deal opens in Frappe CRM, its name encoded; anything else in the desk", () => {
	assert.equal(m.wa_inbox_reference_url({ doctype: "CRM Lead", name: "CRM-LEAD-2026-00001" }), "/crm/leads/CRM-LEAD-2026-00001#whatsapp");
	assert.equal(m.wa_inbox_reference_url({ doctype: "CRM Deal", name: "a/b ?c" }), "/crm/deals/a%2Fb%20%3Fc#whatsapp");
	assert.equal(m.wa_inbox_reference_url({ doctype: "Contact", name: "Ana Ruiz" }), "/app/contact/Ana%20Ruiz");
	assert.equal(m.wa_inbox_reference_url(null), null);
});

// ---- timers and listeners ---------------------------------------------------------------------------------------

test("the viewing heartbeat beats at once and every 20 s; another conversation or stop clears it", () => {
	const c = clock();
	const beats = [];
	const h = new m.WhatsAppHeartbeat((name) => beats.push(name), 20000, c);
	assert.equal(h.start("A"), true);
	assert.deepEqual(beats, ["A"]);
	c.run(45000);
	assert.deepEqual(beats, ["A", "A", "A"]);
	assert.equal(h.start("A"), false); // the same one: no second timer
	assert.equal(c.size(), 1);
	h.start("B");
	assert.equal(c.size(), 1); // A's timer is gone
	c.run(20000);
	assert.deepEqual(beats.slice(3), ["B", "B"]);
	assert.equal(h.stop(), true);
	assert.equal(c.size(), 0);
	c.run(60000);
	assert.equal(beats.length, 5);
	assert.equal(h.stop(), false);
	assert.equal(h.start(null), false);
	assert.equal(h.running, false);
});

test("leaving a conversation says so: switching or stopping, not when the server refused", () => {
	const c = clock();
	const left = [];
	const h = new m.WhatsAppHeartbeat(() => {}, 20000, c, (name) => left.push(name));
	h.start("A");
	h.start("A");
	assert.deepEqual(left, []);
	h.start("B");
	assert.deepEqual(left, ["A"]);
	h.stop();
	assert.deepEqual(left, ["A", "B"]);
	h.start("C");
	h.stop(false); // viewing() failed: nothing to tell
	assert.deepEqual(left, ["A", "B"]);
	assert.equal(c.size(), 0);
});

test("the search waits 300 ms after the last key, and a cancelled one never runs", () => {
	const c = clock();
	const calls = [];
	const d = new m.WhatsAppDebounce((v) => calls.push(v), 300, c);
	d.call("pri");
	c.run(200);
	d.call("pric");
	c.run(200);
	assert.deepEqual(calls, []);
	c.run(100);
	assert.deepEqual(calls, ["pric"]);
	d.call("price");
	assert.equal(d.cancel(), true);
	c.run(1000);
	assert.deepEqual(calls, ["pric"]);
	assert.equal(d.cancel(), false);
});

test("the keydown listener is named, added once, and removed", () => {
	const added = [];
	const target = {
		addEventListener: (e, fn, capture) => added.push([e, fn, capture]),
		removeEventListener: (e, fn, capture) => {
			const i = added.findIndex((a) => a[0] === e && a[1] === fn && a[2] === capture);
			if (i !== -1) added.splice(i, 1);
		},
	};
	const fn = () => {};
	const l = new m.WhatsAppDomListener(target, "keydown", fn, true);
	assert.equal(l.listen(), true);
	assert.equal(l.listen(), false);
	assert.equal(added.length, 1);
	assert.equal(l.unlisten(), true);
	assert.equal(added.length, 0);
	assert.equal(l.unlisten(), false);
});
