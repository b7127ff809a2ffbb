# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt

import frappe

from whatsapp_crm.integration import SETTINGS
from whatsapp_crm.testing import GatewayTestCase, configure


class TestWhatsAppCRMSettings(GatewayTestCase):
	def stored(self, field):
		return frappe.db.get_single_value(SETTINGS, field)

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

	def test_the_settings_hold_no_gateway(self):
		# The servers are WhatsApp Gateway records; the settings are the site-wide policy.
		fields = {df.fieldname for df in frappe.get_meta(SETTINGS).fields}
		self.assertFalse(fields & {"gateway_url", "api_key", "webhook_secret", "gateway_type"})
		self.assertIn("public_site_url", fields)
