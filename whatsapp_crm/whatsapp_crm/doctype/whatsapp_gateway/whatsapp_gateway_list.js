frappe.listview_settings["WhatsApp Gateway"] = {
	add_fields: ["health_status", "enabled"],
	get_indicator(doc) {
		if (!doc.enabled) return [__("Disabled"), "gray", "enabled,=,0"];
		const colors = { Healthy: "green", Down: "red", Unknown: "gray" };
		return [__(doc.health_status || "Unknown"), colors[doc.health_status] || "gray", `health_status,=,${doc.health_status}`];
	},
};
