"""Bulk intake of tips from files: CSV, JSON and CyberTipline-style XML."""
