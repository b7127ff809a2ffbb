"""Frappe side of a session's life: the service behind the form, the watcher, the sweep, live state and history."""
