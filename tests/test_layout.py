"""The package's floors: every import goes down, from the commands and the notebooks' wing to the library to its
ground floor (errors, pixels), so there is no import circle and nothing in the library reaches up."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "gan_lib"
# lowest first; a module may import only modules of the floors below its own
FLOORS = [
    {"errors", "pixels", "synthetic"},
    {"environment"},
    {"files", "runtime"},
    {"augment", "datasets"},
    {"config", "images", "inception", "attributes"},
    {"image_cache", "models", "losses", "recipes"},
    {"data", "viz", "directions", "metrics", "style"},
    {"networks", "disentanglement"},
    {"checkpoint"},
    {"reports"},
    {"train"},
    {"race"},
    {"run_folder", "evaluation", "generation"},
    # the notebooks' wing (gan_lib.course) and the commands: nothing in the library imports them
    {"course.settings", "course.theory", "course.toy", "course.exercises.guard"},
    {"course.widgets", "course.exercises.verdicts", "course"},
    {"course.exercises.architecture", "course.exercises.results", "course.exercises.style_common"},
    {"course.exercises.beyond", "course.exercises.training", "course.exercises.style_layers",
     "course.exercises.style_noise", "course.exercises.style_networks", "course.exercises.style_mixing"},
    {"course.exercises", "cli"},
    {"__main__", "__init__"},
]


def _imports() -> dict[str, set[str]]:
    """Each module of gan_lib (its name below gan_lib) and the gan_lib modules it imports, at any depth of its code."""
    graph = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts).removesuffix(".__init__") or "__init__"
        package = parts[:-1]  # where a relative import starts from
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = list(package[:len(package) - node.level + 1])
                if node.module:
                    deps.add(".".join([*base, node.module]))
                else:
                    deps.update(".".join([*base, alias.name]) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gan_lib."):
                deps.add(node.module.removeprefix("gan_lib."))
        graph[name] = deps - {name}
    return graph


def test_every_module_is_on_one_floor():
    on_floors = [name for floor in FLOORS for name in floor]
    assert sorted(on_floors) == sorted(_imports()) and len(on_floors) == len(set(on_floors))


def test_every_import_goes_down_a_floor_so_there_is_no_circle():
    floor_of = {name: level for level, floor in enumerate(FLOORS) for name in floor}
    upward = [f"{module} (floor {floor_of[module]}) imports {dep} (floor {floor_of[dep]})"
              for module, deps in _imports().items() for dep in deps if floor_of[dep] >= floor_of[module]]
    assert upward == []


def test_the_library_never_imports_the_notebooks_wing_or_the_commands():
    wing = {name for name in _imports() if name.split(".")[0] in ("course", "cli", "__main__", "__init__")}
    library = [name for name in _imports() if name not in wing]
    assert library and all(not name.startswith("course") for name in library)
    assert not [(m, d) for m in library for d in _imports()[m] if d in wing]


MAX_LINES = 340  # "one concern, about 300 lines": the largest today are train.py and cli.py


def test_every_module_stays_small_enough_to_read_in_one_sitting():
    sizes = {path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines()) for path in ROOT.rglob("*.py")}
    assert {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}
