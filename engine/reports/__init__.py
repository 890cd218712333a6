"""Reports: progress figures as of a date, the public notice and the dashboard."""
