"""Write docs/cli.md, the command-line reference, from the typer app itself (so it never drifts).

    python scripts/gen_cli_docs.py            # rewrite docs/cli.md
    python scripts/gen_cli_docs.py --check    # exit 1 if docs/cli.md is out of date

Walks every command and sub-command of ``leuknet.cli.app`` (the click group typer builds) and writes, per
command, its help text, its usage line and a table of its arguments and options: names, type or choices,
default and help. ``tests/test_docs.py::test_cli_reference_is_current`` compares the file with :func:`render`.
"""

from __future__ import annotations

import enum
import sys
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "cli.md"

HEADER = """# Command-line reference

Every command and option of `leuknet`, generated from the command line itself by
`python scripts/gen_cli_docs.py` (do not edit by hand: `tests/test_docs.py` fails when this page and the
command line differ). `leuknet COMMAND --help` lists the same options; this page also gives their defaults
("the recipe's" where a recipe sets one). How the options fit together:
[training.md](training.md); the README has the commands to start with.
"""

_BASE = {str: "text", int: "integer", float: "number", bool: "true/false", Path: "path"}


def _cell(text) -> str:
    """One Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _is_argument(param) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


def _base_type(annotation) -> str:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (list, tuple) and args:
        return _base_type(args[0])
    if args and typing.get_origin(annotation) is not None:  # Optional[X]
        return _base_type(args[0])
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "{" + ",".join(str(m.value) for m in annotation) + "}"
    return _BASE.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _type(param) -> str:
    if getattr(param, "is_flag", False):
        return "flag"
    desc = getattr(param, "type_descriptor", None)
    name = _base_type(desc.annotation) if desc is not None else "text"
    bounds = []
    if getattr(param, "min", None) is not None:
        bounds.append(f"≥ {param.min}")
    if getattr(param, "max", None) is not None:
        bounds.append(f"≤ {param.max}")
    if bounds:
        name += " " + " and ".join(bounds)
    if getattr(param, "multiple", False):
        name += ", repeatable"
    elif _is_argument(param) and param.nargs == -1:
        name += ", one or more"
    return name


def _default(param) -> str:
    if param.required:
        return "required"
    d = param.default
    if callable(d):
        return "(computed)"
    if getattr(param, "is_flag", False):
        if d is None:  # unset: the recipe's or the configuration's default (the help says which)
            return ""
        on = bool(d)
        if param.secondary_opts:
            return f"`{(param.opts if on else param.secondary_opts)[0]}`"
        return "on" if on else "off"
    if d is None or d == () or d == []:
        return ""
    if isinstance(d, enum.Enum):
        d = d.value
    if isinstance(d, (list, tuple)):
        return ", ".join(f"`{v}`" for v in d)
    return f"`{d}`"


def _names(param) -> str:
    if _is_argument(param):
        return f"`{param.name.upper()}`" + ("..." if param.nargs == -1 else "")
    opts = list(param.opts)
    if param.secondary_opts:
        opts = [f"{o}/{s}" for o, s in zip(param.opts, param.secondary_opts)] + opts[len(param.secondary_opts):]
    return ", ".join(f"`{o}`" for o in opts)


def _commands(group, path: tuple):
    """(path, command) for every command and sub-command, in the order `leuknet --help` lists them."""
    for name, cmd in group.commands.items():
        if getattr(cmd, "hidden", False):
            continue
        yield path + (name,), cmd
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, path + (name,))


def _usage(path, cmd) -> str:
    if hasattr(cmd, "commands"):
        return " ".join(path) + " COMMAND [ARGS]..."
    args = [_names(p).strip("`").replace("`", "") for p in cmd.params if _is_argument(p)]
    return " ".join(list(path) + ["[OPTIONS]"] + args)


def _help(cmd) -> str:
    text = (cmd.help or cmd.short_help or "").strip()
    return "\n".join(line.strip() for line in text.splitlines()).strip()


def render() -> str:
    from typer.main import get_command

    from leuknet.cli import app

    root = get_command(app)
    lines = [HEADER]
    index = ["| command | what it does |", "|---|---|"]
    sections = []
    for path, cmd in _commands(root, ("leuknet",)):
        title = " ".join(path)
        anchor = title.replace(" ", "-")
        first = _help(cmd).split("\n\n")[0]
        index.append(f"| [`{title}`](#{anchor}) | {_cell(first)} |")
        sec = [f"## {title}", "", _help(cmd), "", f"Usage: `{_usage(path, cmd)}`", ""]
        if hasattr(cmd, "commands"):
            subs = ", ".join(f"`{title} {n}`" for n in cmd.commands)
            sec += [f"Sub-commands: {subs}.", ""]
        params = [p for p in cmd.params if not getattr(p, "hidden", False)]
        if params:
            sec += ["| argument or option | type | default | description |", "|---|---|---|---|"]
            for p in params:
                sec.append(f"| {_names(p)} | {_cell(_type(p))} | {_cell(_default(p))} | "
                           f"{_cell(getattr(p, 'help', None) or '')} |")
            sec.append("")
        sections.append("\n".join(sec))
    return "\n".join(lines + index + [""] + sections).rstrip() + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is out of date: run python scripts/gen_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"Written: {OUT}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
