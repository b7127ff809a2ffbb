# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""WhatsApp Gateway records: checks on save, Test connection, permissions, where new sessions go, two
gateways of different types at once, per-gateway webhook secrets, a breaker per gateway, isolation of a
hanging session, and the patch that moves an old site's single gateway into a record."""

import json
import time

import frappe
from frappe.utils import set_request
from frappe.utils.password import get_decrypted_password, set_encrypted_password

from whatsapp_crm.api import session as api
from whatsapp_crm.api.webhook import receive
from whatsapp_crm.gateway.monitor import Watch
from whatsapp_crm.gateway_records.config import GATEWAY, breaker_for, pick_gateway
from whatsapp_crm.integration import SESSION, SETTINGS
from whatsapp_crm.sessions import live, watcher
from whatsapp_crm.simulator import SessionOptions, make_simulator
from whatsapp_crm.testing import (
	TEST_GATEWAY,
	TEST_KEY,
	GatewayTestCase,
	cleanup,
	configure,
	make_session,
	make_user,
	save_gateway,
)

PREFIX = "wagw-"
OTHER = "bench-test-gateway-2"
SECRET_A, SECRET_B = "secret-of-gateway-a", "secret-of-gateway-b"


def stored(field: str, name: str = TEST_GATEWAY):
	return frappe.db.get_value(GATEWAY, name, field)


def clear_breakers(*names: str) -> None:
	for name in names:
		live.STORE.delete(f"whatsapp_crm:breaker:{name}")


class GatewayCase(GatewayTestCase):
	prefix = PREFIX

	def tearDown(self):
		if frappe.db.exists(GATEWAY, OTHER):
			cleanup(PREFIX)
			frappe.delete_doc(GATEWAY, OTHER, ignore_permissions=True, force=True)
			frappe.db.commit()  # nosemgrep: the code under test commits; so does its cleanup
		clear_breakers(TEST_GATEWAY, OTHER)
		super().tearDown()


class TestGatewayRecord(GatewayCase):
	def test_url_is_normalised(self):
		configure(self.sim.url + "//")
		self.assertEqual(stored("gateway_url"), self.sim.url)

	def test_bad_input_is_refused_and_changes_nothing(self):
		for bad in ("ftp://gateway", "http://user:secret@gateway:3000", "gateway:3000", "http://gw/?k=1"):
			with self.subTest(bad=bad):
				with self.assertRaises(frappe.ValidationError):
					configure(bad)
				self.assertEqual(stored("gateway_url"), self.sim.url)
		for label in ("a/b", "<script>x</script>", "x" * 80):
			with self.subTest(label=label), self.assertRaises(frappe.ValidationError):
				save_gateway(label, self.sim.url)
			self.assertFalse(frappe.db.exists(GATEWAY, label))

	def test_keys_are_encrypted_and_never_reach_the_browser(self):
		configure(self.sim.url, webhook_secret=SECRET_A)
		self.assertNotEqual(stored("api_key"), TEST_KEY)
		self.assertEqual(get_decrypted_password(GATEWAY, TEST_GATEWAY, "api_key"), TEST_KEY)
		from frappe.desk.form.load import getdoc

		frappe.local.response = frappe._dict({"docs": []})
		getdoc(GATEWAY, TEST_GATEWAY)
		sent = frappe.as_json(frappe.local.response.docs)
		self.assertNotIn(TEST_KEY, sent)
		self.assertNotIn(SECRET_A, sent)

	def test_only_managers_see_gateways(self):
		clerk = make_user("wa-gw-clerk@example.com", ["Sales User"])
		manager = make_user("wa-gw-manager@example.com", ["WhatsApp Manager"])
		self.assertFalse(frappe.has_permission(GATEWAY, "read", user=clerk))
		self.assertTrue(frappe.has_permission(GATEWAY, "write", user=manager))
		with self.set_user(clerk), self.assertRaises(frappe.PermissionError):
			frappe.get_doc(GATEWAY, TEST_GATEWAY).test_connection()

	def test_one_default_at_a_time(self):
		save_gateway(OTHER, self.sim.url, is_default=1)
		self.assertEqual(frappe.get_all(GATEWAY, filters={"is_default": 1}, pluck="name"), [OTHER])
		configure(self.sim.url)  # the test gateway is the default again
		self.assertEqual(stored("is_default", OTHER), 0)

	def test_a_gateway_with_sessions_cannot_be_deleted(self):
		make_session(PREFIX + "keep")
		with self.assertRaises(frappe.ValidationError):
			frappe.delete_doc(GATEWAY, TEST_GATEWAY, ignore_permissions=True)
		self.assertTrue(frappe.db.exists(GATEWAY, TEST_GATEWAY))


class TestTestConnection(GatewayCase):
	def check(self):
		return frappe.get_doc(GATEWAY, TEST_GATEWAY).test_connection()

	def test_reachable_and_key_accepted(self):
		result = self.check()
		self.assertTrue(result["ok"])
		self.assertIsNone(result["error_code"])
		self.assertEqual([c["name"] for c in result["checks"]], ["reachable", "type", "key", "history"])
		self.assertEqual(result["gateway"], "Baileys REST 1.0")
		self.assertNotIn(TEST_KEY, frappe.as_json(result))
		self.assertEqual(stored("health_status"), "Healthy")
		self.assertTrue(stored("last_check"))

	def test_wrong_key_marks_the_gateway_down(self):
		configure(self.sim.url, api_key="not-the-key")
		result = self.check()
		self.assertEqual((result["ok"], result["error_code"]), (False, "UNAUTHORIZED"))
		self.assertEqual(result["checks"][-1]["name"], "key")
		self.assertEqual(stored("health_status"), "Down")
		self.assertIn("UNAUTHORIZED", stored("last_error"))

	def test_unreachable(self):
		configure("http://127.0.0.1:9")
		result = self.check()
		self.assertEqual((result["ok"], result["error_code"]), (False, "UNREACHABLE"))
		self.assertEqual([c["name"] for c in result["checks"]], ["reachable"])

	def test_auto_detect_names_each_type_and_remembers_it(self):
		for gateway_type, label in (("evolution", "Evolution API 2.3.6"), ("waha", "WAHA 2026.6.1")):
			with (
				self.subTest(gateway_type),
				make_simulator(gateway_type, api_key=TEST_KEY, start=True) as sim,
			):
				configure(sim.url, gateway_type="Auto-detect")
				result = self.check()
				self.assertTrue(result["ok"], result)
				self.assertEqual((result["gateway_type"], result["gateway"]), (gateway_type, label))
				self.assertEqual(
					(stored("detected_gateway_type"), stored("detected_gateway")), (gateway_type, label)
				)
				configure(self.sim.url, gateway_type="Auto-detect")  # another URL: detection is forgotten
				self.assertFalse(stored("detected_gateway_type"))

	def test_not_configured(self):
		configure(self.sim.url, enabled=0)
		self.assertEqual(self.check()["error_code"], "NOT_CONFIGURED")
		configure(self.sim.url, gateway_enabled=0)
		self.assertEqual(self.check()["error_code"], "NOT_CONFIGURED")


class TestWhereSessionsGo(GatewayCase):
	def test_the_default_gateway_then_the_one_with_most_room(self):
		save_gateway(OTHER, self.sim.url, max_sessions=5)
		first = make_session(PREFIX + "a")
		self.assertEqual(first.gateway, TEST_GATEWAY)
		configure(self.sim.url, max_sessions=1)  # the default is now full
		self.assertEqual(pick_gateway(), OTHER)
		self.assertEqual(make_session(PREFIX + "b").gateway, OTHER)

	def test_a_full_gateway_refuses_a_new_session(self):
		configure(self.sim.url, max_sessions=1)
		make_session(PREFIX + "only")
		with self.assertRaises(frappe.ValidationError):
			make_session(PREFIX + "one-more", gateway=TEST_GATEWAY)
		self.assertFalse(frappe.db.exists(SESSION, {"session_id": PREFIX + "one-more"}))

	def test_no_enabled_gateway_says_so(self):
		configure(self.sim.url, gateway_enabled=0)
		with self.assertRaises(frappe.ValidationError):
			make_session(PREFIX + "nowhere")

	def test_the_same_id_on_two_gateways(self):
		# WAHA Core before 2026.6 only accepts "default": each server holds its own.
		save_gateway(OTHER, self.sim.url)
		a = make_session(PREFIX + "default", gateway=TEST_GATEWAY)
		b = make_session(PREFIX + "default", gateway=OTHER)
		self.assertNotEqual(a.name, b.name)
		self.assertEqual((a.session_id, b.session_id), (PREFIX + "default",) * 2)
		self.assertTrue(b.name.startswith(PREFIX))
		with self.assertRaises(frappe.ValidationError):
			make_session(PREFIX + "default", gateway=OTHER)


class TwoGateways(GatewayCase):
	"""The test gateway (Baileys REST, self.sim) and a second one of another type (Evolution)."""

	def setUp(self):
		super().setUp()
		self.evo = make_simulator("evolution", api_key=TEST_KEY, scenario="qr_now", start=True)
		self.addCleanup(self.evo.stop)
		configure(self.sim.url, webhook_secret=SECRET_A)
		save_gateway(OTHER, self.evo.url, gateway_type="Evolution API", webhook_secret=SECRET_B)
		self.a = make_session(PREFIX + "on-a", gateway=TEST_GATEWAY)
		self.b = make_session(PREFIX + "on-b", gateway=OTHER)
		for name in (self.a.name, self.b.name):
			live.clear_payload(name)  # an earlier test's news is not this one's
		frappe.db.commit()  # nosemgrep: webhooks and the watcher read committed rows

	def post(self, body: bytes, secret: str, gateway: str | None = None):
		path = "/api/method/whatsapp_crm.api.webhook.receive"
		set_request(
			method="POST",
			path=path,
			query_string=f"gateway={gateway}" if gateway else "",
			data=body,
			headers={"Content-Type": "application/json", "X-Webhook-Secret": secret},
		)
		frappe.local.response = frappe._dict({"docs": []})
		result = receive()
		return frappe.local.response.get("http_status_code", 200), result

	def qr_event(self, session_id: str) -> bytes:
		return json.dumps(
			{"event": "qr", "sessionId": session_id, "id": frappe.generate_hash(), "qr": "2@abc,def"}
		).encode()

	def test_each_session_talks_to_its_own_gateway(self):
		a_before, b_before = self.sim.count(), self.evo.count()
		self.assertEqual(api.create_session(self.a.name)["status"], "QR Ready")
		self.assertEqual(self.evo.count(), b_before)  # nothing went to the other server
		self.assertEqual(api.create_session(self.b.name)["status"], "QR Ready")
		self.assertGreater(self.sim.count(session_id=self.a.session_id), 0)
		self.assertGreater(self.evo.count(), b_before)
		self.assertEqual(self.sim.count(session_id=self.b.session_id), 0)
		self.assertGreater(self.sim.count(), a_before)

	def test_a_secret_of_one_gateway_is_never_accepted_for_the_other(self):
		body = self.qr_event(self.a.session_id)
		self.assertEqual(self.post(body, SECRET_B)[0], 404)  # B's secret, A's session: B has no such session
		self.assertEqual(self.post(body, SECRET_B, gateway=OTHER)[0], 404)  # B signs: B has no such session
		self.assertEqual(self.post(body, SECRET_A, gateway=OTHER)[0], 401)  # A's secret, B's URL
		self.assertEqual(frappe.db.get_value(SESSION, self.a.name, "status"), "Not Created")
		self.assertEqual(self.post(body, SECRET_A, gateway=TEST_GATEWAY)[0], 200)
		self.assertEqual(frappe.db.get_value(SESSION, self.a.name, "status"), "QR Ready")
		# the URL registered before gateways had names still works, with the right secret
		self.assertEqual(self.post(self.qr_event(self.b.session_id), SECRET_B)[0], 200)
		self.assertEqual(frappe.db.get_value(SESSION, self.b.name, "status"), "QR Ready")
		self.assertEqual(self.post(body, SECRET_A, gateway="no-such-gateway")[0], 404)

	def test_a_new_webhook_secret_applies_from_the_next_event(self):
		"""The secret is read once per edit of the record (not per webhook): a changed one applies at once."""
		body = lambda: self.qr_event(self.a.session_id)  # noqa: E731 (a new event id each time)
		self.assertEqual(self.post(body(), SECRET_A, gateway=TEST_GATEWAY)[0], 200)
		save_gateway(TEST_GATEWAY, self.sim.url, webhook_secret="a-rotated-secret")
		self.assertEqual(self.post(body(), SECRET_A, gateway=TEST_GATEWAY)[0], 401)
		self.assertEqual(self.post(body(), "a-rotated-secret", gateway=TEST_GATEWAY)[0], 200)

	def test_the_webhook_url_names_the_gateway(self):
		from whatsapp_crm.gateway_records.config import gateway_doc, webhook_target
		from whatsapp_crm.integration import get_settings

		configure(self.sim.url, webhook_secret=SECRET_A, public_site_url="https://crm.example.com")
		target = webhook_target(gateway_doc(OTHER), get_settings())
		self.assertEqual(
			target.url,
			f"https://crm.example.com/api/method/whatsapp_crm.api.webhook.receive?gateway={OTHER}",
		)
		self.assertEqual(target.secret, SECRET_B)

	def test_a_dead_gateway_holds_back_only_its_own_sessions(self):
		breaker = breaker_for(OTHER)
		breaker.record("TIMEOUT")  # a call about the server itself failed
		self.assertTrue(breaker.state().open)
		b_before = self.evo.count()
		held = api.get_status(self.b.name)
		self.assertTrue(held["debug"].get("breaker_open"))
		self.assertEqual(self.evo.count(), b_before)
		a_before = self.sim.count()
		answered = api.get_status(self.a.name)
		self.assertFalse(answered["debug"].get("breaker_open"))
		self.assertGreater(self.sim.count(), a_before)

	def test_a_server_that_refuses_connections_is_down_for_its_sessions_only(self):
		save_gateway(OTHER, "http://127.0.0.1:9", gateway_type="Evolution API", webhook_secret=SECRET_B)
		frappe.db.commit()  # nosemgrep: read by name in the service
		self.assertEqual(api.get_status(self.b.name)["qr_error"], "UNREACHABLE")
		self.assertTrue(breaker_for(OTHER).state().open)  # one refused connection is the server's
		self.assertEqual(stored("health_status", OTHER), "Down")
		self.assertIn("UNREACHABLE", stored("last_error", OTHER))
		self.assertFalse(breaker_for(TEST_GATEWAY).state().open)
		self.assertEqual(api.get_status(self.a.name)["debug"].get("breaker_open"), None)
		self.assertNotEqual(stored("health_status"), "Down")

	def test_one_hanging_session_does_not_open_its_gateways_breaker(self):
		configure(self.sim.url, webhook_secret=SECRET_A, status_timeout=1, qr_timeout=1)
		sick = make_session(PREFIX + "sick", gateway=TEST_GATEWAY)
		self.sim.set_scenario(sick.session_id, "hang")
		frappe.db.commit()  # nosemgrep: read by name in the service
		first = api.get_status(sick.name)
		self.assertEqual(first["qr_error"], "TIMEOUT")
		self.assertFalse(breaker_for(TEST_GATEWAY).state().open)
		live.clear_payload(sick.name)
		again = api.get_status(sick.name)
		self.assertTrue(again["debug"].get("breaker_open"))  # it backs off on its own
		before = self.sim.count(session_id=self.a.session_id)
		api.get_status(self.a.name)  # its neighbour is still asked
		self.assertGreater(self.sim.count(session_id=self.a.session_id), before)
		live.STORE.delete(f"whatsapp_crm:breaker:{TEST_GATEWAY}:{sick.name}")


class TestIsolation(GatewayCase):
	def setUp(self):
		super().setUp()
		live.Lock(live.WATCHER_LOCK, 1).release()

	def test_a_linked_session_beside_a_hanging_one_is_not_held_back(self):
		# The hanging session's read runs into its 3 s read timeout; its neighbour is linked on the gateway.
		configure(self.sim.url, status_timeout=3, qr_timeout=3, use_monitor=1)
		sick = make_session(PREFIX + "hangs")
		well = make_session(PREFIX + "linked")
		self.sim.set_scenario(sick.session_id, "hang")
		self.sim.set_scenario(well.session_id, SessionOptions(qr_after_s=0, rotate_s=0))
		from whatsapp_crm.gateway.adapters import make_client

		with make_client("baileys", self.sim.url, TEST_KEY) as client:
			client.create_session(well.session_id)
		self.sim.scan(well.session_id)
		frappe.db.commit()  # nosemgrep: the watcher reads committed documents
		now = time.time()
		for doc in (sick, well):
			live.watch_put(Watch(doc.name, doc.session_id, now, now, gateway=TEST_GATEWAY))
		self.addCleanup(live.watch_drop, sick.name)
		self.addCleanup(live.watch_drop, well.name)
		self.addCleanup(live.STORE.delete, f"whatsapp_crm:breaker:{TEST_GATEWAY}:{sick.name}")
		# One slice: it waits for the hanging read (its timeout must reach its user), serving the other meanwhile.
		self.assertEqual(watcher.tick(slice_s=0.5, requeue=False), "slice")
		linked = frappe.db.get_value(SESSION, well.name, ["status", "connected_at"], as_dict=True)
		hung = frappe.db.get_value(SESSION, sick.name, ["last_error_code", "last_checked"], as_dict=True)
		self.assertEqual((linked.status, hung.last_error_code), ("Connected", "TIMEOUT"))
		# Connected was stored before the hanging read ended, not after it (a round waiting for its slowest).
		self.assertLess(linked.connected_at, hung.last_checked)
		self.assertFalse(breaker_for(TEST_GATEWAY).state().open)  # one session's trouble, not the gateway's


class TestMovePatch(GatewayCase):
	"""A site of the old version: the gateway lived in the settings (rows in tabSingles and __Auth that
	the settings doctype no longer has fields for) and sessions had no gateway."""

	def old_site(self, url: str) -> None:
		for field, value in {
			"gateway_url": url,
			"gateway_type": "Evolution API",
			"detected_gateway": "Evolution API 2.3.6",
			"detected_gateway_type": "evolution",
		}.items():
			frappe.db.sql("delete from `tabSingles` where doctype=%s and field=%s", (SETTINGS, field))
			frappe.db.sql(
				"insert into `tabSingles` (doctype, field, value) values (%s, %s, %s)",
				(SETTINGS, field, value),
			)
		set_encrypted_password(SETTINGS, SETTINGS, "old-api-key", "api_key")
		set_encrypted_password(SETTINGS, SETTINGS, "old-webhook-secret", "webhook_secret")

	def test_the_old_gateway_becomes_the_first_record(self):
		from whatsapp_crm.patches import gateway_records

		old = make_session(PREFIX + "old")
		frappe.db.set_value(
			SESSION, old.name, {"gateway": None, "status": "Connected"}, update_modified=False
		)
		# Only the patch's own record: the site's gateways are put aside for the test (rolled back below).
		frappe.db.savepoint("before_patch")
		try:
			frappe.db.sql(f"delete from `tab{GATEWAY}`")
			self.old_site("http://127.0.0.1:8080")
			gateway_records.execute()
			gateway_records.execute()  # safe to run again
			record = frappe.get_doc(GATEWAY, gateway_records.FIRST)
			self.assertEqual(
				(record.gateway_url, record.gateway_type, record.is_default, record.detected_gateway),
				("http://127.0.0.1:8080", "Evolution API", 1, "Evolution API 2.3.6"),
			)
			self.assertEqual(record.get_password("api_key"), "old-api-key")
			self.assertEqual(record.get_password("webhook_secret"), "old-webhook-secret")
			moved = frappe.db.get_value(SESSION, old.name, ["gateway", "status", "session_id"])
			self.assertEqual(moved, (gateway_records.FIRST, "Connected", PREFIX + "old"))  # not re-linked
			self.assertFalse(
				frappe.db.sql("select 1 from `tabSingles` where doctype=%s and field='gateway_url'", SETTINGS)
			)
			self.assertIsNone(get_decrypted_password(SETTINGS, SETTINGS, "api_key", raise_exception=False))
		finally:
			frappe.db.rollback(save_point="before_patch")
			for name in (gateway_records.FIRST, TEST_GATEWAY):
				frappe.clear_document_cache(GATEWAY, name)
