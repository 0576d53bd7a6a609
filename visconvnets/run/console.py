"""What the console shows: TensorFlow's native start-up lines kept off it (unless --verbose 2), and
Keras warnings that our own calls cause filtered out. No TensorFlow is imported at module level."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from pathlib import Path

# Keras 3.15 warns on every call of a one-input functional model with a bare tensor (our own calls)
KERAS_STRUCTURE_WARNING = r"The structure of `inputs` doesn't match the expected structure"


@contextlib.contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at /dev/null for the duration: TensorFlow's C++ writes its start-up lines
    (oneDNN, CUDA stubs, "failed call to cuInit" on CPU-only machines) there before any log level
    applies. Python's own errors still reach ``sys.stderr`` once the block ends."""
    sys.stderr.flush()
    saved = os.dup(2)
    with Path(os.devnull).open("w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def start_tensorflow(verbose: int) -> None:
    """Import TensorFlow and look for devices, quietly unless ``verbose`` is 2; filter the Keras
    warnings our own calls cause."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if verbose < 2:
        warnings.filterwarnings("ignore", message=KERAS_STRUCTURE_WARNING)
        with native_stderr_silenced():
            import tensorflow as tf  # imported here, inside the silenced block: its start-up lines go to fd 2

            tf.config.list_physical_devices()  # the CUDA probe runs here, also silenced
