# One opening of a number's week (a row of the WhatsApp Session's Business Hours).

from frappe.model.document import Document


class WhatsAppBusinessHours(Document):
	pass
