"""Figures and reports, drawn from plain records (profiles, results DataFrames)."""
