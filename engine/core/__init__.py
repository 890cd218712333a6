"""The ledger itself: clock, calendar, errors, views, workflows and their machines, the trail, reads and policy. Imports nothing else in engine/."""
