"""duban's command line: thin click commands split by noun. Heavy imports happen inside commands."""
