"""The Dockerfiles, checked without a container engine.

Structure: multi-stage, non-root, a standard-library HEALTHCHECK, the lock file used frozen.
Dry build: every COPY source exists in the build context left by .dockerignore, and the
Dockerfile's own `uv sync` commands, replayed in a scratch folder, install a working service from
the lock file alone (what `docker build` would do, minus the base image and the non-uv RUN steps).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Image:
    directory: str
    package: str
    module: str
    port: int


IMAGES = [
    Image("scan-gateway", "scantrace-gateway", "scantrace_gateway", 8000),
    Image("tracer", "scantrace-tracer", "scantrace_tracer", 8001),
    Image("reporter", "scantrace-reporter", "scantrace_reporter", 8002),
    Image("console", "scantrace-console", "scantrace_console", 8003),
]


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) pairs, with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile.read_text())
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, args = line.partition(" ")
            result.append((keyword.upper(), args.strip()))
    return result


def stages(dockerfile: Path) -> dict[str, Stage]:
    found: dict[str, Stage] = {}
    current: Stage | None = None
    for keyword, args in instructions(dockerfile):
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(found))
            current = found[name] = Stage(name, words[0])
        elif current is not None:
            current.instructions.append((keyword, args))
    return found


def chain(all_stages: dict[str, Stage], target: str) -> list[Stage]:
    """The stages a target is built on, base first."""
    result = [all_stages[target]]
    while result[0].base in all_stages:
        result.insert(0, all_stages[result[0].base])
    return result


def dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = glob_regex(pattern.lstrip("!"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negate
    return excluded


def glob_regex(pattern: str) -> re.Pattern[str]:
    out = []
    for segment in pattern.strip("/").split("/"):
        if segment == "**":
            out.append("(?:.*/)?")
            continue
        seg = re.escape(segment).replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        seg = re.sub(r"\\\[(.*?)\\\]", r"[\1]", seg)  # character classes such as *.py[cod]
        out.append(seg + "/")
    return re.compile("".join(out).rstrip("/"))


def ignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def context_files() -> list[str]:
    """Every file the build context would hold (the working tree less .dockerignore)."""
    patterns = ignore_patterns()
    negations = [p.lstrip("!") for p in patterns if p.startswith("!")]
    files = []
    for directory, subdirectories, names in os.walk(ROOT):
        base = Path(directory).relative_to(ROOT).as_posix()
        prefix = "" if base == "." else base + "/"
        # Skip excluded folders no negation reaches into (.venv, .git, local broker state...).
        subdirectories[:] = [
            d
            for d in subdirectories
            if not dockerignore_excludes(prefix + d, patterns)
            or any(n.startswith(prefix + d + "/") for n in negations)
        ]
        files += [prefix + n for n in names if not dockerignore_excludes(prefix + n, patterns)]
    return files


@pytest.mark.parametrize("image", IMAGES, ids=lambda i: i.directory)
def test_dockerfile_structure(image: Image) -> None:
    dockerfile = ROOT / "services" / image.directory / "Dockerfile"
    all_stages = stages(dockerfile)
    runtime = list(all_stages.values())[-1]
    assert runtime.name == "runtime", "the default (last) stage must be the runtime image"
    built = chain(all_stages, "build")
    syncs = [a for s in built for k, a in s.instructions if k == "RUN" and "uv sync" in a]
    assert syncs, "the build stage must install with uv sync"
    for command in syncs:
        assert "--frozen" in command, command
        assert "--no-dev" in command, command
        assert f"--package {image.package}" in command, command
    keywords = dict(runtime.instructions)
    assert runtime.base == "${PYTHON_IMAGE}", (
        "the runtime starts from the slim base, not the builder"
    )
    assert "--from=build /opt/venv" in keywords["COPY"]
    user = keywords["USER"].split(":")[0]
    assert user not in {"root", "0"}, "the runtime must not run as root"
    assert keywords["EXPOSE"] == str(image.port)
    health = keywords["HEALTHCHECK"]
    assert "urllib.request" in health
    assert "/healthz" in health
    assert "curl" not in health
    assert keywords["CMD"] == f'["python", "-m", "{image.module}"]'


def test_dockerignore_keeps_every_copy_source() -> None:
    patterns = ignore_patterns()
    files = context_files()
    assert "uv.lock" in files
    assert "pyproject.toml" in files
    assert not any("__pycache__" in f or f.startswith("tests/") for f in files)
    for image in IMAGES:
        dockerfile = ROOT / "services" / image.directory / "Dockerfile"
        for keyword, args in instructions(dockerfile):
            if keyword != "COPY" or args.startswith("--from"):
                continue
            *sources, _ = shlex.split(args)
            for source in sources:
                assert (ROOT / source).exists(), f"{dockerfile}: COPY {source} does not exist"
                assert not dockerignore_excludes(source, patterns), f"{source} is in .dockerignore"


def replay(dockerfile: Path, target: str, scratch: Path) -> Path:
    """Replays the COPY and `uv sync` steps of a target's stages; returns the venv it made."""
    venv = scratch / "venv"
    context = context_files()
    # A stage built FROM another inherits its files and working directory.
    workdir = scratch / "fs"
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    for stage in chain(stages(dockerfile), target):
        for keyword, args in stage.instructions:
            if keyword == "WORKDIR":
                workdir = scratch / "fs" / args.lstrip("/")
                workdir.mkdir(parents=True, exist_ok=True)
            elif keyword == "COPY" and not args.startswith("--from"):
                *sources, destination = shlex.split(args)
                for source in sources:
                    for file in (f for f in context if f == source or f.startswith(source + "/")):
                        inside = file[len(source) :].lstrip("/")
                        target_path = workdir / destination
                        if destination.endswith("/") or inside:
                            target_path = target_path / (inside or Path(file).name)
                        target_path.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(ROOT / file, target_path)
            elif keyword == "RUN" and "uv sync" in args:
                command = shlex.split(args[args.index("uv sync") :])
                # Bytecode compilation only costs time here; the venv goes to the scratch folder.
                env.update(UV_PROJECT_ENVIRONMENT=str(venv), UV_COMPILE_BYTECODE="0")
                done = subprocess.run(
                    command, cwd=workdir, env=env, capture_output=True, text=True, check=False
                )
                assert done.returncode == 0, f"{' '.join(command)}\n{done.stderr}"
    return venv


@pytest.mark.parametrize("image", IMAGES, ids=lambda i: i.directory)
def test_dry_build_installs_the_service_from_the_lock_file(image: Image, tmp_path: Path) -> None:
    if shutil.which("uv") is None:
        pytest.fail("uv is missing: the project's Makefile installs it")
    dockerfile = ROOT / "services" / image.directory / "Dockerfile"
    venv = replay(dockerfile, "build", tmp_path)
    # Only the tracer needs faust; dev tools never ship.
    faust_expected = image.module == "scantrace_tracer"
    probe = "\n".join(
        [
            "import importlib.util",
            f"import {image.module} as service",
            "assert 'site-packages' in service.__file__, service.__file__",
            "assert importlib.util.find_spec('pytest') is None, 'dev tools in the image'",
            f"assert (importlib.util.find_spec('faust') is not None) is {faust_expected}",
        ]
    )
    done = subprocess.run(
        [venv / "bin" / "python", "-c", probe], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    source_main = ROOT / "services" / image.directory / "src" / image.module / "__main__.py"
    if source_main.exists():
        installed = list(venv.glob(f"lib/python*/site-packages/{image.module}/__main__.py"))
        assert installed, f"python -m {image.module} would fail in the image"


def test_dry_build_of_the_cli_target_has_the_scantrace_command(tmp_path: Path) -> None:
    venv = replay(ROOT / "services" / "reporter" / "Dockerfile", "cli-build", tmp_path)
    assert (venv / "bin" / "scantrace").exists()
