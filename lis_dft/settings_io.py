"""Settings files read one way: YAML or JSON into a dataclass, validated by pydantic.

``load_settings(CellParameters, "cell.yaml")``, ``load_settings(HpcConfig, path)`` and
``settings_from_mapping(VaspSettings, read_mapping(path) | cli_values)`` are the only ways lis-dft reads user
settings. Every failure is a :class:`~lis_dft.errors.ParameterError` that names the
file, the key and what is allowed: a missing file, invalid YAML, a top level that is not
a mapping, unknown keys, or a value of the wrong type (pydantic's message).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

from lis_dft.errors import ParameterError

T = TypeVar("T")


def settings_from_mapping(
    cls: type[T], data: Any, source: str = "settings", what: str = "keys"
) -> T:
    """Validate ``data`` against dataclass ``cls`` (unknown keys and wrong types refused).

    ``what`` names the keys in the messages (``Unknown cell parameters in cell.yaml``).
    """
    from pydantic import TypeAdapter, ValidationError

    if not isinstance(data, dict):
        raise ParameterError(
            f"{source} must be a mapping of keys to values, got {type(data).__name__}."
        )
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ParameterError(f"Unknown {what} in {source}: {unknown}. Known: {sorted(known)}.")
    try:
        return TypeAdapter(cls).validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ParameterError(f"Invalid values in {source}: {problems}.") from None


def read_mapping(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of a YAML (or JSON) settings file; empty file: ``{}``."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"Settings file not found: {path}.")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ParameterError(f"{path} is not valid YAML: {exc}") from exc
    data = data or {}
    if not isinstance(data, dict):
        raise ParameterError(
            f"{path} must hold a mapping of keys to values, got {type(data).__name__}."
        )
    return data


def load_settings(cls: type[T], path: str | Path, what: str = "keys") -> T:
    """Read a YAML (or JSON) file into dataclass ``cls``; see the module docstring."""
    return settings_from_mapping(cls, read_mapping(path), source=str(path), what=what)
