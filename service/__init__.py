"""Homeward's HTTP service and the domain services shared with jobs and the CLI."""
