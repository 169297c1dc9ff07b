"""A one-line text progress bar on stderr, so training needs no extra package."""

import sys
import time


class ProgressBar:
    """Shows `done/total`, a bar, the latest cost and the elapsed time on one rewritten line."""

    def __init__(self, total, label="epoch", enabled=True, stream=None, width=30):
        self.total, self.label, self.enabled, self.width = total, label, enabled, width
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.perf_counter()

    def update(self, done, cost=None):
        """Redraw the line for `done` of `total` steps."""
        if not self.enabled:
            return
        filled = int(self.width * done / max(self.total, 1))
        bar = "#" * filled + "." * (self.width - filled)
        shown_cost = "" if cost is None else f"  cost {cost:.6f}"
        elapsed = time.perf_counter() - self.started
        self.stream.write(f"\r[{bar}] {self.label} {done}/{self.total}{shown_cost}  {elapsed:.1f}s")
        self.stream.flush()

    def close(self):
        """End the line so that later output starts on a new one."""
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
