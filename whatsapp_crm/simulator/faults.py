"""The faults every simulated gateway can play (SessionOptions.fault, delay_s), and the hooks through which
a type says how its own error bodies look."""

from __future__ import annotations

import json
from typing import Any

from .model import BODY_FAULTS, NGINX_502, SessionOptions
from .server import Handler

TRICKLE_SIZE = 200  # the Content-Length a trickling answer announces


class FaultAnswers:
	"""Mixed into BaseSimulator."""

	json_content_type = "application/json"
	# sends, media downloads and history reads hang and break too: an app must survive a gateway that stalls
	hang_endpoints: tuple[str, ...] = ("create", "status", "qr", "pairing", "send", "media", "history")
	fault_endpoints: tuple[str, ...] = (
		"status",
		"qr",
		"pairing",
		"send",
		"media",
		"history",
	)  # where the body faults answer
	hang_max_s: float

	def _common_faults(self, handler: Handler, endpoint: str, session_id: str, opts: SessionOptions) -> bool:
		"""Answer (or not) the way the session's fault says; True when that was the whole answer."""
		stopping = handler.server.stopping
		if opts.delay_s > 0 and stopping.wait(opts.delay_s):
			handler.hang_up()  # shutting down: no answer
			return True
		fault = opts.fault
		if fault == "unauthorized":
			handler.send_json(401, self._unauthorized_payload())
			return True
		if (fault == "hang" and endpoint in self.hang_endpoints) or (
			fault == "pairing_hang" and endpoint == "pairing"
		):
			# Accept and never answer: the client's read timeout is what is under test.
			stopping.wait(self.hang_max_s)
			handler.hang_up()
			return True
		if fault == "trickle" and endpoint in ("status", "qr"):
			padding = "x" * (TRICKLE_SIZE - len(json.dumps({"trickle": ""})))
			handler.send_trickle(json.dumps({"trickle": padding}).encode("ascii"))
			return True
		if fault == "pairing_500" and endpoint == "pairing":
			handler.send_json(500, self._stack_trace_payload("Failed to request a pairing code"))
			return True
		if fault == "update_500" and endpoint == "update":
			handler.send_json(500, self._stack_trace_payload("Failed to update the session"))
			return True
		if fault in BODY_FAULTS and endpoint in self.fault_endpoints:
			if fault == "html_502":
				handler.send_bytes(502, NGINX_502, "text/html")
			elif fault == "success_false":
				handler.send_json(*self._success_false())
			elif fault == "not_json":
				handler.send_bytes(200, self._not_json_body(), self.json_content_type)
			else:
				handler.send_huge(self._huge_payload(endpoint, session_id), int(opts.huge_mb * 1024 * 1024))
			return True
		return False

	# -- the type's wire format for shared answers --

	def _unauthorized_payload(self) -> dict[str, Any]:
		raise NotImplementedError

	def _body_error(self, status: int, word: str) -> dict[str, Any]:
		raise NotImplementedError

	def _success_false(self) -> tuple[int, dict[str, Any]]:
		raise NotImplementedError

	def _not_json_body(self) -> bytes:
		raise NotImplementedError

	def _huge_payload(self, endpoint: str, session_id: str) -> dict[str, Any]:
		raise NotImplementedError

	def _stack_trace_payload(self, message: str) -> dict[str, Any]:
		return {
			"statusCode": 500,
			"message": message,
			"exception": {
				"message": message,
				"stack": f"Error: {message}\n    at Simulator.answer (sim.js:1:1)",
			},
		}
