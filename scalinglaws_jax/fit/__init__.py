"""Fitting laws to training runs."""
