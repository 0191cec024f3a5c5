"""What a wheel carries: every file the hub serves or reads at run time must be package data."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_package_data_covers_every_served_and_catalog_file() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_data: dict[str, list[str]] = config["tool"]["setuptools"]["package-data"]
    for package, folders in {"hub": ["static", "locales"], "adapters": ["webchat/static"]}.items():
        base = ROOT / package
        covered = {path for pattern in package_data[package] for path in base.glob(pattern) if path.is_file()}
        needed = {path for folder in folders for path in (base / folder).rglob("*") if path.is_file()}
        needed = {path for path in needed if "__pycache__" not in path.parts}
        assert needed and needed <= covered, sorted(str(p.relative_to(ROOT)) for p in needed - covered)


def test_every_package_is_marked_typed_in_the_wheel() -> None:
    """PEP 561: without py.typed, mypy in a plugin's own package finds no types for hub.sdk."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_data: dict[str, list[str]] = config["tool"]["setuptools"]["package-data"]
    for package in config["tool"]["setuptools"]["packages"]["find"]["include"]:
        name = package.rstrip("*")
        assert (ROOT / name / "py.typed").is_file(), name
        assert "py.typed" in package_data.get(name, []), name
