"""The house rules ARCHITECTURE.md states, checked: one-way imports by folder, no cycles, Keras internals in one
adapter, imports at the top, an installable package. (Module and function sizes are a review signal, not a test:
``.ci/review`` prints them.)"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = PROJECT_ROOT / "visconvnets"

# The package's folders, lowest first; a module may import its own folder or lower ones, never a higher one
# (ARCHITECTURE.md shows the tree and what each folder owns).
LAYERS = ["settings", "data", "models", "explain", "scores", "render", "train", "run"]
LAYER_OF = {folder: rank for rank, folder in enumerate(LAYERS)}


def library_modules() -> dict[str, Path]:
    """{dotted name: file} of every module in the package, the lazy ``__init__`` of the package left out."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
        if parts == ("visconvnets", "__init__"):
            continue
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def project_imports(name: str, path: Path) -> set[str]:
    """Dotted names of the project modules ``name`` imports, anywhere in the file."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("visconvnets"):
                candidates = [f"{target}.{alias.name}" for alias in node.names] + [target]
                imported.add(next(c for c in candidates if c in library_modules() or c == target))
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names if alias.name.startswith("visconvnets"))
    return {module for module in imported if module != "visconvnets"}


def component(module: str) -> str:
    return module.split(".")[1]


def test_every_module_has_a_layer():
    assert {component(name) for name in library_modules()} == set(LAYER_OF)


def test_imports_only_go_down_or_sideways():
    upward = []
    for name, path in library_modules().items():
        for target in project_imports(name, path):
            if LAYER_OF[component(target)] > LAYER_OF[component(name)]:
                upward.append(f"{name} -> {target}")
    assert upward == []


def test_settings_and_layout_import_nothing_of_the_project():
    modules = library_modules()
    beside = {"visconvnets.settings.names", "visconvnets.settings.backbones"}  # plain lists and data
    assert project_imports("visconvnets.settings.config", modules["visconvnets.settings.config"]) == {
        "visconvnets.settings.stages",  # the stages it composes, beside it at the bottom
        "visconvnets.settings.names",
    }
    assert project_imports("visconvnets.settings.stages", modules["visconvnets.settings.stages"]) == beside
    for name in (
        *beside,
        "visconvnets.settings.outputs",
        "visconvnets.models.keras_internals",
        "visconvnets.data.workers",
    ):
        assert project_imports(name, modules[name]) == set(), name


def test_no_import_cycles():
    modules = library_modules()
    graph = {
        name: {target for target in project_imports(name, path) if target in modules} for name, path in modules.items()
    }
    state: dict[str, str] = {}

    def visit(node, trail):
        state[node] = "open"
        for child in sorted(graph[node]):
            if state.get(child) == "open":
                pytest.fail("import cycle: " + " -> ".join(trail[trail.index(child) :] + [child]))
            if child not in state:
                visit(child, trail + [child])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def _own_private_names() -> set[str]:
    """Underscore names the project defines itself (functions, classes, module constants, attributes)."""
    names = set()
    for path in [*PACKAGE.rglob("*.py"), *PROJECT_ROOT.glob("*.py"), *(PROJECT_ROOT / "tests").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
    return {name for name in names if name.startswith("_")}


def test_private_keras_names_live_in_one_adapter():
    own = _own_private_names()
    adapter = PACKAGE / "models" / "keras_internals.py"
    files = [
        *PACKAGE.rglob("*.py"),
        *PROJECT_ROOT.glob("*.py"),
        *(PROJECT_ROOT / "tests").glob("*.py"),
        *(PROJECT_ROOT / "bench").glob("*.py"),
        PROJECT_ROOT / "Images" / "regenerate.py",
    ]
    found = []
    for path in files:
        if path in (adapter, Path(__file__).resolve()):  # the adapter, and this test that names the internals
            continue
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            private = isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
            if private and node.attr not in own:
                found.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}: .{node.attr}")
        if "keras.src" in source:
            found.append(f"{path.relative_to(PROJECT_ROOT)}: keras.src")
    assert found == []
    adapter_source = adapter.read_text(encoding="utf-8")
    for internal in ("_run_through_graph", "_keras_history", "_inbound_nodes", "_initial_epoch", "keras.src"):
        assert internal in adapter_source


def test_keras_internals_still_exist():
    """Fails with what each internal is for when a Keras upgrade removes or renames one."""
    from visconvnets.models import keras_internals

    keras_internals.verify()


def test_imports_inside_functions_say_why():
    silent = []
    for name, path in library_modules().items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for function in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    first = node.lineno - 1  # the first line of this block of imports
                    while lines[first - 1].strip().startswith(("import ", "from ")):
                        first -= 1
                    if "#" not in lines[node.lineno - 1] and not lines[first - 1].strip().startswith("#"):
                        silent.append(f"{name}:{node.lineno}")
    assert silent == []


def test_pyproject_declares_what_requirements_pin():
    """``pip install -e .`` installs the same dependencies, with the same bounds, as requirements.txt."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pinned = [line.split("#")[0].strip() for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines()]
    assert sorted(project["project"]["dependencies"]) == sorted(line for line in pinned if line)
    assert project["build-system"]["build-backend"] == "setuptools.build_meta"
    floor = re.search(r"keras>=([\d.]+)", (PROJECT_ROOT / "requirements.txt").read_text()).group(1)
    from visconvnets.models.keras_internals import CHECKED_KERAS_VERSIONS

    assert floor == CHECKED_KERAS_VERSIONS[0].rsplit(".", 1)[0]  # the floor is the oldest Keras checked


def test_package_imports_from_any_folder(tmp_path):
    """Installed (``pip install -e .``, as .ci/run does), the package imports outside the repository."""
    done = subprocess.run(
        [sys.executable, "-c", "import visconvnets, sys; print(visconvnets.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f".ci/run must install the package (pip install -e .): {done.stderr[-500:]}")
        pytest.skip("visconvnets is not installed in this environment (pip install -e .)")
    assert Path(done.stdout.strip()).resolve() == (PACKAGE / "__init__.py").resolve()


def test_lint_and_format_are_clean():
    """``ruff check`` (line length 120 included) and ``ruff format --check`` pass on the whole tree."""
    for command in (["check", "--quiet", "."], ["format", "--check", "--quiet", "."]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_a_broken_internal_fails_loudly_with_its_reason(monkeypatch):
    import keras

    from visconvnets.models import keras_internals

    class RenamedBackup:  # a Keras whose BackupAndRestore no longer sets the epoch where fit reads it
        def __init__(self, backup_dir, double_checkpoint=False):
            self.backup_dir = backup_dir

    monkeypatch.setattr(keras.callbacks, "BackupAndRestore", RenamedBackup)
    with pytest.raises(keras_internals.KerasInternalsError, match="resuming a killed run at the right epoch"):
        keras_internals.verify()


def test_size_review_warns_without_failing(tmp_path):
    """Module and function sizes are a review signal: ``.ci/review.py`` names what is long and exits 0."""
    package = tmp_path / "package"
    package.mkdir()
    long_body = "\n".join(f"    value_{index} = {index}" for index in range(70))
    (package / "long.py").write_text(f"def long_function():\n{long_body}\n", encoding="utf-8")
    (package / "short.py").write_text("def short_function():\n    return 1\n", encoding="utf-8")
    (tmp_path / "script.py").write_text("\n" * 260, encoding="utf-8")  # a script beside the package
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / ".ci" / "review.py"), str(package)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        "review: package/long.py:1 long_function: 71 lines (review past 60)",
        "review: script.py: 260 lines (review past 250)",
    ]


def test_only_the_run_takes_the_whole_settings():
    """Below ``run/`` a function gets its stage's values, never the whole composition: no module outside ``run/``
    imports ``RunConfig`` or ``VisualizationConfig``, except where they are defined and where the settings file is
    written and read (``settings/files``)."""
    allowed = {"visconvnets.settings.config", "visconvnets.settings.files"}
    takers = []
    for name, path in library_modules().items():
        if component(name) == "run" or name in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and {"RunConfig", "VisualizationConfig"} & {a.name for a in node.names}:
                takers.append(name)
    assert takers == []
