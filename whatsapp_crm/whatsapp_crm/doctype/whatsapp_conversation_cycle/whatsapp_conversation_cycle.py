# One opening of a conversation until it is resolved: the rows the inbox reports read (chat/cycles.py).

from frappe.model.document import Document


class WhatsAppConversationCycle(Document):
	pass
