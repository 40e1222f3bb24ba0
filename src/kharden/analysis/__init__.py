"""Analyses of an inventory: effective pod specs, image references (engines join here)."""
