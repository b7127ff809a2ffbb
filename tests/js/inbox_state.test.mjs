// The WhatsApp inbox's client state (public/js/whatsapp_inbox_state.js), with node's test runner.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { WhatsAppInboxState, WhatsAppOneLoad } = require("../../whatsapp_crm/public/js/whatsapp_inbox_state.js");

const page = (...names) => ({ rows: names.map((n, i) => ({ name: n, unread: i + 1 })), more: false });

test("one list load in flight; a load asked for meanwhile runs once after it", () => {
	const s = new WhatsAppInboxState();
	assert.equal(s.beginLoad(), true);
	assert.equal(s.beginLoad(), false); // a realtime event while loading
	assert.equal(s.beginLoad(), false); // and another: still one more load, not two
	assert.equal(s.endLoad(page("a")), true); // run it now
	assert.equal(s.beginLoad(), true);
	assert.equal(s.endLoad(page("a")), false);
});

test("opening a conversation reads it, and a reload keeps it read", () => {
	const s = new WhatsAppInboxState();
	s.beginLoad();
	s.endLoad(page("a", "b"));
	assert.equal(s.unreadTotal(), 3);
	s.open("b");
	assert.equal(s.rows.find((r) => r.name === "b").unread, 0);
	s.beginLoad();
	s.endLoad(page("a", "b")); // the server's count arrived before mark_read: still read here
	assert.equal(s.unreadTotal(), 1);
});

test("appending a page adds only new conversations", () => {
	const s = new WhatsAppInboxState();
	s.beginLoad();
	s.endLoad({ rows: [{ name: "a" }, { name: "b" }], more: true });
	s.beginLoad();
	s.endLoad({ rows: [{ name: "b" }, { name: "c" }], more: false }, { append: true });
	assert.deepEqual(s.rows.map((r) => r.name), ["a", "b", "c"]);
	assert.equal(s.more, false);
});

test("a failed load ends the load and keeps what was shown", () => {
	const s = new WhatsAppInboxState();
	s.beginLoad();
	s.endLoad(page("a"));
	s.beginLoad();
	assert.equal(s.endLoad(null), false);
	assert.equal(s.loading, false);
	assert.deepEqual(s.rows.map((r) => r.name), ["a"]);
});

test("an event reloads the list, and the thread only when it is the open one", () => {
	const s = new WhatsAppInboxState();
	s.open("a");
	assert.deepEqual(s.onEvent({ conversation: "a" }), { list: true, thread: true });
	assert.deepEqual(s.onEvent({ conversation: "b" }), { list: true, thread: false });
	assert.deepEqual(s.onEvent(null), { list: true, thread: false });
});

test("filters change only when their value does", () => {
	const s = new WhatsAppInboxState();
	assert.equal(s.setFilter("scope", "all"), false);
	assert.equal(s.setFilter("scope", "mine"), true);
});

test("the thread has its own single load", () => {
	const t = new WhatsAppOneLoad();
	assert.equal(t.begin(), true);
	assert.equal(t.begin(), false);
	assert.equal(t.end(), true);
	assert.equal(t.begin(), true);
	assert.equal(t.end(), false);
});

test("the realtime handler is named, on once, and removed", () => {
	const { WhatsAppRealtimeHandler } = require("../../whatsapp_crm/public/js/whatsapp_inbox_state.js");
	const handlers = new Map();
	const realtime = {
		on: (e, fn) => handlers.set(e, [...(handlers.get(e) || []), fn]),
		off: (e, fn) => handlers.set(e, (handlers.get(e) || []).filter((f) => f !== fn)),
	};
	const fn = () => {};
	const h = new WhatsAppRealtimeHandler(realtime, "whatsapp_inbox", fn);
	assert.equal(h.listen(), true);
	assert.equal(h.listen(), false); // shown twice: still one handler
	assert.deepEqual(handlers.get("whatsapp_inbox"), [fn]);
	assert.equal(h.unlisten(), true);
	assert.deepEqual(handlers.get("whatsapp_inbox"), []);
	assert.equal(h.unlisten(), false);
});
