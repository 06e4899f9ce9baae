"""What a run shows while it works.

stdout carries the seed programs' own prints (`print(net)`, the tutorial's `[epoch, batch] loss:`
lines, GroundTruth/Predicted, the accuracies) and the run folder, last: nothing there depends on
timing, so two runs with one seed print the same text. stderr carries the rest: a tqdm bar
(loss, samples/s, time left) when it is a terminal, otherwise one plain progress line every
`HEARTBEAT_S` seconds, so CI logs stay readable. `--quiet` keeps only the run folder and errors.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

HEARTBEAT_S = 30.0
POSTFIX_S = 0.1


class Screen:
    def __init__(
        self,
        quiet: bool = False,
        tty: bool | None = None,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.quiet = quiet
        self.tty = self.err.isatty() if tty is None else tty
        self.bar = None
        self.total = 0
        self.done = self.initial = 0
        self.started = self.last_note = self.last_postfix = 0.0
        self.batch_size = 1

    # -- lines ------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        """Lines of the seed's output (stdout), above the bar if there is one."""
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(text, file=self.out)
        else:
            print(text, file=self.out, flush=True)

    def note(self, text: str) -> None:
        """A remark about the run, not its results (stderr)."""
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(text, file=self.err)
        else:
            print(text, file=self.err, flush=True)

    def result(self, text: str) -> None:
        """Printed even with --quiet: the run folder."""
        self.close()
        print(text, file=self.out, flush=True)

    # -- progress ---------------------------------------------------------------------------

    def start(self, total: int, done: int, batch_size: int) -> None:
        self.total, self.done, self.initial, self.batch_size = total, done, done, batch_size
        self.started = self.last_note = self.last_postfix = time.monotonic()
        if self.quiet or not self.tty:
            return
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            initial=done,
            file=self.err,
            unit="step",
            dynamic_ncols=True,
            mininterval=0.2,
            leave=False,
        )

    def step(self, loss: float, now: float) -> None:
        self.done += 1
        if self.quiet:
            return
        if self.bar is not None:
            # The bar hears of steps every POSTFIX_S: a tqdm update per step would cost a
            # loop whose step is 350 µs a percent or two.
            if now - self.last_postfix > POSTFIX_S:
                self.last_postfix = now
                self.bar.update(self.done - self.bar.n)
                self.bar.set_postfix_str(
                    f"loss {loss:.4g}, {self._rate(now):,.0f} samples/s", refresh=False
                )
        elif now - self.last_note > HEARTBEAT_S:
            self.last_note = now
            print(self._heartbeat(now, loss), file=self.err, flush=True)

    def _rate(self, now: float) -> float:
        return self.batch_size * (self.done - self.initial) / max(now - self.started, 1e-9)

    def _heartbeat(self, now: float, loss: float) -> str:
        elapsed = now - self.started
        pace = elapsed / max(self.done - self.initial, 1)
        left = pace * max(self.total - self.done, 0)
        pct = 100 * self.done / self.total if self.total else 0
        return (
            f"step {self.done:,}/{self.total:,} ({pct:.0f}%)  loss {loss:.4g}  "
            f"{self._rate(now):,.0f} samples/s  {_clock(left)} left"
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.update(self.done - self.bar.n)
            self.bar.close()
            self.bar = None


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
