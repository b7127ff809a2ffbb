/*
 * WhatsApp Session poller: a pure-logic state machine that drives the pairing dialog
 * of the "WhatsApp Session" desk form (docs/architecture.md, 'The session payload', 'The session form').
 *
 * No Frappe globals, no DOM: the form supplies fetch_status() and renders the views
 * handed to on_update(). Loaded in the browser as a classic script (no import/export);
 * exposes globalThis.whatsapp_crm.SessionPoller, and module.exports under node for tests.
 *
 * Guarantees:
 * - never two fetch_status() calls outstanding at once (even across stop()/start());
 * - results of a request that settles after stop()/start() are ignored (generation counter);
 * - stops on Connected / Failed / Disconnected / keep_polling false, after max_consecutive_errors
 *   errors in a row, after give_up_after_ms, and on stop();
 * - on_stuck fires once when no QR has been seen for stuck_after_ms;
 * - callbacks that throw are logged and never break the poller.
 */
(function () {
	"use strict";

	const QR_SRC_RE = /^data:image\/(?:png|svg\+xml);base64,[A-Za-z0-9+/=]+$/;
	const MAX_QR_SRC_LENGTH = 1000000;

	const TERMINAL_PHASES = {
		"Connected": "connected",
		"Failed": "failed",
		"Disconnected": "ended",
	};

	function is_safe_qr_src(s) {
		return typeof s === "string" && s.length < MAX_QR_SRC_LENGTH && QR_SRC_RE.test(s);
	}

	function escape_html(s) {
		if (s === null || s === undefined) return "";
		return String(s)
			.replace(/&/g, "&amp;")
			.replace(/</g, "&lt;")
			.replace(/>/g, "&gt;")
			.replace(/"/g, "&quot;")
			.replace(/'/g, "&#39;");
	}

	function log_error(what, err) {
		if (typeof console !== "undefined" && console && typeof console.error === "function") {
			console.error("[whatsapp_crm.SessionPoller] " + what, err);
		}
	}

	function number_or(value, fallback) {
		const n = Number(value);
		return typeof value === "number" && isFinite(n) ? n : fallback;
	}

	function clamp(n, lo, hi) {
		return Math.min(Math.max(n, lo), hi);
	}

	function is_valid_payload(payload) {
		return (
			payload !== null &&
			typeof payload === "object" &&
			!Array.isArray(payload) &&
			typeof payload.status === "string" &&
			payload.status !== ""
		);
	}

	function phase_for(status, qr_code) {
		if (Object.prototype.hasOwnProperty.call(TERMINAL_PHASES, status)) return TERMINAL_PHASES[status];
		if (status === "QR Ready" && qr_code) return "qr";
		return "waiting";
	}

	class SessionPoller {
		constructor(options) {
			const o = options || {};
			if (typeof o.fetch_status !== "function") {
				throw new TypeError("SessionPoller: fetch_status must be a function");
			}
			this._fetch_status = o.fetch_status;
			this._on_update = typeof o.on_update === "function" ? o.on_update : null;
			this._on_stuck = typeof o.on_stuck === "function" ? o.on_stuck : null;
			// Defaults wrap the globals lazily (and call them without a receiver), so the module
			// loads where they do not exist and the browser's setTimeout never sees a foreign `this`.
			this._set_timeout = o.set_timeout || function (fn, ms) { return setTimeout(fn, ms); };
			this._clear_timeout = o.clear_timeout || function (id) { return clearTimeout(id); };
			this._now = o.now || function () { return Date.now(); };

			this.default_interval_ms = number_or(o.default_interval_ms, 3000);
			this.min_interval_ms = number_or(o.min_interval_ms, 500);
			this.max_interval_ms = Math.max(number_or(o.max_interval_ms, 30000), this.min_interval_ms);
			this.stuck_after_ms = number_or(o.stuck_after_ms, 120000);
			this.give_up_after_ms = number_or(o.give_up_after_ms, 600000);
			this.max_consecutive_errors = Math.max(1, number_or(o.max_consecutive_errors, 5));

			this._generation = 0;
			this._request_seq = 0;
			this._in_flight_request = 0; // id of the outstanding fetch_status() call, 0 if none
			this._timer = null;
			this._running = false;
			this._reset();
			this._view = this._make_view({ phase: "stopped", running: false, elapsed_ms: 0 });
		}

		get running() {
			return this._running;
		}

		get in_flight() {
			return this._in_flight_request !== 0;
		}

		get view() {
			return this._view;
		}

		start(initial_payload) {
			this._cancel();
			this._reset();
			this._running = true;
			this._started_at = this._now();
			this._view = null; // nothing carries over from a previous run
			this._view = this._make_view({ phase: "waiting", running: true, elapsed_ms: 0 });
			if (initial_payload !== undefined && initial_payload !== null) {
				this.apply(initial_payload);
			} else {
				this._tick();
			}
		}

		// Apply a payload from anywhere (create call, realtime push, Status click). Returns false
		// (and does nothing) when the poller is not running: use start(payload) to restart it.
		apply(payload) {
			if (!this._running) return false;
			if (!is_valid_payload(payload)) {
				this._handle_error(new TypeError("malformed payload"));
			} else {
				this._handle_payload(payload);
			}
			return true;
		}

		stop(reason) {
			if (!this._running) return;
			this._halt(reason === undefined ? "stopped" : String(reason), {});
		}

		// ---- internals ----

		_reset() {
			this._started_at = this._now();
			this._polls = 0;
			this._error_count = 0;
			this._last_qr = "";
			this._qr_seen = false;
			this._stuck_fired = false;
			this._delay = this.default_interval_ms;
		}

		_elapsed() {
			return Math.max(0, this._now() - this._started_at);
		}

		_clear_timer() {
			if (this._timer === null) return;
			const clear_timeout = this._clear_timeout;
			try {
				clear_timeout(this._timer);
			} catch (e) {
				log_error("clear_timeout failed", e);
			}
			this._timer = null;
		}

		_cancel() {
			this._generation += 1; // late results of outstanding requests are now ignored
			this._clear_timer();
		}

		_make_view(fields) {
			const prev = this._view || {};
			const view = {
				phase: "waiting",
				status: "",
				message: "",
				qr_code: "",
				qr_changed: false,
				qr_error: null,
				elapsed_ms: 0,
				polls: this._polls,
				stuck: this._stuck_fired && !this._qr_seen,
				transport_error: false,
				error_count: this._error_count,
				keep_polling: true,
				running: this._running,
			};
			for (const key of ["phase", "status", "message", "qr_code", "qr_error", "transport_error", "keep_polling"]) {
				if (Object.prototype.hasOwnProperty.call(prev, key)) view[key] = prev[key];
			}
			view.elapsed_ms = this._elapsed();
			return Object.assign(view, fields);
		}

		_emit(view, fire_stuck) {
			this._view = view;
			if (this._on_update) {
				try {
					this._on_update(view);
				} catch (e) {
					log_error("on_update threw", e);
				}
			}
			if (fire_stuck && this._on_stuck) {
				try {
					this._on_stuck();
				} catch (e) {
					log_error("on_stuck threw", e);
				}
			}
		}

		// Marks the poller stuck (once) if no QR was seen for stuck_after_ms. Returns true when it just became stuck.
		_check_stuck() {
			if (this._stuck_fired || this._qr_seen || !this._running) return false;
			if (this._elapsed() < this.stuck_after_ms) return false;
			this._stuck_fired = true;
			return true;
		}

		_halt(phase, fields) {
			this._cancel();
			this._running = false;
			this._emit(this._make_view(Object.assign({ qr_changed: false }, fields, { phase: phase, running: false })), false);
		}

		_gave_up() {
			return this._elapsed() >= this.give_up_after_ms;
		}

		// (Re)arms the single timer: the next tick runs after delay_ms.
		_schedule(delay_ms) {
			this._clear_timer();
			this._delay = delay_ms;
			const generation = this._generation;
			const set_timeout = this._set_timeout;
			const self = this;
			this._timer = set_timeout(function () {
				if (generation !== self._generation) return;
				self._timer = null;
				self._tick();
			}, delay_ms);
		}

		// After a payload or an error that does not stop the poller: give up, or schedule and emit.
		_settle(fields, next_delay_ms) {
			if (this._gave_up()) {
				this._halt("gave_up", fields);
				return;
			}
			this._schedule(next_delay_ms);
			const fire_stuck = this._check_stuck();
			this._emit(this._make_view(Object.assign({}, fields, { running: true, stuck: this._stuck_fired && !this._qr_seen })), fire_stuck);
		}

		_tick() {
			if (!this._running) return;
			if (this._gave_up()) {
				this._halt("gave_up", {});
				return;
			}
			if (this._in_flight_request !== 0) {
				// A request is still outstanding (apply() rescheduled us, or this is the watchdog):
				// skip this tick and reschedule; the settling request reschedules properly.
				this._schedule(this._delay);
				if (this._check_stuck()) {
					this._emit(this._make_view({ qr_changed: false, stuck: true }), true);
				}
				return;
			}
			this._poll();
		}

		_poll() {
			const generation = this._generation;
			const request = ++this._request_seq;
			this._in_flight_request = request;
			this._polls += 1;
			let promise;
			try {
				const fetch_status = this._fetch_status;
				promise = Promise.resolve(fetch_status());
			} catch (e) {
				promise = Promise.reject(e);
			}
			const self = this;
			promise.then(
				function (payload) {
					self._request_settled(request, generation, true, payload);
				},
				function (err) {
					self._request_settled(request, generation, false, err);
				}
			);
			// Watchdog: while the request is outstanding, ticks keep coming (and are skipped), so a
			// request that never settles still leads to "stuck" and "gave_up". Replaced on settle.
			if (this._running && generation === this._generation) this._schedule(this._delay);
		}

		_request_settled(request, generation, ok, value) {
			if (this._in_flight_request === request) this._in_flight_request = 0;
			if (generation !== this._generation || !this._running) return; // stale: stopped or restarted since
			try {
				if (ok && is_valid_payload(value)) {
					this._handle_payload(value);
				} else {
					this._handle_error(ok ? new TypeError("malformed payload") : value);
				}
			} catch (e) {
				log_error("internal error while applying a result", e);
			}
		}

		_handle_payload(payload) {
			this._error_count = 0;
			const qr_code = is_safe_qr_src(payload.qr_code) ? payload.qr_code : "";
			let qr_changed = false;
			if (qr_code) {
				this._qr_seen = true;
				qr_changed = qr_code !== this._last_qr;
				this._last_qr = qr_code;
			}
			const status = payload.status;
			const keep_polling = payload.keep_polling !== false;
			const fields = {
				phase: phase_for(status, qr_code),
				status: status,
				message: payload.message === null || payload.message === undefined ? "" : String(payload.message),
				qr_code: qr_code,
				qr_changed: qr_changed,
				qr_error: payload.qr_error === undefined || payload.qr_error === "" ? null : payload.qr_error,
				transport_error: false,
				error_count: 0,
				keep_polling: keep_polling,
			};
			if (!keep_polling || Object.prototype.hasOwnProperty.call(TERMINAL_PHASES, status)) {
				this._halt(fields.phase, fields);
				return;
			}
			const asked = number_or(payload.poll_after_ms, 0);
			const delay = clamp(asked > 0 ? asked : this.default_interval_ms, this.min_interval_ms, this.max_interval_ms);
			this._settle(fields, delay);
		}

		_handle_error(err) {
			this._error_count += 1;
			const fields = { qr_changed: false, transport_error: true, error_count: this._error_count };
			if (this._error_count >= this.max_consecutive_errors) {
				log_error("giving up after " + this._error_count + " consecutive errors", err);
				this._halt("error", fields);
				return;
			}
			const delay = Math.min(this.default_interval_ms * Math.pow(2, this._error_count), this.max_interval_ms);
			this._settle(fields, delay);
		}
	}

	globalThis.whatsapp_crm = globalThis.whatsapp_crm || {};
	globalThis.whatsapp_crm.SessionPoller = SessionPoller;
	globalThis.whatsapp_crm.is_safe_qr_src = is_safe_qr_src;
	globalThis.whatsapp_crm.escape_html = escape_html;

	if (typeof module !== "undefined" && module.exports) module.exports = { SessionPoller, is_safe_qr_src, escape_html };
})();
