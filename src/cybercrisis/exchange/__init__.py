"""Exchange with other platforms and nodes: STIX 2.1, MISP (and, later, TAXII 2.1 and federation)."""
