"""The ``whatsapp-crm`` terminal command (cli.py) and its demo (demo.py): frappe-free, over the gateway
package and, for the demo and ``simulate``, the simulator."""
