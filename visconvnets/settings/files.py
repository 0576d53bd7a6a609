"""Settings files: a run's settings as TOML, in one section per stage (``OUT/config.toml``, ``--config FILE``).

Written by ``to_toml`` (every setting, resolved; a setting left unset is a comment), read by ``read_settings_file``
with Python's own ``tomllib``, every key checked against ``RunConfig`` before any work: an unknown section or key
gets the closest valid name, a key in the wrong section the right one, a wrong type the type wanted, each with the
file and the line. Standard library only, like the rest of ``settings``.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
import typing
from pathlib import Path

from .config import RunConfig
from .outputs import write_text
from .stages import STAGES, plain_type

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as the tomli package (requirements.txt)
    import tomli as tomllib

# The stages a run goes through, each with its settings: each stage's class in ``stages.STAGES`` (a test: every
# RunConfig field in exactly one).
SECTIONS = {section: tuple(field.name for field in dataclasses.fields(kind)) for section, kind in STAGES.items()}
# settings that are one command's action: written false, so that replaying a file never repeats them
ACTIONS = {"restart": "an action, not a setting: give --restart to discard the run in --output"}
SECTION_OF = {name: section for section, names in SECTIONS.items() for name in names}
HEADER = (
    "# The settings of a visconvnets run, resolved: replay them with\n"
    "#   python model_training_and_visualization.py --config THIS_FILE --output NEW_FOLDER\n"
    "# (flags on the command line win over this file). A setting left out takes its default.\n"
)


def _toml_value(value) -> str:
    """One value as TOML: booleans, numbers (inf and nan as TOML writes them), strings and paths (JSON's escapes
    are TOML's basic-string escapes), lists and tuples of those."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    text = str(value)
    text.encode("utf-8")  # UnicodeEncodeError: a file name that is not UTF-8 (TOML holds only Unicode text)
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")  # DEL: escaped in TOML, not in JSON


def to_toml(config: RunConfig) -> str:
    """Every setting of ``config`` as TOML, one section per stage (``SECTIONS``); a setting that is None (unset:
    the default, or chosen by the run) is written as a comment, since TOML has no null."""
    lines, hints = [HEADER.rstrip("\n")], typing.get_type_hints(RunConfig)
    for section, names in SECTIONS.items():
        lines += ["", f"[{section}]"]
        for name in names:
            value = getattr(config, name)
            if value is not None and plain_type(hints[name]) is float:  # 4096 given to a float field: 4096.0
                value = float(value)
            if name in ACTIONS:  # what one command does, not a setting: a replay never repeats it
                lines.append(f"{name} = false  # {ACTIONS[name]}")
            elif value is None:
                lines.append(f"# {name} = (not set)")
            else:
                try:
                    lines.append(f"{name} = {_toml_value(value)}")
                except UnicodeEncodeError:  # kept out of the file, said so: give it on the command line
                    lines.append(f"# {name} = (a file name that is not UTF-8: TOML cannot hold it; give the flag)")
    return "\n".join(lines) + "\n"


def write_settings_file(path: Path, config: RunConfig) -> Path:
    """``to_toml(config)`` written to ``path`` atomically (``outputs.write_text``)."""
    return write_text(path, to_toml(config))


def _line_of(text: str, section: str | None, key: str | None = None) -> int | None:
    """The line (1-based) of ``[section]``, or of ``key = ...`` inside it (``section`` None: before any
    section); None where it is not found."""
    in_section = section is None  # None: the keys before any section
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            in_section = stripped.split("#")[0].strip().strip("[] \t") == section  # a comment may follow
            if in_section and key is None:
                return number
        elif in_section and key is not None and re.match(rf"{re.escape(key)}\s*=", stripped):
            return number
    return None


def _where(path: Path, line: int | None) -> str:
    return f"{path}, line {line}" if line else str(path)


def _closest(name: str, choices) -> str:
    found = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f"; did you mean {found[0]!r}?" if found else ""


def _converted(name: str, value, wanted):
    """``value`` (as TOML read it) as the type RunConfig's field ``name`` wants; TypeError: what it must be."""
    wanted = plain_type(wanted)
    origin = typing.get_origin(wanted)
    if origin in (list, tuple):
        item_type = typing.get_args(wanted)[0]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise TypeError(f'a list of strings, e.g. {name} = ["first", "second"]')
        items = [Path(item) if item_type is Path else item for item in value]
        return tuple(items) if origin is tuple else items
    if wanted is bool:
        if not isinstance(value, bool):
            raise TypeError(f"true or false, e.g. {name} = true")
        return value
    if wanted is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"a whole number, e.g. {name} = 3")
        return value
    if wanted is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"a number, e.g. {name} = 0.5")
        return float(value)
    if not isinstance(value, str):
        raise TypeError(f'a string in quotes, e.g. {name} = "text"')
    return Path(value) if wanted is Path else value


def read_settings_file(path: Path) -> dict:
    """The settings a TOML file gives, {field name: value} typed as ``RunConfig`` wants them.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not valid TOML (with TOML's line and column); a top-level key or an unknown section; an
            unknown key, or one in another stage's section; a value of the wrong type. Each names the file, the
            line and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--config {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (some Windows editors write one) skipped
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"--config {path} is not valid TOML: {error}") from None
    hints = typing.get_type_hints(RunConfig)
    found = {}
    for section, table in parsed.items():
        if not isinstance(table, dict):  # a key before any section (``data`` and ``model`` are sections too)
            where = _where(path, _line_of(text, None, section))
            raise ValueError(
                f"{where}: {section!r} is outside a section; put it under [{SECTION_OF[section]}]"
                if section in SECTION_OF
                else f"{where}: unknown setting {section!r} outside a section{_closest(section, SECTION_OF)}"
            )
        if section not in SECTIONS:
            where = _where(path, _line_of(text, section))
            raise ValueError(
                f"{where}: unknown section [{section}]{_closest(section, SECTIONS)} (sections: {', '.join(SECTIONS)})"
            )
        for key, value in table.items():
            where = _where(path, _line_of(text, section, key))
            if key not in SECTION_OF:
                raise ValueError(f"{where}: unknown setting {key!r} in [{section}]{_closest(key, SECTIONS[section])}")
            if SECTION_OF[key] != section:
                raise ValueError(f"{where}: {key!r} belongs in [{SECTION_OF[key]}], not [{section}]")
            try:
                found[key] = _converted(key, value, hints[key])
            except TypeError as wanted:
                raise ValueError(f"{where}: {key!r} in [{section}] must be {wanted}, got {value!r}") from None
    return found
