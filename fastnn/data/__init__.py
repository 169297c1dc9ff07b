"""Real data sets shipped with fastnn (see README.md here)."""
