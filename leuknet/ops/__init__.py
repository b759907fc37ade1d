"""Native TensorFlow kernels, compiled from source on first use.

``cross_channel_norm()`` returns the loaded op library built from :file:`cross_channel_norm.cc` (the cross-channel
normalisation forward and gradient, one pass over each pixel's channel vector, alone or followed by max pooling)
and :file:`conv_filter_grad.cc` (the weight gradient of a convolution with few input channels), or ``None`` where
it cannot be built; callers then use TensorFlow's own ops (the XLA normalisation), which give the same results.
The shared library is built with the C++ compiler found on the machine (``$CXX``, else ``c++``/``g++``) against
the installed TensorFlow's headers, for this CPU (``-march=native``), into ``$LEUKNET_OPS_CACHE`` (default
``~/.cache/leuknet/ops``) under a name that hashes the sources, TensorFlow version, compiler and CPU flags, so it
is built once per machine and TensorFlow.

``LEUKNET_NATIVE_OPS``: ``auto`` (default: use when it builds), ``0`` (never: XLA only), ``1`` (required: a
build failure is an error).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("cross_channel_norm.cc")
CONV_SOURCE = Path(__file__).with_name("conv_filter_grad.cc")  # built into the same library


def _sources() -> list:
    """The library's source files (read at call time: tests point SOURCE elsewhere)."""
    return [SOURCE, CONV_SOURCE]

_state: dict = {}
_loaded: dict = {}  # the op library loaded into this process (kept by reset())


class NativeOpsError(RuntimeError):
    pass


def mode() -> str:
    value = os.environ.get("LEUKNET_NATIVE_OPS", "auto").strip().lower()
    return {"0": "off", "false": "off", "off": "off", "no": "off", "1": "on", "true": "on", "on": "on",
            "yes": "on"}.get(value, "auto")


def cache_dir() -> Path:
    return Path(os.environ.get("LEUKNET_OPS_CACHE", Path.home() / ".cache" / "leuknet" / "ops"))


def _compiler() -> str | None:
    for name in filter(None, (os.environ.get("CXX"), "c++", "g++", "clang++")):
        found = shutil.which(name)
        if found:
            return found
    return None


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    import platform

    return platform.processor() + platform.machine()


# -march=native: the kernels vectorise for this CPU (the file name carries the CPU flags). Eigen's AVX512-FP16 path
# does not compile with GCC 12, hence -mno-avx512fp16 where the compiler knows it.
NATIVE_ATTEMPTS = (["-march=native", "-mno-avx512fp16", "-mprefer-vector-width=512"], ["-march=native"], [])


def _build(cxx: str, out: Path, sources=None, attempts=NATIVE_ATTEMPTS) -> None:
    """Compile ``sources`` (default: the library's) into ``out`` (atomically) with the first of ``attempts``
    (extra flags) that works."""
    sources = _sources() if sources is None else list(sources)
    import tensorflow as tf

    flags = list(tf.sysconfig.get_compile_flags()) + list(tf.sysconfig.get_link_flags())
    base = [cxx, "-shared", "-fPIC", "-O3", "-fno-math-errno", "-Wno-deprecated-declarations", *map(str, sources)]
    errors = []
    for extra in attempts:
        with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
            target = Path(tmp) / out.name
            proc = subprocess.run(base + extra + ["-o", str(target)] + flags, capture_output=True, text=True,
                                  timeout=600)
            if proc.returncode == 0:
                os.replace(target, out)
                return
            errors.append(proc.stderr.strip().splitlines()[-1:] or ["exit %d" % proc.returncode])
    names = ", ".join(Path(f).name for f in sources)
    raise NativeOpsError(f"{cxx} could not build {names}: {errors[-1][0] if errors[-1] else ''}")


def library_path() -> Path:
    import tensorflow as tf

    cxx = _compiler() or "none"
    key = hashlib.sha256()
    for part in (*(f.read_bytes() for f in _sources()), tf.__version__.encode(), sys.version.encode(),
                 cxx.encode(), _cpu_flags().encode()):
        key.update(part)
        key.update(b"\0")
    return cache_dir() / f"cross_channel_norm-{tf.__version__}-{key.hexdigest()[:16]}.so"


def cross_channel_norm():
    """The op library, or ``None`` (with the reason in :func:`status`) where native kernels are off or cannot
    be built. Loaded once per process."""
    if "ccn" in _state:
        return _state["ccn"]
    lib, why = None, None
    if mode() == "off":
        why = "LEUKNET_NATIVE_OPS=0"
    else:
        try:
            lib = _load()
        except (NativeOpsError, OSError, subprocess.SubprocessError) as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if mode() == "on":
                raise NativeOpsError(f"LEUKNET_NATIVE_OPS=1 but the native kernel is unavailable: {why}") from exc
            log.info("Note: leuknet's native cross-channel normalisation kernel is unavailable (%s): XLA's is "
                     "used", why)
    _state["ccn"], _state["ccn_why"] = lib, why
    return lib


def _load():
    import fcntl

    import tensorflow as tf

    if _compiler() is None:
        raise NativeOpsError("no C++ compiler found (set CXX, or install g++)")
    path = library_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one build for concurrent processes (pytest workers, ranks)
            if not path.exists():
                log.info(f"Building leuknet's native cross-channel normalisation kernel into {path.parent} (once "
                         "per machine and TensorFlow version, 15-30 s) ...")
                _build(_compiler(), path)
    if "module" in _loaded:
        # TensorFlow registers an op once per process: a second library with the same ops (another cache
        # directory, or the source edited while the process runs) would load without them
        return _loaded["module"]
    try:
        _loaded["module"] = tf.load_op_library(str(path))
        return _loaded["module"]
    except Exception as exc:  # noqa: BLE001 - a stale or foreign library: rebuild once
        path.unlink(missing_ok=True)
        raise NativeOpsError(f"could not load {path.name}: {exc}") from exc


def status() -> str:
    """'native' or 'xla (reason)' for the cross-channel normalisation kernels, for config.json and bench."""
    lib = cross_channel_norm()
    return "native" if lib is not None else f"xla ({_state.get('ccn_why')})"


def used() -> dict:
    """What this process's layers asked for and got: {} when no layer needed a native kernel."""
    if "ccn" not in _state:
        return {}
    return {"cross_channel_norm": "native" if _state["ccn"] is not None else f"xla ({_state['ccn_why']})"}


def reset():
    """Forget the loaded state (tests)."""
    _state.clear()
