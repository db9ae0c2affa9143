"""Draws of a source that cannot jump ahead, filled by a helper thread one super-block ahead of
the kernels that round them, so that filling and rounding overlap on several cores."""
import queue
import threading

import numpy as np


class DrawPrefetch:
    """The next ``n`` draws of ``r`` bits of ``source``, in stream order, filled by a helper
    thread ``block`` draws at a time, at most ``depth`` blocks ahead (memory O(block)).  The
    caller holds ``source.lock`` from before the construction until after ``close()``, and
    takes the draws in order with ``take(k)``; ``close()`` stops the helper (the source then
    stands after the draws filled so far, which are all n once every draw was taken).

    >>> from fxsim import Ideal
    >>> src = Ideal("mt19937", seed=1)
    >>> with src.lock:
    ...     pre = DrawPrefetch(src, 16, 5, 2)
    ...     d = pre.take(5)
    ...     pre.close()
    >>> bool((d == Ideal("mt19937", seed=1).draws(5, 16)).all())
    True
    """

    def __init__(self, source, r: int, n: int, block: int, depth: int = 2):
        self._q = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._left = np.empty(0, dtype=np.uint64)
        self._thread = threading.Thread(target=self._run, args=(source, r, n, block),
                                        name="fxsim-draw-prefetch", daemon=True)
        self._thread.start()

    def _run(self, source, r, n, block):
        try:
            for lo in range(0, n, block):
                d = np.empty(min(block, n - lo), dtype=np.uint64)
                source._fill(d, r)
                while not self._stop.is_set():
                    try:
                        self._q.put(d, timeout=0.05)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
        except BaseException as e:          # handed to the taker
            self._q.put(e)

    def take(self, k: int) -> np.ndarray:
        """The next k draws (a uint64 array)."""
        parts = []
        while k > 0:
            if not self._left.size:
                d = self._q.get()
                if isinstance(d, BaseException):
                    raise d
                self._left = d
            m = min(k, self._left.size)
            parts.append(self._left[:m])
            self._left = self._left[m:]
            k -= m
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._q.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()
