"""A learner's script read, not run: is it a Python file, and what do its seed calls do, and where?

:func:`load_script` turns every problem with the file into one sentence before any process
starts. :func:`read_script` then walks the script's statements in the order they run (module
level, into ``if``/``for``/``with``/``try`` blocks, and into the bodies of the script's own
functions where the module calls them) and finds its seed calls, where its data and its model
are made, and the calls whose randomness one machine cannot see in a run: files listed in the
file system's order, an unseeded ``train_test_split``. No Keras, no TensorFlow: ``ast`` only.
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.core.config import ConfigError

# What each seed call seeds (resolved through the script's imports: np -> numpy, tf -> tensorflow).
SEED_CALLS = {
    "random.seed": "Python's random",
    "numpy.random.seed": "NumPy's global generator",
    "tensorflow.random.set_seed": "TensorFlow's global seed",
    "tensorflow.compat.v1.set_random_seed": "TensorFlow's global seed",
    "keras.utils.set_random_seed": "Python, NumPy and TensorFlow (and Keras 2's own generator)",
    "tensorflow.config.experimental.enable_op_determinism": "op determinism",
}
DATA_NAMES = re.compile(r"(^|\.)(load_\w+|fetch_\w+|make_(classification|blobs|moons|circles|regression)|read_csv|"
                        r"loadtxt|load|rand|randn|randint|random|random_sample|choice|normal|uniform|from_tensor_slices|"
                        r"train_test_split|"
                        r"\w+_dataset_from_directory|load_data)$")
MODEL_NAMES = re.compile(r"(^|\.)(Sequential|Model|Input)$|\.layers\.\w+$")
LISTINGS = ("os.listdir", "os.scandir", "glob.glob", "glob.iglob", "os.walk")
LISTING_METHODS = ("glob", "rglob", "iterdir")


@dataclass(frozen=True)
class Call:
    """One call of interest in the script, by its resolved name and line."""

    name: str
    line: int
    keywords: tuple[str, ...] = ()
    sorted_: bool = False  # wrapped directly in sorted(...)


@dataclass
class Facts:
    """What reading the script tells: its seed calls, where the data and the model come, its risks."""

    seed_calls: list[Call] = field(default_factory=list)
    data_line: int | None = None
    model_line: int | None = None
    fit_line: int | None = None
    after_imports_line: int = 1  # the line a fix's call goes after: the last of the leading imports
    keras_name: str = "keras"  # how the script names Keras: keras, or tf.keras
    keras_imported: bool = False  # the script binds a name to Keras itself (import keras, from tensorflow import keras)
    keras_package: bool = False  # the script imports from the keras package itself (from keras.models import ...)
    tf_name: str | None = None  # how the script names TensorFlow, if it imports it
    unsorted_listings: list[Call] = field(default_factory=list)
    unseeded_splits: list[Call] = field(default_factory=list)

    def where(self, call: Call) -> str:
        """'before the data and the model', 'after the data (line 12)', ..."""
        after = [f"the {what} (line {line})" for what, line in (("data", self.data_line), ("model", self.model_line))
                 if line is not None and line < call.line]
        if after:
            return "after " + " and ".join(after)
        return "before the data and the model"

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed_calls": [{"call": c.name, "line": c.line, "seeds": SEED_CALLS[c.name], "stands": self.where(c)}
                           for c in self.seed_calls],
            "data_line": self.data_line, "model_line": self.model_line, "fit_line": self.fit_line,
            "unsorted_file_listings": [{"call": c.name, "line": c.line} for c in self.unsorted_listings],
            "unseeded_train_test_splits": [c.line for c in self.splits_left_unseeded()],
        }

    def splits_left_unseeded(self) -> list[Call]:
        """train_test_split calls without random_state and with no NumPy seed before them (they draw from it)."""
        numpy_seeds = [c.line for c in self.seed_calls
                       if c.name in ("numpy.random.seed", "keras.utils.set_random_seed")]
        return [c for c in self.unseeded_splits if not any(line < c.line for line in numpy_seeds)]


@dataclass(frozen=True)
class Script:
    """A script checked to be a readable Python file; its name and content hash travel, not its source."""

    path: Path
    source: str
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


def load_script(path: str | Path) -> Script:
    """The script at ``path``, or one sentence on why it cannot be run."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ConfigError(f"there is no script at {path}; give the path of your training script (a .py file).")
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give the path of the training script in it (a .py file).")
    if path.suffix == ".ipynb":
        raise ConfigError(f"{path.name} is a notebook; save it as a script first (in Jupyter: File > Save and "
                          "Export Notebook As > Executable Script) and check that.")
    if path.suffix != ".py":
        raise ConfigError(f"{path.name} is not a Python file (.py); give the training script itself.")
    data = path.read_bytes()
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path.name} is not a Python file: it is not UTF-8 text.") from None
    try:
        compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise ConfigError(f"{path.name} has a syntax error at line {exc.lineno}: {exc.msg}; Python cannot run "
                          "it as it is.") from None
    backend = _keras_backend(ast.parse(source))
    if backend is not None and backend != "tensorflow":
        raise ConfigError(f"{path.name} sets KERAS_BACKEND to {backend!r}; the lab records TensorFlow runs, so "
                          "check it with the tensorflow backend.")
    return Script(path.resolve(), source, hashlib.sha256(data).hexdigest())


def _keras_backend(tree: ast.AST) -> str | None:
    """The backend the script sets with os.environ["KERAS_BACKEND"] = "..." (or setdefault), if any."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Subscript) and _constant(target.slice) == "KERAS_BACKEND":
                    return str(node.value.value)
        if isinstance(node, ast.Call) and _dotted(node.func).endswith(("environ.setdefault", "putenv")):
            args = [_constant(a) for a in node.args]
            if len(args) == 2 and args[0] == "KERAS_BACKEND":
                return str(args[1])
    return None


def _constant(node: ast.AST) -> Any:
    return node.value if isinstance(node, ast.Constant) else None


def _dotted(node: ast.AST) -> str:
    """``np.random.seed`` for the call's function, as written ("" for anything not a plain name path)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else f".{node.attr}"
    if isinstance(node, ast.Call):
        return _dotted(node.func) + "()"
    return ""


class _Reader:
    """Walks the statements in the order they run, resolving names through the script's imports."""

    def __init__(self, tree: ast.Module) -> None:
        self.aliases: dict[str, str] = {}
        self.modules: set[str] = set()  # every module the script imports from
        self.functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
        self.facts = Facts()
        self.entered: set[str] = set()
        self._parents: dict[int, ast.AST] = {id(child): node for node in ast.walk(tree)
                                             for child in ast.iter_child_nodes(node)}

    def resolve(self, name: str) -> str:
        head, _, rest = name.partition(".")
        full = self.aliases.get(head, head)
        return f"{full}.{rest}" if rest else full

    def imports(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            self.modules.update(alias.name for alias in node.names)
            for alias in node.names:
                self.aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else \
                    alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            self.modules.add(node.module)
            for alias in node.names:
                self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def statements(self, body: list[ast.stmt]) -> None:
        """Each statement's calls in the order they run; blocks in order, function bodies where called."""
        for statement in body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            self.imports(statement)
            blocks = [getattr(statement, name, []) for name in ("body", "orelse", "finalbody")]
            blocks += [handler.body for handler in getattr(statement, "handlers", [])]
            compound = isinstance(statement, (ast.If, ast.For, ast.While, ast.With, ast.Try))
            headers = [getattr(statement, name, None) for name in ("test", "iter")] if compound else [statement]
            headers += [item.context_expr for item in getattr(statement, "items", [])] if compound else []
            calls = [node for header in headers if header is not None for node in ast.walk(header)
                     if isinstance(node, ast.Call)]
            for node in sorted(calls, key=lambda n: (n.lineno, n.col_offset)):
                self.call(node)
            if compound:
                for block in blocks:
                    self.statements(block)

    def call(self, node: ast.Call) -> None:
        written = _dotted(node.func)
        name = self.resolve(written)
        name = name.replace("tensorflow.keras.", "keras.").replace("tf_keras.", "keras.")
        facts = self.facts
        keywords = tuple(k.arg for k in node.keywords if k.arg)
        call = Call(name, node.lineno, keywords, self._in_sorted(node))
        if name in SEED_CALLS:
            facts.seed_calls.append(call)
        if facts.data_line is None and DATA_NAMES.search(name) and not name.startswith("keras.layers"):
            facts.data_line = node.lineno
        if facts.model_line is None and (MODEL_NAMES.search(name) or name.startswith("keras.applications")):
            facts.model_line = node.lineno
        if facts.fit_line is None and written.endswith(".fit"):
            facts.fit_line = node.lineno
        if (name in LISTINGS or written.endswith(tuple("." + m for m in LISTING_METHODS))) and not call.sorted_:
            facts.unsorted_listings.append(call)
        if name.endswith("train_test_split") and "random_state" not in keywords:
            facts.unseeded_splits.append(call)
        if written in self.functions and written not in self.entered:
            self.entered.add(written)  # the script's own function, where it is called: its calls run here
            for inner in ast.walk(self.functions[written]):
                if isinstance(inner, ast.Call):
                    self.call(inner)

    def _in_sorted(self, node: ast.Call) -> bool:
        parent = self._parents.get(id(node))
        return isinstance(parent, ast.Call) and _dotted(parent.func) in ("sorted", "list.sort")


def read_script(script: Script) -> Facts:
    """What the script's text says about its seeding, its data and its model (see the module's doc)."""
    tree = ast.parse(script.source)
    reader = _Reader(tree)
    reader.statements(tree.body)
    facts = reader.facts
    leading = 0
    for statement in tree.body:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            leading = statement.end_lineno or statement.lineno
        elif not (isinstance(statement, ast.Expr) and isinstance(_constant(statement.value), str)):
            break  # the docstring may come first; anything else ends the imports
    facts.after_imports_line = leading or 1
    for name, target in reader.aliases.items():
        if target in ("keras", "tensorflow.keras", "tf_keras") and facts.keras_name == "keras":
            facts.keras_name = name
        if target == "tensorflow" and facts.tf_name is None:
            facts.tf_name = name
    facts.keras_package = any(m == "keras" or m.startswith("keras.") for m in reader.modules)
    facts.keras_imported = any(t in ("keras", "tensorflow.keras", "tf_keras") for t in reader.aliases.values())
    if not facts.keras_imported:
        facts.keras_name = f"{facts.tf_name}.keras" if facts.tf_name else "keras"
    facts.seed_calls.sort(key=lambda c: c.line)
    return facts
