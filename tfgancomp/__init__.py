"""tfgancomp."""
