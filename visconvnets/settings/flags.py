"""The command line made from the settings: one argparse group per stage (``stages.STAGES``), one flag per field,
its type, choices and help read from the field (``stages.setting``'s metadata), so a setting is declared once.

Why argparse and not jsonargparse or tyro (both turn dataclasses into a CLI): the flags must keep the names the
README, the blog's workflow and users' scripts already use (``--no-flip``, ``--filters``, ``--no-gradcam``), the
short ``--help`` must show a chosen few flags with briefer texts, and ``settings`` stays standard-library only
(it is imported by every layer, and the scripts answer ``--help`` before TensorFlow starts). Both libraries can be
bent to that, but by as much configuration as this module's code, and with a dependency more.

Every flag's default is ``argparse.SUPPRESS``: a parsed namespace holds only the flags given, which the script
layers over the defaults, the demo's preset and a ``--config`` file (``config.config_from_mapping``).

Standard library only, like the rest of ``settings``.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing

from .stages import STAGES, plain_type


def count(text: str) -> int:
    """A whole number, 0 or more (0 turns the thing off or counts nothing): argparse's ``type`` for ``count``."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


class _StoreTuple(argparse.Action):
    """Stores the values of a ``nargs="+"`` flag as a tuple, for a field typed ``tuple[X, ...]``."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, tuple(values))


def flag_of(field: dataclasses.Field) -> str:
    """The flag that sets ``field``: its metadata's ``flag``, else ``--name`` (``--no-name`` for a boolean that
    defaults to True: the flag turns it off)."""
    if "flag" in field.metadata:
        return field.metadata["flag"]
    name = field.name.replace("_", "-")
    return f"--no-{name}" if field.default is True else f"--{name}"


def _shown(value) -> str:
    """A default as the help shows it: 0.001 as 0.001, 4096.0 as 4096, a tuple as its items."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return " ".join(str(item) for item in value)
    return str(value)


def _argparse_options(field: dataclasses.Field, wanted) -> dict:
    """What ``add_argument`` takes besides the flag and the help, from the field's type and metadata."""
    metadata, wanted = field.metadata, plain_type(wanted)
    if wanted is bool:
        return {"action": "store_false" if field.default is True else "store_true"}
    options = {key: metadata[key] for key in ("choices", "metavar") if key in metadata}
    if typing.get_origin(wanted) in (list, tuple):  # list[Path], tuple[str, ...]: one or more
        options["nargs"] = "+"
        if typing.get_origin(wanted) is tuple:
            options["action"] = _StoreTuple
        wanted = typing.get_args(wanted)[0]
    options["type"] = count if metadata.get("count") else wanted
    if options["type"] is str:
        del options["type"]
    return options


def add_setting_flags(parser: argparse.ArgumentParser, everything: bool, titles: dict[str, str]) -> dict:
    """A group per stage on ``parser`` (titled from ``titles``, by section), each field's flag in it; unless
    ``everything``, only the flags whose setting is ``common`` show their help (the others still work).

    Returns:
        {section: its argparse group} (a script may add an alias flag to one), and fills ``parser.setting_flags``
        {flag: field name}.
    """
    parser.setting_flags = getattr(parser, "setting_flags", {})
    groups = {}
    for section, stage in STAGES.items():
        groups[section] = group = parser.add_argument_group(titles.get(section, section))
        hints = typing.get_type_hints(stage)
        for field in dataclasses.fields(stage):
            metadata, flag = field.metadata, flag_of(field)
            text = metadata["help"] if everything else metadata.get("brief", metadata["help"])
            shown = everything or metadata.get("common", False)
            group.add_argument(
                flag,
                dest=field.name,
                default=argparse.SUPPRESS,
                help=text.format(default=_shown(field.default)).replace("%", "%%") if shown else argparse.SUPPRESS,
                **_argparse_options(field, hints[field.name]),
            )
            parser.setting_flags[flag] = field.name
    return groups
