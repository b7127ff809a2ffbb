// Tests for whatsapp_crm/public/js/whatsapp_session_poller.js: `node --test tests/js/` (node >= 20).
// A fake clock drives every timer: no real waiting.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import vm from "node:vm";

const require = createRequire(import.meta.url);
const MODULE_PATH = new URL("../../whatsapp_crm/public/js/whatsapp_session_poller.js", import.meta.url);
const { SessionPoller, is_safe_qr_src, escape_html } = require(MODULE_PATH.pathname);

const QR_A = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+A8AAQUBAScY42YAAAAASUVORK5CYII=";
const QR_B = "data:image/png;base64,QUJDREVGRw==";
const QR_SVG = "data:image/svg+xml;base64,PHN2Zy8+";

// ---- fake clock -------------------------------------------------------------------------------

async function flush() {
	for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

function make_clock() {
	let t = 0;
	let seq = 0;
	const timers = new Map();
	return {
		now: () => t,
		set_timeout(fn, ms) {
			const id = ++seq;
			timers.set(id, { at: t + Math.max(0, Number(ms) || 0), fn, id });
			return id;
		},
		clear_timeout(id) {
			timers.delete(id);
		},
		pending() {
			return timers.size;
		},
		next_delay() {
			let best = null;
			for (const timer of timers.values()) if (best === null || timer.at < best) best = timer.at;
			return best === null ? null : best - t;
		},
		async advance(ms) {
			const end = t + ms;
			for (;;) {
				await flush();
				let due = null;
				for (const timer of timers.values()) {
					if (timer.at <= end && (due === null || timer.at < due.at || (timer.at === due.at && timer.id < due.id))) due = timer;
				}
				if (due === null) break;
				timers.delete(due.id);
				t = due.at;
				due.fn();
			}
			t = end;
			await flush();
		},
	};
}

// ---- helpers ----------------------------------------------------------------------------------

function payload(over = {}) {
	return {
		success: true,
		message: "Waiting",
		session_db_id: "WS-0001",
		session_id: "s1",
		status: "Connecting",
		qr_available: false,
		qr_code: "",
		qr_error: null,
		keep_polling: true,
		poll_after_ms: 3000,
		debug: {},
		...over,
	};
}

function qr_payload(qr = QR_A, over = {}) {
	return payload({ status: "QR Ready", qr_available: true, qr_code: qr, message: "Scan the QR", ...over });
}

// A fetch_status whose answers are produced by `answer(n)` (n = 1-based call number), resolved at once.
function scripted(answer) {
	const fetch = {
		calls: 0,
		fn: () => {
			fetch.calls += 1;
			return Promise.resolve().then(() => answer(fetch.calls));
		},
	};
	return fetch;
}

// A fetch_status that stays pending until the test settles it; tracks concurrency.
function deferred_fetch() {
	const d = {
		calls: 0,
		active: 0,
		max_active: 0,
		pending: [],
		fn: () => {
			d.calls += 1;
			d.active += 1;
			d.max_active = Math.max(d.max_active, d.active);
			return new Promise((resolve, reject) => {
				d.pending.push({
					resolve: (v) => { d.active -= 1; resolve(v); },
					reject: (e) => { d.active -= 1; reject(e); },
				});
			});
		},
		resolve_next(v) { d.pending.shift().resolve(v); },
		reject_next(e) { d.pending.shift().reject(e); },
	};
	return d;
}

function make(options = {}) {
	const clock = make_clock();
	const updates = [];
	let stuck_calls = 0;
	const poller = new SessionPoller({
		set_timeout: clock.set_timeout,
		clear_timeout: clock.clear_timeout,
		now: clock.now,
		on_update: (view) => updates.push(view),
		on_stuck: () => { stuck_calls += 1; },
		...options,
	});
	return { poller, clock, updates, stuck_calls: () => stuck_calls, last: () => updates[updates.length - 1] };
}

async function quietly(fn) {
	const original = console.error;
	const logged = [];
	console.error = (...args) => logged.push(args);
	try {
		await fn();
	} finally {
		console.error = original;
	}
	return logged;
}

// ---- tests ------------------------------------------------------------------------------------

test("initial payload with a QR gives phase qr and qr_changed, without polling at once", async () => {
	const fetch = scripted(() => qr_payload());
	const { poller, clock, updates, last } = make({ fetch_status: fetch.fn });
	poller.start(qr_payload(QR_A, { message: "<b>Scan</b>" }));
	assert.equal(fetch.calls, 0);
	assert.equal(updates.length, 1);
	const v = last();
	assert.equal(v.phase, "qr");
	assert.equal(v.status, "QR Ready");
	assert.equal(v.qr_code, QR_A);
	assert.equal(v.qr_changed, true);
	assert.equal(v.message, "<b>Scan</b>"); // kept verbatim: escaping is the renderer's job (escape_html)
	assert.equal(v.polls, 0);
	assert.equal(v.running, true);
	assert.equal(v.stuck, false);
	assert.equal(v.transport_error, false);
	assert.equal(v.error_count, 0);
	assert.equal(v.keep_polling, true);
	assert.equal(v.elapsed_ms, 0);
	assert.equal(poller.view, v);
	assert.equal(clock.next_delay(), 3000);
	await clock.advance(3000);
	assert.equal(fetch.calls, 1);
	assert.equal(last().polls, 1);
	assert.equal(last().elapsed_ms, 3000);
	poller.stop();
});

test("start() without a payload polls at once; views are new objects each time", async () => {
	const fetch = scripted(() => payload());
	const { poller, clock, updates } = make({ fetch_status: fetch.fn });
	assert.equal(poller.view.phase, "stopped");
	assert.equal(poller.running, false);
	poller.start();
	assert.equal(fetch.calls, 1);
	assert.equal(poller.in_flight, true);
	assert.equal(poller.view.phase, "waiting");
	await clock.advance(0);
	assert.equal(poller.in_flight, false);
	assert.equal(updates.length, 1);
	assert.equal(updates[0].phase, "waiting");
	assert.equal(updates[0].qr_changed, false);
	await clock.advance(3000);
	assert.equal(updates.length, 2);
	assert.notEqual(updates[0], updates[1]);
	poller.stop();
});

test("QR rotation: a new QR sets qr_changed, the same QR does not", async () => {
	const answers = [qr_payload(QR_A), qr_payload(QR_B), qr_payload(QR_B), payload({ status: "Connecting" }), qr_payload(QR_B), qr_payload(QR_SVG)];
	const fetch = scripted((n) => answers[n - 1]);
	const { poller, clock, updates } = make({ fetch_status: fetch.fn });
	poller.start(qr_payload(QR_A));
	for (let i = 0; i < answers.length; i++) await clock.advance(3000);
	const seen = updates.map((v) => [v.phase, v.qr_code === "" ? "" : v.qr_code.slice(-8), v.qr_changed]);
	assert.deepEqual(seen, [
		["qr", QR_A.slice(-8), true], // initial payload: first QR
		["qr", QR_A.slice(-8), false], // same
		["qr", QR_B.slice(-8), true], // rotated
		["qr", QR_B.slice(-8), false], // same
		["waiting", "", false], // no QR for a moment
		["qr", QR_B.slice(-8), false], // same as the previously shown one
		["qr", QR_SVG.slice(-8), true], // svg data URIs are accepted too
	]);
	poller.stop();
});

test("poll interval honours poll_after_ms and clamps it to [min, max]; missing -> default", async () => {
	const asks = [1000, 100, 100000, 0, undefined, -5, "7000", 2500];
	const fetch = scripted((n) => payload({ poll_after_ms: asks[n] }));
	const { poller, clock } = make({ fetch_status: fetch.fn });
	poller.start(payload({ poll_after_ms: asks[0] }));
	const delays = [];
	for (let i = 0; i < asks.length; i++) {
		const d = clock.next_delay();
		delays.push(d);
		await clock.advance(d);
		assert.equal(fetch.calls, i + 1);
	}
	assert.deepEqual(delays, [1000, 500, 30000, 3000, 3000, 3000, 3000, 2500]);
	poller.stop();
});

test("custom min/max/default intervals are used", async () => {
	const fetch = scripted(() => payload({ poll_after_ms: 0 }));
	const { poller, clock } = make({ fetch_status: fetch.fn, default_interval_ms: 1500, min_interval_ms: 2000, max_interval_ms: 4000 });
	poller.start(payload({ poll_after_ms: 0 }));
	assert.equal(clock.next_delay(), 2000);
	poller.apply(payload({ poll_after_ms: 9000 }));
	assert.equal(clock.next_delay(), 4000);
	poller.stop();
});

test("never two requests in flight: a late fetch while apply() reschedules", async () => {
	const fetch = deferred_fetch();
	const { poller, clock, last } = make({ fetch_status: fetch.fn });
	poller.start(payload({ poll_after_ms: 1000 }));
	await clock.advance(1000); // first poll starts and hangs
	assert.equal(fetch.calls, 1);
	assert.equal(poller.in_flight, true);
	// A realtime push arrives meanwhile and reschedules a poll in 500 ms.
	poller.apply(qr_payload(QR_A, { poll_after_ms: 500 }));
	assert.equal(last().phase, "qr");
	await clock.advance(5000); // ticks fire while the request is outstanding: all skipped
	assert.equal(fetch.calls, 1);
	assert.equal(fetch.max_active, 1);
	assert.equal(clock.pending(), 1); // rescheduled, not dropped
	fetch.resolve_next(qr_payload(QR_B, { poll_after_ms: 500 }));
	await clock.advance(0);
	assert.equal(poller.in_flight, false);
	assert.equal(last().qr_code, QR_B);
	await clock.advance(500);
	assert.equal(fetch.calls, 2);
	fetch.resolve_next(qr_payload(QR_B, { poll_after_ms: 500 }));
	for (let i = 0; i < 10; i++) {
		await clock.advance(250);
		poller.apply(qr_payload(QR_B, { poll_after_ms: 500 }));
		if (fetch.pending.length) fetch.resolve_next(qr_payload(QR_B, { poll_after_ms: 500 }));
	}
	assert.equal(fetch.max_active, 1);
	poller.stop();
	while (fetch.pending.length) fetch.resolve_next(payload());
});

test("never two requests in flight across stop() and start()", async () => {
	const fetch = deferred_fetch();
	const { poller, clock, last } = make({ fetch_status: fetch.fn });
	poller.start(); // request 1 hangs
	poller.stop();
	poller.start(); // would poll at once, but request 1 is still outstanding
	assert.equal(fetch.calls, 1);
	assert.equal(poller.in_flight, true);
	fetch.resolve_next(qr_payload(QR_A)); // stale: ignored
	await clock.advance(0);
	assert.equal(last().phase, "stopped");
	assert.equal(poller.in_flight, false);
	await clock.advance(3000);
	assert.equal(fetch.calls, 2);
	assert.equal(fetch.max_active, 1);
	fetch.resolve_next(qr_payload(QR_B));
	await clock.advance(0);
	assert.equal(last().qr_code, QR_B);
	assert.equal(last().qr_changed, true);
	poller.stop();
});

for (const [status, phase] of [["Connected", "connected"], ["Failed", "failed"], ["Disconnected", "ended"]]) {
	test(`stops on ${status} -> phase ${phase}`, async () => {
		const fetch = scripted((n) => (n < 2 ? qr_payload() : payload({ status, keep_polling: true, message: status })));
		const { poller, clock, updates, last } = make({ fetch_status: fetch.fn });
		poller.start();
		await clock.advance(60000);
		assert.equal(fetch.calls, 2);
		assert.equal(poller.running, false);
		assert.equal(last().phase, phase);
		assert.equal(last().status, status);
		assert.equal(last().running, false);
		assert.equal(clock.pending(), 0);
		assert.equal(updates.length, 2);
	});
}

test("stops when keep_polling is false; phase from status", async () => {
	const { poller, clock, last } = make({ fetch_status: () => Promise.resolve(payload()) });
	poller.start(payload({ status: "Not Created", keep_polling: false, qr_error: "NOT_CONFIGURED", success: false }));
	assert.equal(poller.running, false);
	assert.equal(last().phase, "waiting");
	assert.equal(last().running, false);
	assert.equal(last().keep_polling, false);
	assert.equal(last().qr_error, "NOT_CONFIGURED");
	assert.equal(clock.pending(), 0);
	assert.equal(poller.apply(qr_payload()), false); // ignored once stopped
	assert.equal(last().phase, "waiting");
});

test("a success:false payload with keep_polling true keeps polling and shows qr_error", async () => {
	const fetch = scripted(() => payload({ success: false, qr_error: "QR_GENERATION_ERROR", poll_after_ms: 5000 }));
	const { poller, clock, last } = make({ fetch_status: fetch.fn });
	poller.start();
	await clock.advance(0);
	assert.equal(last().qr_error, "QR_GENERATION_ERROR");
	assert.equal(last().transport_error, false);
	assert.equal(last().phase, "waiting");
	assert.equal(clock.next_delay(), 5000);
	poller.stop();
});

test("stop() clears timers, ignores late results, and is idempotent", async () => {
	const fetch = deferred_fetch();
	const { poller, clock, updates, last } = make({ fetch_status: fetch.fn });
	poller.start(qr_payload());
	await clock.advance(3000);
	assert.equal(fetch.calls, 1);
	poller.stop();
	assert.equal(clock.pending(), 0);
	assert.equal(poller.running, false);
	assert.equal(last().phase, "stopped");
	assert.equal(last().running, false);
	assert.equal(last().qr_code, QR_A); // last known state is kept for display
	const count = updates.length;
	fetch.resolve_next(payload({ status: "Connected" }));
	await clock.advance(60000);
	assert.equal(updates.length, count);
	assert.equal(last().phase, "stopped");
	assert.equal(fetch.calls, 1);
	assert.equal(clock.pending(), 0);
	poller.stop("closed");
	assert.equal(updates.length, count); // second stop is a no-op
	// A late rejection is ignored too.
	poller.start();
	poller.stop("dialog_closed");
	assert.equal(last().phase, "dialog_closed");
	fetch.reject_next(new Error("late"));
	await clock.advance(10000);
	assert.equal(last().phase, "dialog_closed");
	assert.equal(last().error_count, 0);
	assert.equal(clock.pending(), 0);
});

test("start() resets state from a previous run", async () => {
	const fetch = scripted(() => qr_payload(QR_A));
	const { poller, clock, last } = make({ fetch_status: fetch.fn });
	poller.start(qr_payload(QR_A));
	await clock.advance(9000);
	poller.stop();
	poller.start(payload());
	assert.equal(last().qr_code, "");
	assert.equal(last().polls, 0);
	assert.equal(last().elapsed_ms, 0);
	await clock.advance(3000);
	assert.equal(last().qr_changed, true); // first QR of the new run
	poller.stop();
});

test("stuck: no QR for 120 s fires on_stuck exactly once and keeps polling", async () => {
	const fetch = scripted(() => payload());
	const { poller, clock, updates, stuck_calls, last } = make({ fetch_status: fetch.fn });
	poller.start();
	await clock.advance(117000);
	assert.equal(stuck_calls(), 0);
	assert.equal(last().stuck, false);
	await clock.advance(3000); // 120 s
	assert.equal(stuck_calls(), 1);
	assert.equal(last().stuck, true);
	assert.equal(last().elapsed_ms, 120000);
	const polls = fetch.calls;
	await clock.advance(60000);
	assert.equal(stuck_calls(), 1);
	assert.equal(poller.running, true);
	assert.equal(fetch.calls, polls + 20);
	assert.ok(updates.slice(-5).every((v) => v.stuck === true));
	// A QR finally shows up: stuck clears, on_stuck is not called again.
	poller.apply(qr_payload());
	assert.equal(last().stuck, false);
	assert.equal(last().phase, "qr");
	assert.equal(stuck_calls(), 1);
	poller.stop();
});

test("stuck never fires if a QR was seen, even if it later disappears", async () => {
	const fetch = scripted(() => payload());
	const { poller, clock, stuck_calls, last } = make({ fetch_status: fetch.fn });
	poller.start(qr_payload());
	await clock.advance(300000);
	assert.equal(stuck_calls(), 0);
	assert.equal(last().stuck, false);
	assert.equal(poller.running, true);
	poller.stop();
});

test("stuck is detected even while a request hangs", async () => {
	const fetch = deferred_fetch();
	const { poller, clock, stuck_calls, last } = make({ fetch_status: fetch.fn });
	poller.start(payload());
	await clock.advance(3000); // request hangs from here on
	await clock.advance(120000);
	assert.equal(fetch.calls, 1);
	assert.equal(stuck_calls(), 1);
	assert.equal(last().stuck, true);
	poller.stop();
});

test("gives up after give_up_after_ms", async () => {
	const fetch = scripted(() => payload({ poll_after_ms: 30000 }));
	const { poller, clock, stuck_calls, last } = make({ fetch_status: fetch.fn });
	poller.start();
	await clock.advance(3600000);
	assert.equal(poller.running, false);
	assert.equal(last().phase, "gave_up");
	assert.equal(last().running, false);
	assert.equal(last().elapsed_ms, 600000);
	assert.equal(fetch.calls, 20); // t = 0, 30 s, ..., 570 s; the tick due at 600 s gives up instead of polling
	assert.equal(stuck_calls(), 1);
	assert.equal(clock.pending(), 0);
});

test("gives up when a result arrives after the cap (no further poll is scheduled)", async () => {
	const fetch = deferred_fetch();
	const { poller, clock, last } = make({ fetch_status: fetch.fn, give_up_after_ms: 10000, stuck_after_ms: 1e9 });
	poller.start(payload({ poll_after_ms: 9000 }));
	await clock.advance(9000);
	assert.equal(fetch.calls, 1);
	await clock.advance(2000); // the request is slow: the answer comes at 11 s
	fetch.resolve_next(qr_payload());
	await clock.advance(0);
	assert.equal(last().phase, "gave_up");
	assert.equal(last().qr_code, QR_A); // the last answer is still shown
	assert.equal(poller.running, false);
	assert.equal(clock.pending(), 0);
});

test("gives up even when a request never settles", async () => {
	const fetch = deferred_fetch();
	const { poller, clock, last } = make({ fetch_status: fetch.fn, give_up_after_ms: 20000 });
	poller.start(payload());
	await clock.advance(100000);
	assert.equal(fetch.calls, 1);
	assert.equal(last().phase, "gave_up");
	assert.equal(clock.pending(), 0);
});

test("consecutive errors back off (doubling from default, capped) and stop at 5", async () => {
	const fetch = scripted(() => { throw new Error("network down"); });
	const { poller, clock, last, updates } = make({ fetch_status: fetch.fn });
	const logged = await quietly(async () => {
		poller.start(qr_payload());
		const delays = [];
		for (let i = 0; i < 5; i++) {
			const d = clock.next_delay();
			delays.push(d);
			await clock.advance(d);
			if (i < 4) {
				assert.equal(last().transport_error, true);
				assert.equal(last().error_count, i + 1);
				assert.equal(last().phase, "qr"); // phase stays as before
				assert.equal(last().qr_changed, false);
				assert.equal(poller.running, true);
			}
		}
		assert.deepEqual(delays, [3000, 6000, 12000, 24000, 30000]);
	});
	assert.equal(fetch.calls, 5);
	assert.equal(poller.running, false);
	assert.equal(last().phase, "error");
	assert.equal(last().error_count, 5);
	assert.equal(last().transport_error, true);
	assert.equal(clock.pending(), 0);
	assert.equal(updates.length, 6);
	assert.equal(logged.length, 1);
});

test("a successful payload resets the error count", async () => {
	let fail = true;
	const fetch = scripted((n) => {
		if (fail && n !== 4) throw new Error("flaky");
		return payload();
	});
	const { poller, clock, last } = make({ fetch_status: fetch.fn });
	await quietly(async () => {
		poller.start();
		await clock.advance(0);
		for (let i = 0; i < 3; i++) await clock.advance(clock.next_delay());
		assert.equal(fetch.calls, 4);
		assert.equal(last().error_count, 0);
		assert.equal(last().transport_error, false);
		assert.equal(clock.next_delay(), 3000); // back to the normal interval
		for (let i = 0; i < 4; i++) await clock.advance(clock.next_delay());
		assert.equal(last().error_count, 4);
		assert.equal(poller.running, true);
	});
	poller.stop();
});

test("max_consecutive_errors is configurable; synchronous throws count as errors", async () => {
	const { poller, clock, last } = make({ fetch_status: () => { throw new Error("sync"); }, max_consecutive_errors: 2 });
	await quietly(async () => {
		poller.start();
		await clock.advance(0);
		assert.equal(last().error_count, 1);
		await clock.advance(6000);
	});
	assert.equal(last().phase, "error");
	assert.equal(poller.running, false);
});

test("malformed payloads count as errors", async () => {
	const bad = [null, undefined, "Connected", 42, [], {}, { status: "" }, { status: 5, qr_code: QR_A }, { message: "no status" }];
	const fetch = scripted((n) => bad[n - 1]);
	const { poller, clock, last } = make({ fetch_status: fetch.fn, max_consecutive_errors: 100, max_interval_ms: 500, min_interval_ms: 10 });
	poller.start(qr_payload());
	for (let i = 0; i < bad.length; i++) {
		await clock.advance(clock.next_delay());
		assert.equal(last().error_count, i + 1, `payload #${i} ${JSON.stringify(bad[i])}`);
		assert.equal(last().transport_error, true);
		assert.equal(last().phase, "qr");
		assert.equal(last().qr_code, QR_A);
	}
	// apply() with a malformed payload counts too.
	poller.apply({ nope: true });
	assert.equal(last().error_count, bad.length + 1);
	poller.stop();
	// And hits the cap like a transport error.
	const second = make({ fetch_status: () => Promise.resolve({ status: null }) });
	await quietly(async () => {
		second.poller.start();
		await second.clock.advance(600000);
	});
	assert.equal(second.last().phase, "error");
	assert.equal(second.last().error_count, 5);
});

test("unsafe qr_code values are dropped: qr_code '' and phase waiting", async () => {
	const unsafe = [
		"javascript:alert(1)",
		"data:text/html;base64,PHNjcmlwdD4=",
		"data:image/png;base64,AAAA\" onerror=\"alert(1)",
		"data:image/png;base64,AAAA'",
		"data:image/png;base64,AA AA",
		"data:image/png;base64,<script>",
		"data:image/png;base64,",
		"DATA:IMAGE/PNG;BASE64,AAAA",
		"data:image/gif;base64,AAAA",
		"data:image/svg+xml,<svg onload=alert(1)>",
		"https://evil.example/qr.png",
		"data:image/png;base64," + "A".repeat(1000000),
		{ toString: () => QR_A },
		null,
		42,
	];
	for (const qr of unsafe) {
		const { poller, last } = make({ fetch_status: () => Promise.resolve(payload()) });
		poller.start(qr_payload(qr));
		assert.equal(last().qr_code, "", String(qr).slice(0, 60));
		assert.equal(last().phase, "waiting");
		assert.equal(last().qr_changed, false);
		poller.stop();
		assert.equal(is_safe_qr_src(qr), false);
	}
	assert.equal(is_safe_qr_src(QR_A), true);
	assert.equal(is_safe_qr_src(QR_SVG), true);
	assert.equal(is_safe_qr_src("data:image/png;base64," + "A".repeat(999000)), true);
});

test("escape_html escapes & < > \" ' and coerces null/undefined", () => {
	assert.equal(escape_html('<script>alert("x")</script>'), "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
	assert.equal(escape_html("Tom & Jerry's <b>"), "Tom &amp; Jerry&#39;s &lt;b&gt;");
	assert.equal(escape_html("&lt;"), "&amp;lt;");
	assert.equal(escape_html(null), "");
	assert.equal(escape_html(undefined), "");
	assert.equal(escape_html(0), "0");
	assert.equal(escape_html(false), "false");
});

test("callbacks that throw do not break the poller", async () => {
	const fetch = scripted((n) => (n < 50 ? payload() : payload({ status: "Connected" })));
	const clock = make_clock();
	let update_calls = 0;
	let stuck_calls = 0;
	const poller = new SessionPoller({
		fetch_status: fetch.fn,
		on_update: () => { update_calls += 1; throw new Error("render failed"); },
		on_stuck: () => { stuck_calls += 1; throw new Error("diagnosis failed"); },
		set_timeout: clock.set_timeout,
		clear_timeout: clock.clear_timeout,
		now: clock.now,
	});
	const logged = await quietly(async () => {
		poller.start();
		await clock.advance(200000);
	});
	assert.equal(fetch.calls, 50);
	assert.equal(update_calls, 50);
	assert.equal(stuck_calls, 1);
	assert.equal(poller.running, false);
	assert.equal(poller.view.phase, "connected");
	assert.equal(logged.length, 51);
	assert.ok(String(logged[0][0]).includes("on_update"));
});

test("callbacks are optional", async () => {
	const clock = make_clock();
	const poller = new SessionPoller({
		fetch_status: () => Promise.resolve(payload()),
		set_timeout: clock.set_timeout,
		clear_timeout: clock.clear_timeout,
		now: clock.now,
	});
	poller.start();
	await clock.advance(200000);
	assert.equal(poller.view.stuck, true);
	poller.stop();
	assert.throws(() => new SessionPoller({}), TypeError);
});

test("default timers work with the real setTimeout/clearTimeout", async () => {
	const poller = new SessionPoller({ fetch_status: () => Promise.resolve(payload({ poll_after_ms: 500 })) });
	poller.start();
	await flush();
	assert.equal(poller.running, true);
	assert.equal(poller.view.polls, 1);
	poller.stop(); // must clear the real timer, or node would wait 500 ms more
	assert.equal(poller.running, false);
});

test("loads as a classic script and sets globalThis.whatsapp_crm.SessionPoller", () => {
	const source = readFileSync(MODULE_PATH, "utf8");
	assert.doesNotMatch(source, /^\s*(import|export)\b/m);
	assert.doesNotMatch(source, /\b(frappe|document|window|__)\s*[.(]/);
	const context = { console };
	vm.runInNewContext(source, context);
	assert.equal(typeof context.whatsapp_crm.SessionPoller, "function");
	assert.equal(typeof context.whatsapp_crm.escape_html, "function");
	assert.equal(context.whatsapp_crm.escape_html("<"), "&lt;");
	// An existing namespace is kept.
	const context2 = { console, whatsapp_crm: { other: 1 } };
	vm.runInNewContext(source, context2);
	assert.equal(context2.whatsapp_crm.other, 1);
	assert.equal(typeof context2.whatsapp_crm.SessionPoller, "function");
	// And it works there with injected timers.
	const clock = make_clock();
	const views = [];
	const P = context.whatsapp_crm.SessionPoller;
	const poller = new P({
		fetch_status: () => Promise.resolve(payload()),
		on_update: (v) => views.push(v),
		set_timeout: clock.set_timeout,
		clear_timeout: clock.clear_timeout,
		now: clock.now,
	});
	poller.start(qr_payload());
	assert.equal(views[0].phase, "qr");
	poller.stop();
});
