app_name = "whatsapp_crm"
app_title = "WhatsApp CRM"
app_publisher = "whatsapp_crm developers"
app_description = "Link your company's WhatsApp numbers to Frappe CRM through a self-hosted Baileys gateway"
app_email = "dev@whatsapp-crm.local"
app_license = "mit"

# Type hints are the contract of every whitelisted method (Frappe v15 enforces them at call time).
export_python_type_annotations = True

after_install = "whatsapp_crm.install.after_install"
after_migrate = ["whatsapp_crm.install.set_missing_defaults"]

# The form's polling state machine is a plain script shared with the node tests; Frappe appends it to the
# WhatsApp Session form's own script (doctype JS is not bundled, so it cannot be imported).
doctype_js = {"WhatsApp Session": "public/js/whatsapp_session_poller.js"}
