"""How the installer and the local run meet a new user: a fresh copy of this checkout (no .cache, no node_modules), and
a PATH that lacks chosen commands. Shared by test_install.py and test_run_local.py; this checkout's .cache is never
touched."""

import os
import re
import shutil
import subprocess
from pathlib import Path

from system import ROOT


def fresh_checkout(into: Path) -> Path:
    """Copy the files git knows (tracked ones, and untracked ones it does not ignore) into `into`, and return it."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is listed too
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


def path_without(folder: Path, excluded: str) -> str:
    """A PATH of one new folder with a link to each command on this PATH whose name does not match `excluded`."""
    folder.mkdir()
    for directory in filter(None, os.environ["PATH"].split(os.pathsep)):
        for command in sorted(Path(directory).glob("*")):
            link = folder / command.name
            if re.fullmatch(excluded, command.name) or os.path.lexists(link):
                continue
            if command.is_file() and os.access(command, os.X_OK):
                link.symlink_to(command)
    return str(folder)
