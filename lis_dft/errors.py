"""Exceptions with messages a user can act on.

Every error raised for bad input says what was wrong, where, and what to do.
The CLI turns :class:`LisDftError` into a one-paragraph message and exit code 2.
"""

from __future__ import annotations


class LisDftError(Exception):
    """Base class for errors caused by user input or environment, not bugs."""


class StructureInputError(LisDftError):
    """A structure file is missing, unreadable, empty or physically impossible."""


class StructureValidationError(LisDftError):
    """A built or relaxed structure fails a physical validation check."""


class CalculatorError(LisDftError):
    """A calculator is unknown, not installed or cannot describe the elements."""


class OutputDirError(LisDftError):
    """The output directory cannot be created or written."""


class ParameterError(LisDftError, ValueError):
    """A numerical option is out of its allowed range."""
