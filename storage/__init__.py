"""Tables, database URLs and sessions. Knows dialects; knows no business rules."""
