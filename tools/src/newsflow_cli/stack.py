"""`newsflow stack ...` and `newsflow services ...` run stack/stack.sh of the checkout."""

import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

SCRIPT = Path("stack") / "stack.sh"


class NoStackScript(Exception):
    pass


def find_script(start: Path | None = None) -> Path:
    """$NEWSFLOW_STACK_SCRIPT, else stack/stack.sh in the working directory or a parent of
    it, else in the checkout this package was installed from (an editable install)."""
    if os.environ.get("NEWSFLOW_STACK_SCRIPT"):
        return Path(os.environ["NEWSFLOW_STACK_SCRIPT"])
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents, *Path(__file__).resolve().parents):
        if (folder / SCRIPT).is_file():
            return folder / SCRIPT
    raise NoStackScript(
        f"no {SCRIPT} here or above {here}: run from the newsflow checkout, or set NEWSFLOW_STACK_SCRIPT"
    )


def run(argv: Sequence[str], *, runner: Callable[[list[str]], int] | None = None) -> int:
    """Its exit code: `status` gives 1 when something is down."""
    return (runner or subprocess.call)([str(find_script()), *argv])
