"""lis-dft: thermodynamics of Li2S/Li2S2 discharge products on LiI in solid-state Li-S cells."""

from __future__ import annotations

__version__ = "0.1.0"
