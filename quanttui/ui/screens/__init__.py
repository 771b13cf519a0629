"""The console's screens: the monitor, help, and the SLO input."""
