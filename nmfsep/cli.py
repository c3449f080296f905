"""The command line ``nmfsep`` (separate, transcribe, evaluate, learn templates, ...): its
entry point and parser (face of ``nmfsep/_apps/cli.py``; it starts without importing torch)."""

from ._apps.cli import build_parser, main

__all__ = ["main", "build_parser"]
