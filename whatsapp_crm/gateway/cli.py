"""``whatsapp-crm``: demo, simulate, connect, status and doctor, from a terminal.

Exit codes: 0 a QR or a link was obtained (doctor: every check passed); 2 bad usage or configuration (a
rejected key, a wrong URL or gateway type included); 3 gateway failure (nothing answers, it hangs, or it
answers nonsense); 4 gave up without a QR.

It speaks as a terminal does: the fix for a wrong setting is a flag (``--url``, ``--api-key``), or, with
``--gateway NAME`` inside a bench, that record's field; a command that exits retries nothing after it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

from . import errors, texts
from .acquire import Attempt, QrOutcome, QrPolicy, acquire_qr, build_payload, outcome_from_error
from .adapters import AUTO, DEFAULT_TYPE, GATEWAY_TYPES, detect, make_client
from .client import GatewayClient, Timeouts, validate_session_id
from .errors import GatewayError, HistoryUnavailable
from .qr import is_data_uri, render_terminal

EXIT_OK, EXIT_USAGE, EXIT_GATEWAY, EXIT_NO_QR = 0, 2, 3, 4
KEY_ENV = "WHATSAPP_CRM_API_KEY"
TYPE_ENV = "WHATSAPP_CRM_GATEWAY_TYPE"
CONFIG_CODES = {errors.NOT_CONFIGURED, errors.UNAUTHORIZED, errors.INVALID_SESSION_ID}
NO_QR_CODES = {errors.QR_NOT_READY, errors.QR_GENERATION_ERROR}
# Failures after which the session's state on the gateway is not known: the terminal says so, not "Connecting".
UNKNOWN_STATE_CODES = {errors.TIMEOUT, errors.UNREACHABLE, errors.BAD_RESPONSE} | CONFIG_CODES
UNKNOWN = "Unknown"


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


def _payload(outcome: QrOutcome, where: dict | None) -> dict:
	"""The app's payload, in the terminal's words and with the truth about a state nobody reported."""
	payload = build_payload(outcome, message=user_message(outcome, where))
	if outcome.error_code in UNKNOWN_STATE_CODES and outcome.gateway_status is None:
		payload["status"] = UNKNOWN
	return payload


def _where(args: argparse.Namespace) -> dict:
	"""What the terminal names as the fix: the flags, or the fields of the --gateway record."""
	if getattr(args, "gateway", None):
		record = f"WhatsApp Gateway {args.gateway!r}"
		return {"url": f"the URL of {record}", "key": f"the API Key of {record}"}
	return texts.FLAGS


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
			return outcome
		sleep(outcome.poll_after_ms / 1000)
		outcome = acquire_qr(client, session_id, poll, clock=clock, sleep=sleep)


def _policy(args: argparse.Namespace) -> QrPolicy:
	return QrPolicy(deadline=args.deadline)


def _client(args: argparse.Namespace, policy: QrPolicy) -> GatewayClient:
	key = args.api_key or os.environ.get(KEY_ENV, "")
	timeouts = Timeouts(connect=policy.connect_timeout, read=policy.status_timeout)
	gateway_type = args.gateway_type
	if gateway_type == AUTO:
		found = detect(args.url, key, timeouts, timeout=min(5.0, policy.status_timeout))
		if not args.json:
			checked = f" ({found.checked_text})" if found.checked_text else ""
			print(f"Detected gateway: {found.description}{checked}", file=sys.stderr)
		gateway_type = found.gateway_type
	return make_client(gateway_type, args.url, key, timeouts)


def _report_failure(e: GatewayError, args: argparse.Namespace, policy: QrPolicy | None = None) -> int:
	"""A failure before any work: the same shape from every command (a line on stderr, or its JSON)."""
	outcome = outcome_from_error(args.session, e, policy)
	if args.json and args.command == "sync":
		words = texts.for_terminal(texts.for_code(e.code), e, _where(args))
		print(json.dumps({"session": args.session, "error": e.as_dict(), "message": words}, indent=2))
	elif args.json:
		print(json.dumps(_payload(outcome, _where(args)), indent=2))
	else:
		print(f"error: {user_message(outcome, _where(args))} ({e})", file=sys.stderr)
	return exit_code(outcome)


def cmd_connect(args: argparse.Namespace) -> int:
	policy = _policy(args)
	started = time.monotonic()
	try:
		client = _client(args, policy)
		client.create_session(args.session, timeout=min(policy.status_timeout, policy.deadline))
	except GatewayError as e:
		return _report_failure(e, args, policy)
	# create and acquisition share one deadline, as in the app
	policy = replace(policy, deadline=max(1.0, policy.deadline - (time.monotonic() - started)))
	with client:
		if args.json:
			outcome = acquire_qr(client, args.session, policy)
			print(json.dumps(_payload(outcome, _where(args)), indent=2))
		else:
			print(texts.CREATING)
			outcome = follow(client, args.session, policy, give_up_after=args.wait, where=_where(args))
	return exit_code(outcome)


def cmd_status(args: argparse.Namespace) -> int:
	policy = QrPolicy(max_attempts=1, deadline=args.deadline)
	try:
		client = _client(args, policy)
	except GatewayError as e:
		return _report_failure(e, args, policy)
	with client:
		outcome = acquire_qr(client, args.session, policy, recreate_missing=False)
	payload = _payload(outcome, _where(args))
	if args.json:
		print(json.dumps(payload, indent=2))
	else:
		d = payload["debug"]
		print(
			f"status: {payload['status']}  (gateway says: {d['gateway_status'] or '-'}, has QR: {d['has_qr']})"
		)
		print(payload["message"])
		if outcome.error:
			print(f"last error: {outcome.error}")
	return exit_code(outcome)


def cmd_simulate(args: argparse.Namespace) -> int:
	from .sim import devserver

	argv = ["--host", args.host, "--port", args.port, "--scenario", args.scenario]
	argv += ["--gateway-type", args.gateway_type]
	if args.waha_core_2024:
		argv.append("--waha-core-2024")
	if args.api_key:
		argv += ["--api-key", args.api_key]
	return devserver.main(argv, prog="whatsapp-crm simulate")


def cmd_demo(args: argparse.Namespace) -> int:
	from .sim import SessionOptions, make_simulator

	# The problem this app exists for: a slow gateway that first fails to generate the QR.
	scenario = SessionOptions(qr_after_s=1.0, qr_errors=1, scan_after_s=args.scan_after, rotate_s=0)
	key = "demo-key"
	policy = QrPolicy(deadline=20.0, poll_interval=1.0)  # the app's own waits (5 s after a QR error)
	with _EventSink() as sink, make_simulator(args.gateway_type, api_key=key, scenario=scenario) as sim:
		print(f"Gateway simulator ({args.gateway_type}) running at {sim.url}")
		print("A user opens a WhatsApp Session and clicks Create session.")
		with make_client(args.gateway_type, sim.url, key, Timeouts(3.0, 10.0)) as client:
			session_id = "demo-sales"
			print(f"Talking to it as {client.label}.")
			print(texts.CREATING)
			created = client.create_session(session_id)
			print(f"  session {created.session_id!r} created (gateway status: {created.raw_status})")
			print(f"  (the simulated phone will scan the QR {args.scan_after:g} s after it is shown)")
			outcome = follow(client, session_id, policy, give_up_after=60.0)
			if outcome.state == "connected":
				sim.set_webhook(sink.url, sink.secret)  # where the gateway pushes messages and receipts
				sent_id = _conversation(sim, client, session_id, sink)
				_catch_up(sim, client, session_id, sink, sent_id)
			print(f"Gateway requests sent: {sim.count()}")
	return exit_code(outcome) if outcome.state == "connected" else EXIT_NO_QR


class _EventSink:
	"""The app's side of the webhooks, for the demo: verified, read by the adapters, kept in order."""

	def __init__(self) -> None:
		import secrets
		import threading
		from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

		from .adapters import parse_webhook
		from .webhook import verify

		self.secret = secrets.token_hex(16)
		self.events: list = []
		self.arrived = threading.Condition()
		sink = self

		class Handler(BaseHTTPRequestHandler):
			def do_POST(self) -> None:
				body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
				query = parse_qs(urlsplit(self.path).query).get("secret", [None])[0]
				verify(dict(self.headers), body, sink.secret, now=time.time(), query_secret=query)
				with sink.arrived:
					sink.events.append(parse_webhook(body))
					sink.arrived.notify_all()
				self.send_response(200)
				self.send_header("Content-Length", "0")
				self.end_headers()

			def log_message(self, *args: object) -> None:
				pass

		self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
		self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
		threading.Thread(
			target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
		).start()

	def wait(self, found: Callable[[list], object], timeout: float = 5.0) -> object:
		ends = time.monotonic() + timeout
		with self.arrived:
			while not (result := found(list(self.events))) and time.monotonic() < ends:
				self.arrived.wait(max(0.01, ends - time.monotonic()))
		return result

	def __enter__(self) -> _EventSink:
		return self

	def __exit__(self, *exc: object) -> None:
		self.server.shutdown()
		self.server.server_close()


def _conversation(sim, client: GatewayClient, session_id: str, sink: _EventSink) -> str:
	"""A message to a customer, its ticks, and the customer's answer, all through the gateway; returns the
	sent message's id (the app's send job stores it)."""
	from .messaging import READ, checked_outgoing

	customer = "34600999888"
	print(f"A sales user writes to +{customer} from the CRM's WhatsApp tab.")
	sent = client.send_message(session_id, checked_outgoing(customer, "Hola, soy Ana, del equipo de ventas."))
	print(f"  sent: gateway message id {sent.message_id}")

	def ticks(events: list) -> list[str]:
		return [e.ack.status for e in events if e.kind == "ack" and e.ack.message_id == sent.message_id]

	sink.wait(lambda events: READ in ticks(events))
	print(f"  receipts: {' -> '.join(ticks(sink.events)) or 'none yet'}")
	sim.inbound(session_id, customer, "¡Hola Ana! Quiero el presupuesto.", push_name="Marta")
	# Evolution and WAHA also echo our own message back (from_me): the app stores it once; here it is skipped.
	found = sink.wait(
		lambda events: [e.message for e in events if e.kind == "message" and not e.message.from_me]
	)
	for message in found or []:
		print(f"  +{message.chat} ({message.push_name}): {message.text}")
	return sent.message_id


def _catch_up(sim, client: GatewayClient, session_id: str, sink: _EventSink, sent_id: str) -> None:
	"""The CRM's webhook receiver is down while the customer writes: a catch-up reads the messages back."""
	from .catchup import DUPLICATE, STORED, Reconciler, SyncState

	customer = "34600999888"
	stored = {e.message.id for e in sink.events if e.kind == "message"} | {sent_id}
	started = int(time.time())
	print("The CRM's site is down for a while (its webhooks fail); the customer writes twice meanwhile.")
	sim.set_receiver_down(True)
	for text in ("¿Seguís ahí?", "Os llamo mañana."):
		sim.inbound(session_id, customer, text, push_name="Marta")
	time.sleep(0.3)
	print(f"  webhooks the gateway could not deliver: {sim.webhook_dropped}")
	sim.set_receiver_down(False)

	def store(message) -> str:
		if message.id in stored:
			return DUPLICATE
		stored.add(message.id)
		if not message.from_me:
			print(f"  recovered: +{message.chat} ({message.push_name}): {message.text}")
		return STORED

	print("The site is back: a catch-up reads the gateway's own store from before the outage.")
	result = Reconciler(client, session_id).run(SyncState(watermark=started), store, lambda ack: None)
	print(
		f"  {result.stored} messages recovered, {result.duplicates} already stored, "
		f"{result.pages} page(s) read{', error: ' + str(result.error) if result.error else ''}"
	)


def cmd_doctor(args: argparse.Namespace) -> int:
	from .doctor import FAIL, OK, diagnose

	key = args.api_key or os.environ.get(KEY_ENV, "")
	report = diagnose(
		args.url,
		key,
		args.gateway_type,
		Timeouts(connect=3.0, read=10.0),
		probe=args.probe,
		probe_s=args.probe_s,
	)
	if args.json:
		print(json.dumps(report.as_dict(), indent=2))
	else:
		print(f"Checking {report.url or args.url}")
		marks = {OK: "ok  ", FAIL: "FAIL", "skip": "--  "}
		for check in report.checks:
			text = texts.for_terminal(check.template, where=_where(args)).format(*check.args)
			print(f"  [{marks[check.result]}] {check.name:<9} {text}")
		if not args.probe and report.ok:
			print("Run again with --probe to check that the gateway can reach WhatsApp (a test session).")
	return doctor_exit_code(report)


def doctor_exit_code(report) -> int:
	"""2 when the fix is in what was given (URL, key, type), 3 when the gateway fails, 4 when no QR came."""
	if report.ok:
		return EXIT_OK
	failed = next(c for c in report.checks if c.result == "fail")
	if failed.code in CONFIG_CODES or failed.code == errors.LICENSE_REQUIRED:
		return EXIT_USAGE
	if failed.name in ("url", "tls") or (failed.name == "type" and failed.code != errors.UNREACHABLE):
		return EXIT_USAGE  # a wrong scheme, URL or gateway type: all in what the admin typed
	return EXIT_NO_QR if failed.code == errors.QR_NOT_READY else EXIT_GATEWAY


# Seconds that must be above 0, and those that may be 0; argparse's float() takes nan, inf and -1.
POSITIVE_SECONDS, SECONDS = ("deadline", "wait", "probe_s"), ("scan_after",)
MAX_PAGES = 1000


def number_problem(args: argparse.Namespace) -> str | None:
	"""What is wrong with a number given on the command line, or None."""
	for name in POSITIVE_SECONDS + SECONDS:
		value = getattr(args, name, None)
		if value is None:
			continue
		positive = name in POSITIVE_SECONDS
		if not math.isfinite(value) or value < 0 or (positive and value == 0):
			kind = "positive" if positive else "zero or positive"
			return f"--{name.replace('_', '-')} must be a {kind} number of seconds, not {value:g}"
	pages = getattr(args, "max_pages", None)
	if pages is not None and not 1 <= pages <= MAX_PAGES:
		return f"--max-pages must be from 1 to {MAX_PAGES}, not {pages}"
	return None


def _when(value: str) -> int:
	"""Unix seconds from ``1795000000``, ``2026-12-01`` or ``2026-12-01T10:00`` (UTC unless it names a zone)."""
	text = value.strip()
	if text.isdigit():
		return int(text)
	try:
		moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
	except ValueError:
		raise argparse.ArgumentTypeError(f"not a date, time or unix seconds: {value!r}") from None
	return int((moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp())


def cmd_sync(args: argparse.Namespace) -> int:
	"""Read a session's messages back from the gateway's own store, as a catch-up does (nothing is stored:
	inside a bench, the Sync messages button or ``bench execute whatsapp_crm.chat.catchup.sync_session``)."""
	from .catchup import MARGIN_S, STORED, Reconciler, SyncState

	policy = QrPolicy(deadline=args.deadline)
	now = int(time.time())
	since = args.since if args.since is not None else now - 3600
	if since > now:
		print("error: --since must be in the past", file=sys.stderr)
		return EXIT_USAGE
	try:
		client = _client(args, policy)
	except GatewayError as e:
		return _report_failure(e, args, policy)
	found = []
	acks = []

	def keep(message) -> str:
		found.append(message)
		return STORED

	with client:
		result = Reconciler(client, args.session, max_pages=args.max_pages, budget_s=args.deadline).run(
			SyncState(), keep, acks.append, since=since
		)
	error = result.error
	words = None
	if error is not None:
		template = (
			texts.for_history(error.reason, error.gateway_type)
			if isinstance(error, HistoryUnavailable)
			else texts.for_code(error.code)
		)
		words = texts.for_terminal(template, error, _where(args))
	if args.json:
		print(
			json.dumps(
				{
					"session": args.session,
					"since": since,
					"until": now + MARGIN_S,
					"pages": result.pages,
					"complete": result.complete,
					"messages": [
						{
							"id": m.id,
							"chat": m.chat,
							"from_me": m.from_me,
							"timestamp": m.timestamp,
							"text": m.text,
							"media": m.media.mimetype if m.media else None,
						}
						for m in found
					],
					"acks": [{"id": a.message_id, "status": a.status} for a in acks],
					"skipped": result.skipped,
					"error": error.as_dict() if error else None,
					"message": words,
				},
				indent=2,
			)
		)
	else:
		print(
			f"Reading {args.session} from {datetime.fromtimestamp(since, tz=timezone.utc):%Y-%m-%d %H:%M} UTC"
		)
		for m in sorted(found, key=lambda m: m.timestamp or 0):
			when = (
				f"{datetime.fromtimestamp(m.timestamp, tz=timezone.utc):%Y-%m-%d %H:%M:%S}"
				if m.timestamp
				else "-"
			)
			arrow = "->" if m.from_me else "<-"
			body = (m.text or (m.media.mimetype if m.media else "") or "").replace("\n", " ")[:60]
			print(f"  {when} {arrow} +{m.chat or '?'} {body!r}")
		print(
			f"{len(found)} messages, {len(acks)} receipts, {result.skipped} skipped, {result.pages} pages"
			+ ("" if result.complete or error is not None else " (stopped before the end)")
		)
		if error is not None:
			print(f"error: {words} ({error})", file=sys.stderr)
	if error is None:
		return EXIT_OK
	return EXIT_USAGE if error.code in CONFIG_CODES else EXIT_GATEWAY


def build_parser() -> argparse.ArgumentParser:
	parser = argparse.ArgumentParser(prog="whatsapp-crm", description=__doc__.split("\n")[0])
	sub = parser.add_subparsers(dest="command", required=True)

	env_type = os.environ.get(TYPE_ENV, "").strip().lower()
	types = (*GATEWAY_TYPES, AUTO)

	def gateway_type_arg(
		p: argparse.ArgumentParser, choices: tuple[str, ...] = types, default: str = DEFAULT_TYPE
	) -> None:
		p.add_argument(
			"--gateway-type",
			choices=choices,
			default=env_type if env_type in choices else default,
			help=f"the gateway's API (or set ${TYPE_ENV}; default {DEFAULT_TYPE})",
		)

	def where_arg(p: argparse.ArgumentParser) -> None:
		where = p.add_mutually_exclusive_group(required=True)
		where.add_argument("--url", help="gateway base URL, e.g. http://127.0.0.1:3000")
		where.add_argument(
			"--gateway",
			metavar="NAME",
			help="a WhatsApp Gateway record of a site (inside a bench: bench --site SITE whatsapp-crm ...)",
		)

	demo = sub.add_parser("demo", help="run the whole flow against the built-in gateway simulator")
	demo.add_argument("--scan-after", type=float, default=3.0, help="seconds until the simulated phone scans")
	gateway_type_arg(demo, GATEWAY_TYPES)
	demo.set_defaults(func=cmd_demo)

	doctor = sub.add_parser("doctor", help="check a gateway step by step: URL, reachability, type, key")
	where_arg(doctor)
	doctor.add_argument("--api-key", default=None, help=f"or set ${KEY_ENV}")
	doctor.add_argument("--probe", action="store_true", help="also create a test session to see a QR come")
	doctor.add_argument("--probe-s", type=float, default=30.0, help="how long the test session is watched")
	doctor.add_argument("--json", action="store_true", help="print the report as JSON")
	gateway_type_arg(doctor, default=AUTO)  # the admin may not know which one it is
	doctor.set_defaults(func=cmd_doctor)

	sim = sub.add_parser("simulate", help="run the gateway simulator on its own")
	sim.add_argument("--scenario", default="linked")
	sim.add_argument("--host", default="127.0.0.1")
	sim.add_argument("--port", default="3000", help="0-65535 (0: any free port)")
	sim.add_argument("--api-key", default=None, help=f"default: ${KEY_ENV} or sim-secret-key")
	gateway_type_arg(sim, GATEWAY_TYPES)
	sim.add_argument(
		"--waha-core-2024", action="store_true", help="as WAHA Core 2024: only the session 'default', any key"
	)
	sim.set_defaults(func=cmd_simulate)

	for name, func, text in (
		("connect", cmd_connect, "create a session and get its QR (polls until linked unless --json)"),
		("status", cmd_status, "one status read"),
	):
		p = sub.add_parser(name, help=text)
		where_arg(p)
		p.add_argument("--session", required=True, help="session id: 1-64 of A-Z a-z 0-9 _ -")
		p.add_argument("--api-key", default=None, help=f"or set ${KEY_ENV}")
		p.add_argument("--deadline", type=float, default=20.0, help="seconds one acquisition may take")
		p.add_argument("--json", action="store_true", help="print the structured payload and exit")
		gateway_type_arg(p)
		if name == "connect":
			p.add_argument("--wait", type=float, default=180.0, help="seconds to keep polling for the scan")
		p.set_defaults(func=func)

	sync = sub.add_parser(
		"sync", help="read a session's messages back from the gateway (what a catch-up reads)"
	)
	where_arg(sync)
	sync.add_argument("--session", required=True, help="session id: 1-64 of A-Z a-z 0-9 _ -")
	sync.add_argument("--api-key", default=None, help=f"or set ${KEY_ENV}")
	sync.add_argument(
		"--since", type=_when, default=None, help="unix seconds or ISO date/time (default: 1 h ago)"
	)
	sync.add_argument("--max-pages", type=int, default=20, help=f"pages read at most (1-{MAX_PAGES})")
	sync.add_argument("--deadline", type=float, default=30.0, help="seconds the read may take")
	sync.add_argument("--json", action="store_true", help="print what was read as JSON")
	gateway_type_arg(sync)
	sync.set_defaults(func=cmd_sync)
	return parser


# What a bench gives the CLI for --gateway NAME: the record's URL, key and type (a KeyError says why not).
Resolver = Callable[[str], tuple[str, str, str]]


def main(argv: list[str] | None = None, resolve_gateway: Resolver | None = None) -> int:
	args = build_parser().parse_args(argv)
	problem = number_problem(args)
	if problem:
		print(f"error: {problem}", file=sys.stderr)
		return EXIT_USAGE
	if getattr(args, "session", None) is not None:
		try:
			validate_session_id(args.session)
		except GatewayError as e:
			return _report_failure(e, args)
	if getattr(args, "gateway", None):
		if resolve_gateway is None:
			print(
				"error: --gateway NAME reads a site's WhatsApp Gateway record: run it inside a bench "
				"(bench --site SITE whatsapp-crm ...), or give --url and --api-key",
				file=sys.stderr,
			)
			return EXIT_USAGE
		try:
			args.url, key, gateway_type = resolve_gateway(args.gateway)
		except KeyError as e:
			print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
			return EXIT_USAGE
		args.api_key = args.api_key or key
		if not any(a.startswith("--gateway-type") for a in (argv or sys.argv[1:])):
			args.gateway_type = gateway_type
	try:
		return args.func(args)
	except KeyboardInterrupt:
		return 130


if __name__ == "__main__":
	raise SystemExit(main())
