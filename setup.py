# Shim for tooling that still runs setup.py; pyproject.toml (flit) is the source of truth.
from setuptools import find_packages, setup

setup(packages=find_packages(include=["whatsapp_crm", "whatsapp_crm.*"]), include_package_data=True)
