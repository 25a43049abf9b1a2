"""Customer activity report: load events, clean them, answer the objectives, write the report."""
