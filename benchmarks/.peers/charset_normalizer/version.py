"""
Expose version
"""

from __future__ import annotations

__version__ = "3.5.2"
VERSION = __version__.split(".")
