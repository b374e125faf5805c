"""Inventory models; each module is re-exported here."""
