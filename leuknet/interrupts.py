"""Ctrl-C that is never lost.

Python raises KeyboardInterrupt wherever the main thread happens to be when SIGINT arrives; raised inside a
garbage-collection callback it is printed ("Exception ignored in ...") and dropped, and the program goes on. JAX
registers such a callback (``jax._src.lib._xla_gc_callback``), also in TensorFlow runs, since TensorFlow imports
JAX where it is installed: a Ctrl-C during training was lost that way, one press in a few, and the run finished
as if nothing had happened. While :func:`kept` is in force, SIGINT raises KeyboardInterrupt as before and is also
remembered; :func:`check`, called at safe points (after every training iteration, on every progress event),
raises it again if it was swallowed. Where the signal lands inside a registered garbage-collection callback, it is
only remembered (no "Exception ignored" report on stderr): check() raises it."""

from __future__ import annotations

import contextlib
import signal
import threading

_pressed = threading.Event()


def _handler(signum, frame):
    _pressed.set()
    if _in_gc_callback(frame):
        return  # raised here it would be printed ("Exception ignored in ...") and dropped: check() raises it
    raise KeyboardInterrupt


def _in_gc_callback(frame) -> bool:
    """Whether ``frame`` runs inside one of the registered garbage-collection callbacks (JAX's stays registered)."""
    import gc

    codes = {getattr(cb, "__code__", None) for cb in gc.callbacks} - {None}
    while frame is not None:
        if frame.f_code in codes:
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def kept():
    """SIGINT remembered for :func:`check` while inside. The handler is installed only in the main thread and
    only over Python's default one: a program's own SIGINT handler is left alone (and nesting is harmless)."""
    mine = (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    if mine:
        _pressed.clear()
        signal.signal(signal.SIGINT, _handler)
    try:
        yield
    finally:
        if mine:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def check():
    """Raise the KeyboardInterrupt of a Ctrl-C pressed since :func:`kept` began (once)."""
    if _pressed.is_set():
        _pressed.clear()
        raise KeyboardInterrupt
