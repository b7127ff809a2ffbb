# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt

import frappe

from whatsapp_crm.integration import SETTINGS
from whatsapp_crm.testing import TEST_KEY, GatewayTestCase, configure, make_user
from whatsapp_crm.whatsapp_crm.doctype.whatsapp_crm_settings.whatsapp_crm_settings import test_connection


class TestWhatsAppCRMSettings(GatewayTestCase):
	def stored(self, field):
		return frappe.db.get_single_value(SETTINGS, field)

	def test_url_is_normalised(self):
		configure(self.sim.url + "//")
		self.assertEqual(self.stored("gateway_url"), self.sim.url)

	def test_bad_urls_are_refused_and_change_nothing(self):
		for bad in ("ftp://gateway", "http://user:secret@gateway:3000", "gateway:3000", "http://gw/?k=1"):
			with self.subTest(bad=bad):
				with self.assertRaises(frappe.ValidationError):
					configure(bad)
				self.assertEqual(self.stored("gateway_url"), self.sim.url)

	def test_policy_bounds(self):
		for field, value in (
			("max_attempts", 0),
			("deadline", 200),
			("poll_interval", 0.1),
			("wait_max", 0.1),
		):
			with self.subTest(field=field):
				with self.assertRaises(frappe.ValidationError):
					configure(self.sim.url, **{field: value})
		self.assertEqual(self.stored("deadline"), 3)

	def test_api_key_is_stored_encrypted(self):
		self.assertNotEqual(self.stored("api_key"), TEST_KEY)
		self.assertEqual(frappe.get_single(SETTINGS).get_password("api_key"), TEST_KEY)

	def test_connection_reachable_and_key_accepted(self):
		result = test_connection()
		self.assertTrue(result["ok"])
		self.assertIsNone(result["error_code"])
		# ... and whether missed messages can be read back (news, not a failure)
		self.assertEqual([c["name"] for c in result["checks"]], ["reachable", "type", "key", "history"])
		self.assertEqual({c["result"] for c in result["checks"]}, {"ok"})
		self.assertEqual(result["gateway"], "Baileys REST 1.0")  # the type and the version it reports
		self.assertNotIn(TEST_KEY, frappe.as_json(result))

	def test_connection_wrong_key(self):
		configure(self.sim.url, api_key="not-the-key")
		result = test_connection()
		self.assertFalse(result["ok"])
		self.assertEqual(result["checks"][0]["result"], "ok")  # reachable
		self.assertEqual(result["error_code"], "UNAUTHORIZED")
		self.assertEqual(result["checks"][-1]["name"], "key")

	def test_connection_unreachable(self):
		configure("http://127.0.0.1:9")
		result = test_connection()
		self.assertFalse(result["ok"])
		self.assertEqual(result["error_code"], "UNREACHABLE")
		self.assertEqual([c["name"] for c in result["checks"]], ["reachable"])

	def test_auto_detect_names_each_type_and_remembers_it(self):
		from whatsapp_crm.gateway.sim import make_simulator

		for gateway_type, label in (("evolution", "Evolution API 2.3.6"), ("waha", "WAHA 2026.6.1")):
			with (
				self.subTest(gateway_type),
				make_simulator(gateway_type, api_key=TEST_KEY, start=True) as sim,
			):
				configure(sim.url, gateway_type="Auto-detect")
				result = test_connection()
				self.assertTrue(result["ok"], result)
				self.assertEqual((result["gateway_type"], result["gateway"]), (gateway_type, label))
				stored = frappe.db.get_singles_dict(SETTINGS)
				self.assertEqual(
					(stored.detected_gateway_type, stored.detected_gateway), (gateway_type, label)
				)
				configure(
					self.sim.url, gateway_type="Auto-detect"
				)  # another URL: what was detected is forgotten
				self.assertFalse(frappe.db.get_single_value(SETTINGS, "detected_gateway_type"))

	def test_connection_not_configured(self):
		configure(self.sim.url, enabled=0)
		self.assertEqual(test_connection()["error_code"], "NOT_CONFIGURED")

	def test_connection_needs_the_role(self):
		user = make_user("wa-settings-nobody@example.com")
		with self.set_user(user), self.assertRaises(frappe.PermissionError):
			test_connection()
