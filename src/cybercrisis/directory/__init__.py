"""Organisations, their levels and communities, contacts: the directory of the crisis cooperation framework."""
