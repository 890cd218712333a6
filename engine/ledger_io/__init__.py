"""Ledger files in and out: import of offices' 整改台账 (xlsx, csv, json), exports (xlsx, csv, lossless
json, ics) and the evidence binder (整改资料册)."""
