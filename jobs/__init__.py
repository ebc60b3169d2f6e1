"""The worker: APScheduler as a timer, sweeps that claim due rows, and the command line."""
