"""The Textual console (the only package that imports Textual).

`run_console(session, out_dir)` runs the console around a live or replay session.
"""

from quanttui.ui.app import QuanttuiApp
from quanttui.ui.run import run_console, run_console_async

__all__ = ["QuanttuiApp", "run_console", "run_console_async"]
