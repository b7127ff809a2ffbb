"""Bench commands of the app (Frappe reads ``commands`` from here)."""

import sys

import click
from frappe.commands import get_site, pass_context


@click.command(
	"whatsapp-crm",
	context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@pass_context
def whatsapp_crm(context, args):
	"""The whatsapp-crm command on a site: doctor, connect, status and sync take --gateway NAME."""
	from whatsapp_crm.gateway_records.cli import run

	sys.exit(run(get_site(context), list(args)))


commands = [whatsapp_crm]
