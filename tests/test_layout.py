"""The house: the GAN alone at the top of gan_lib (the core), the plumbing in named wings around it. Imports run from
the course and the commands down through the runs, the measures and the core to the data and the support wings, never
back up, so there is no import circle, and nothing in the core writes a file."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "gan_lib"
# the GAN and nothing else: the networks, the losses, DiffAugment, the Config, the Trainer's step and loop
CORE = {"augment", "config", "losses", "models", "networks", "style", "train"}
# lowest first; a module may import only modules of its own wing or of the wings below it
WINGS = ["support", "data", "core", "measure", "runs", "course", "entry"]
ENTRY = {"__init__", "__main__"}  # the package's face and `python -m gan_lib`
MOST_FLOORS = 6  # the longest chain of imports inside one wing (the core's: augment, config, losses, ..., train)


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


def _wing(name: str) -> str:
    if name in ENTRY:
        return "entry"
    first = name.split(".")[0]
    return "core" if first in CORE else first


def _owner(dep: str, names: set[str]) -> str:
    """The module an import names: `from .data import ImageSet` names gan_lib.data; `from . import losses` a module."""
    return dep if dep in names else dep.rsplit(".", 1)[0]


def test_the_top_of_gan_lib_holds_the_gan_alone():
    top = {path.stem for path in ROOT.glob("*.py")} - ENTRY
    assert top == CORE, "a module at the top of gan_lib that is not the GAN belongs in a wing (support, data, ...)"
    assert {_wing(name) for name in _imports()} <= set(WINGS)


def test_every_import_stays_in_its_wing_or_goes_down_so_there_is_no_circle():
    graph = _imports()
    rank = {wing: level for level, wing in enumerate(WINGS)}
    upward = [f"{module} ({_wing(module)}) imports {dep} ({_wing(dep)})" for module, deps in graph.items()
              for dep in deps if rank[_wing(_owner(dep, set(graph)))] > rank[_wing(module)]]
    assert upward == []
    assert _floors(graph)  # raises on a circle


def _floors(graph: dict[str, set[str]]) -> dict[str, int]:
    """Each module's floor inside its wing: 1 + the highest floor of what it imports from its own wing."""
    floors: dict[str, int] = {}

    def floor(name: str, seen: tuple[str, ...] = ()) -> int:
        assert name not in seen, f"an import circle: {' -> '.join([*seen, name])}"
        if name not in floors:
            inside = [_owner(dep, set(graph)) for dep in graph[name]]
            inside = [dep for dep in inside if _wing(dep) == _wing(name) and dep != name]
            floors[name] = 1 + max((floor(dep, (*seen, name)) for dep in inside), default=0)
        return floors[name]

    for name in graph:
        floor(name)
    return floors


def test_each_wing_has_few_floors():
    floors = _floors(_imports())
    tallest = {wing: max(level for name, level in floors.items() if _wing(name) == wing) for wing in WINGS}
    assert max(tallest.values()) <= MOST_FLOORS, tallest


def test_the_core_writes_no_file_and_the_library_never_imports_the_course():
    graph = _imports()
    writers = {"support.files"} | {name for name in graph if _wing(name) in ("measure", "runs")}
    assert not [(m, d) for m in graph if _wing(m) == "core" for d in graph[m] if _owner(d, set(graph)) in writers]
    library = [name for name in graph if _wing(name) not in ("course", "entry")]
    assert not [(m, d) for m in library for d in graph[m] if d.startswith("course")]
