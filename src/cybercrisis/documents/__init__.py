"""Documents an organisation keeps in the platform: SOPs, national crisis plans, contact sheets."""
