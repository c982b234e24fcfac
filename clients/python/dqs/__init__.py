"""dqs: the G2S interface for a dqs server.

Replace ``from g2s import g2s`` by ``from dqs import g2s``: the same arguments, the same return values.
Standard library and numpy only.
"""

from .client import DqsError, g2s

__all__ = ["g2s", "DqsError"]
__version__ = "0.1.0"
