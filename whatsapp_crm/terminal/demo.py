"""``whatsapp-crm demo``: the whole flow against the built-in gateway simulator, as the app lives it: create a
session, a slow gateway that first fails to generate the QR, the QR drawn in the terminal, linked; then a message
out, its receipts and the customer's answer through the webhooks; then an outage and the catch-up after it."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from whatsapp_crm.gateway import texts
from whatsapp_crm.gateway.acquire import QrPolicy
from whatsapp_crm.gateway.adapters import make_client, parse_webhook
from whatsapp_crm.gateway.catchup import DUPLICATE, STORED, Reconciler, SyncState
from whatsapp_crm.gateway.client import GatewayClient, Timeouts
from whatsapp_crm.gateway.messaging import READ, checked_outgoing
from whatsapp_crm.gateway.webhook import verify
from whatsapp_crm.simulator import SessionOptions, make_simulator

from .outcome import EXIT_NO_QR, exit_code, follow


def run(gateway_type: str = "baileys", scan_after: float = 3.0) -> int:
	"""``whatsapp-crm demo``: the exit code of the whole flow (a QR, linked, a conversation, a catch-up)."""
	# The problem this app exists for: a slow gateway that first fails to generate the QR.
	scenario = SessionOptions(qr_after_s=1.0, qr_errors=1, scan_after_s=scan_after, rotate_s=0)
	key = "demo-key"
	policy = QrPolicy(deadline=20.0, poll_interval=1.0)  # the app's own waits (5 s after a QR error)
	with _EventSink() as sink, make_simulator(gateway_type, api_key=key, scenario=scenario) as sim:
		print(f"Gateway simulator ({gateway_type}) running at {sim.url}")
		print("A user opens a WhatsApp Session and clicks Create session.")
		with make_client(gateway_type, sim.url, key, Timeouts(3.0, 10.0)) as client:
			session_id = "demo-sales"
			print(f"Talking to it as {client.label}.")
			print(texts.CREATING)
			created = client.create_session(session_id)
			print(f"  session {created.session_id!r} created (gateway status: {created.raw_status})")
			print(f"  (the simulated phone will scan the QR {scan_after:g} s after it is shown)")
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
