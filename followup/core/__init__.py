"""The pure core: data and decisions, no I/O.

Modules here read no file, clock, environment variable or network: planning and send
rules are functions of data and ``now``.  They may import the standard library,
pydantic/babel-free helpers, :mod:`followup.exceptions`, :mod:`followup.timeutil` and
each other (``tests/unit/test_layers.py`` keeps it so).
"""
