"""`citestream serve --workers N`: N processes answering on one port (see supervisor.py).

Kept empty: a spawned worker imports this package before anything else, and answers its
supervisor's pings only once that import is done."""
