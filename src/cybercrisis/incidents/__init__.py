"""Incidents: common taxonomy, NIS2 reporting clocks, significance assessment, observables and correlation."""
