"""Frappe-free client, policy and simulator for a self-hosted Baileys WhatsApp gateway.

Nothing in this package imports frappe: the whole protocol and retry policy is tested with plain pytest
against the simulator over real loopback HTTP.
"""
