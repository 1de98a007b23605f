"""The project's imports run one way: no module imports one that (directly or not) imports it
back, and an import inside a function says why it is there (Django's app loading, or a heavy
optional dependency) in a comment on its line or the line above. Read with ``ast`` from the
source tree, as a clean clone has it: nothing is imported."""
import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
# source directory -> the package it is installed as (setup.py's package_dir)
PACKAGES = {"solrsync": "solrsync", "pipelines": "solrsync.pipelines", "contrib": "solrsync.contrib",
            "contrib/django/demo": ""}
WHY = re.compile(r"#.*(Django app loading|optional dependency)", re.I)


def project_modules():
    """{dotted name: path} of every module of the project (the demo project's too)."""
    modules = {}
    for directory, package in PACKAGES.items():
        for path in sorted((ROOT / directory).rglob("*.py")):
            rel = path.relative_to(ROOT / directory).with_suffix("")
            if directory == "contrib" and rel.parts[:2] == ("django", "demo"):
                continue  # the demo project: its own top-level packages, below
            parts = [p for p in package.split(".") if p] + list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports(name, path, modules):
    """[(imported project module, line, inside a function)] of one module."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[:len(package.split(".")) - child.level + 1]
                                    + ([base] if base else []))
                targets = [base + "." + a.name if base + "." + a.name in modules else base for a in child.names]
            else:
                visit(child, inner)
                continue
            for target in targets:
                while target and target not in modules:  # `import a.b.c` of a name inside a module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    found.append((target, child.lineno, in_function))
    visit(tree, False)
    return found


def graph():
    modules = project_modules()
    return modules, {name: imports(name, path, modules) for name, path in modules.items()}


def cycles(edges):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def strong(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted({t for t, _, _ in edges.get(v, ())}):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return out


def test_the_reader_sees_the_project():
    modules, edges = graph()
    assert {"solrsync.sync", "solrsync.pipelines", "solrsync.contrib.django.runtime", "layers.models"} <= set(modules)
    assert "solrsync.sink" in {t for t, _, _ in edges["solrsync.sync"]}
    assert "solrsync.contrib.django.triggers" in {t for t, _, _ in edges["solrsync.contrib.django.runtime"]}
    assert cycles({"a": [("b", 1, False)], "b": [("c", 1, True)], "c": [("a", 1, False)], "d": [("a", 1, False)]}) \
        == [["a", "b", "c"]]


def test_no_import_cycles():
    _, edges = graph()
    found = cycles(edges)
    assert not found, "import cycles among the project's modules (imports inside functions count too):\n" + "\n".join(
        "  %s: %s" % (" <-> ".join(c), "; ".join(sorted({"%s imports %s (line %d)" % (a, t, line) for a in c
                                                        for t, line, _ in edges[a] if t in c}))) for c in found)


def test_imports_inside_functions_say_why():
    modules, edges = graph()
    bare = []
    for name, path in modules.items():
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    # the comment: on its line, or above the block of imports it belongs to
                    block, n = [lines[inner.lineno - 1]], inner.lineno - 2
                    while n >= 0 and re.match(r"\s*(from |import |#|$)", lines[n]):
                        block.append(lines[n])
                        n -= 1
                    if not any(WHY.search(line) for line in block):
                        bare.append("%s:%d: %s" % (path.relative_to(ROOT), inner.lineno, block[0].strip()))
    assert not bare, ("imports inside a function without a comment saying why (Django app loading, or a heavy "
                      "optional dependency) -- import at the top instead:\n  " + "\n  ".join(sorted(set(bare))))
