"""Devices and scale-out: logical CPUs, the precision for this machine, the tf.distribute strategy, the chief."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from ..settings.names import STRATEGIES

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of CPUs with bfloat16 arithmetic units


def configure_devices(logical_cpus: int = 0) -> None:
    """Split the CPU into ``logical_cpus`` devices (for MirroredStrategy on CPU; must run before
    TensorFlow touches a device)."""
    if logical_cpus and logical_cpus > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * logical_cpus)


def cpu_has_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True when the CPU lists a bfloat16 unit (oneDNN then runs bf16 layers natively, not emulated).
    False where /proc/cpuinfo does not exist (macOS, Windows)."""
    try:
        flags = set(cpuinfo.read_text(errors="replace").split())
    except OSError:
        return False
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def resolve_precision(precision: str) -> str:
    """``auto`` -> mixed_float16 with a GPU, mixed_bfloat16 on a CPU with bf16 units, else float32;
    any other value (a Keras dtype policy name) is returned as given."""
    if precision != "auto":
        return precision
    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    return "mixed_bfloat16" if cpu_has_bfloat16() else "float32"


def make_strategy(kind: str):
    """``none``: the default strategy; ``mirrored``: all local GPUs, else all logical CPUs;
    ``multiworker``: ``MultiWorkerMirroredStrategy`` configured by the ``TF_CONFIG`` variable."""
    if kind == "none":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        devices = [device.name for device in tf.config.list_logical_devices("GPU")]
        devices = devices or [device.name for device in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if kind == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--distribute multiworker needs the TF_CONFIG environment variable (cluster and task)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"--distribute must be one of {', '.join(STRATEGIES)}, got {kind!r}")


def is_chief() -> bool:
    """True unless TF_CONFIG names this process as a non-chief worker (which must not write outputs)."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = config.get("task", {})
    if not task:
        return True
    if task.get("type") == "chief":
        return True
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0 and "chief" not in config.get("cluster", {})


def output_folder(output: Path) -> Path:
    """Where this process writes: ``--output`` for the chief (or a single process); for any other worker of
    a ``multiworker`` cluster a scratch folder of its own outside OUT (its training state, so that it can
    resume), named after OUT and its task, so a restarted worker finds it again."""
    if is_chief():
        return Path(output)
    task = json.loads(os.environ["TF_CONFIG"])["task"]
    digest = hashlib.sha1(str(Path(output).resolve()).encode("utf-8")).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"visconvnets-{task.get('type')}{task.get('index', 0)}-{digest}"


def finish_worker(scratch: Path, output: Path) -> None:
    """A cluster's other worker after training: its scratch folder (``output_folder``) is no longer needed."""
    shutil.rmtree(scratch, ignore_errors=True)
    print(f"this worker's part of training is done; the chief writes {output}")
