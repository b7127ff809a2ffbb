app_name = "whatsapp_crm"
app_title = "WhatsApp CRM"
app_publisher = "whatsapp_crm developers"
app_description = "Link your company's WhatsApp numbers to Frappe CRM through a self-hosted Baileys gateway"
app_email = "dev@whatsapp-crm.local"
app_license = "mit"

# Type hints are the contract of every whitelisted method (Frappe v15 enforces them at call time).
export_python_type_annotations = True
