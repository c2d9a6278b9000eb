"""cybercrisis: coordinated response to large-scale cybersecurity incidents and crises."""

__version__ = "0.1.0"
