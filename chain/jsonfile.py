"""Reading JSON input files into pydantic models, every problem named with its file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def load_model(path: Path, model: type[M], error: type[Exception], what: str) -> M:
    """Read ``path`` as JSON and validate it as ``model``.

    Args:
        path: the file.
        model: the pydantic model of its content.
        error: the exception to raise (a ValueError subclass of the caller's package).
        what: what the file is, for messages ("case", "scenario" ...).

    Raises:
        error: unreadable, not JSON (with the line), or not a valid ``what`` (every problem listed).
    """
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise error(f"{path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or what}: {e['msg']}" for e in exc.errors()
        )
        raise error(f"{path}: invalid {what}: {problems}") from None
