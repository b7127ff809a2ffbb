"""What the terminal makes of a QR acquisition: its exit code, its words, and following it until linked
(``whatsapp-crm connect`` and the demo)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from whatsapp_crm.gateway import errors, texts
from whatsapp_crm.gateway.acquire import Attempt, QrOutcome, QrPolicy, acquire_qr
from whatsapp_crm.gateway.client import GatewayClient
from whatsapp_crm.gateway.qr import is_data_uri, render_terminal

EXIT_OK, EXIT_USAGE, EXIT_GATEWAY, EXIT_NO_QR = 0, 2, 3, 4
CONFIG_CODES = {errors.NOT_CONFIGURED, errors.UNAUTHORIZED, errors.INVALID_SESSION_ID}
NO_QR_CODES = {errors.QR_NOT_READY, errors.QR_GENERATION_ERROR}


def gave_up_text(seconds: float) -> str:
	"""Why a QR may never come, once the terminal has waited ``seconds`` for one."""
	return texts.for_terminal(texts.NO_QR_CAUSES).format(f"{seconds:g}")


def exit_code(outcome: QrOutcome) -> int:
	if outcome.state in ("qr", "connected"):
		return EXIT_OK
	code = outcome.error_code
	if code in CONFIG_CODES:
		return EXIT_USAGE
	if code in NO_QR_CODES:
		return EXIT_NO_QR
	return EXIT_GATEWAY


def user_message(outcome: QrOutcome, where: dict | None = None) -> str:
	template, args = texts.for_outcome(
		outcome.state, outcome.error.code if outcome.error else None, outcome.phone
	)
	return texts.for_terminal(template, outcome.error, where).format(*args)


def _print_attempt(out: Callable[[str], None]) -> Callable[[Attempt], None]:
	def show(a: Attempt) -> None:
		facts = [a.outcome]
		if a.http_status:
			facts.append(f"HTTP {a.http_status}")
		facts.append(f"at {a.elapsed_ms / 1000:.1f} s")
		if a.wait_s:
			facts.append(f"next try in {a.wait_s:g} s")
		said = texts.for_terminal(texts.BY_CODE[a.outcome]) if a.outcome in texts.BY_CODE else ""
		out(
			f"  attempt {a.number}: {said} [{', '.join(facts)}]"
			if said
			else f"  attempt {a.number}: [{', '.join(facts)}]"
		)

	return show


def _draw(outcome: QrOutcome, out: Callable[[str], None]) -> None:
	if is_data_uri(outcome.qr_payload):
		out(f"(the gateway sent the QR as an image, {len(outcome.qr_payload)} bytes: open it from the desk)")
	else:
		out(render_terminal(outcome.qr_payload))


def follow(
	client: GatewayClient,
	session_id: str,
	policy: QrPolicy,
	*,
	give_up_after: float,
	out: Callable[[str], None] = print,
	clock: Callable[[], float] = time.monotonic,
	sleep: Callable[[float], None] = time.sleep,
	where: dict | None = None,
) -> QrOutcome:
	"""What the desk form does: acquire, show each new QR, keep polling until linked or clearly over."""
	started = clock()
	shown_payload = None
	outcome = acquire_qr(client, session_id, policy, clock=clock, sleep=sleep, on_attempt=_print_attempt(out))
	poll = replace(policy, max_attempts=1)
	last_message = None
	while True:
		message = user_message(outcome, where)
		if message != last_message:
			out(message)
			last_message = message
		if outcome.state == "qr" and outcome.qr_payload != shown_payload:
			if shown_payload is not None:
				out("The QR code changed (the gateway rotates it); scan this one:")
			_draw(outcome, out)
			out(texts.WHERE_TO_SCAN)
			shown_payload = outcome.qr_payload
		if not outcome.keep_polling:
			return outcome
		if clock() - started > give_up_after:
			out(f"Gave up after {give_up_after:g} s.")
			if outcome.state == "waiting":
				out(gave_up_text(give_up_after))
			return outcome
		sleep(outcome.poll_after_ms / 1000)
		outcome = acquire_qr(client, session_id, poll, clock=clock, sleep=sleep)
