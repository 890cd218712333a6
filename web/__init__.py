"""The team's workspace: ``duban serve``, pages for units, supervisors and leaders, and a JSON API.

A front like ``cli/``: it calls the engine only (never ``storage/``), and every write goes through
the engine, so through the workflow's rules and the hash-chained trail.
"""
