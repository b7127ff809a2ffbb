"""frappe_whatsapp's WhatsApp Message, for accounts backed by a WhatsApp Session (``override_doctype_class``).

Messages of Meta-backed accounts behave exactly as before. For a gateway-backed account an outgoing message is
checked, queued and sent by a job after the request commits (never waiting on the gateway in the request),
and its status is written later with ``doc.save()`` so Frappe CRM's realtime refresh shows the ticks.
Messages the gateway reports (received, or typed on the phone) arrive with ``flags.from_gateway``.
"""

from __future__ import annotations

import frappe
from frappe import _
from frappe_whatsapp.frappe_whatsapp.doctype.whatsapp_message.whatsapp_message import WhatsAppMessage

from whatsapp_crm.chat import numbers, outbox, provider
from whatsapp_crm.gateway.phones import with_plus

# What a gateway sends; templates, flows, buttons and catalogs are Meta's Cloud API features.
SENDABLE = ("text", "image", "document", "video", "audio", "reaction")


class GatewayWhatsAppMessage(WhatsAppMessage):
	def autoname(self) -> None:
		if self.flags.gateway_name:
			# One document per gateway message id: a repeated event collides on the primary key.
			self.name = self.flags.gateway_name

	def _gateway_session(self) -> str | None:
		if "gateway_session" not in self.flags:
			self.flags.gateway_session = provider.session_for_account(self.whatsapp_account)
		return self.flags.gateway_session

	def before_insert(self) -> None:
		self.set_whatsapp_account()
		if not self._gateway_session():
			return super().before_insert()
		if self.flags.from_gateway:
			self.create_whatsapp_profile()
			return
		if self.type != "Outgoing":
			frappe.throw(_("Incoming WhatsApp messages are created by the gateway, not by hand."))
		if (
			self.template
			or self.use_template
			or self.message_type == "Template"
			or self.content_type not in SENDABLE
		):
			frappe.throw(
				_(
					"Templates, flows and buttons are features of Meta's WhatsApp Cloud API. The account {0} sends through a WhatsApp gateway session, which sends text, images, documents, audio, video and reactions."
				).format(frappe.bold(self.whatsapp_account)),
				title=_("Not available on this account"),
			)
		if not self.flags.gateway_system_send:  # an opt-out confirmation, a campaign checked when started
			provider.check_can_send(self.whatsapp_account)
		self.to = with_plus(numbers.site_digits(self.to))
		self.message_type = "Manual"
		self.status = outbox.QUEUED
		self.create_whatsapp_profile()

	def after_insert(self) -> None:
		if (
			self._gateway_session()
			and self.type == "Outgoing"
			and not self.flags.from_gateway
			and not self.flags.gateway_no_flush
		):
			outbox.enqueue(self.name, self._gateway_session())

	def send_template(self) -> None:
		if self._gateway_session():
			frappe.throw(_("Templates can only be sent through Meta's WhatsApp Cloud API."))
		super().send_template()

	@frappe.whitelist()
	def send_read_receipt(self) -> bool | None:
		if self._gateway_session():
			return False  # the linked phone shows the blue ticks itself when the chat is opened there
		return super().send_read_receipt()
