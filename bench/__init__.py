"""`make bench`: load a real cybercrisis server over loopback and compare its reads to a trivial endpoint.

Run from the repository root with the project's virtualenv: `.venv/bin/python -m bench --help`.
"""
