"""One module per family; importing this package registers all of them in `generators.FAMILIES`."""
from __future__ import annotations

import importlib

PAPER_FAMILIES = ("if_else", "if_else_long", "while_loop", "multi_r", "gsm")  # module names ("while" family)
BEYOND_PAPER_FAMILIES = ("multi_obs", "recursion", "helper_calls", "do_internal", "data")

for _module in PAPER_FAMILIES:
    importlib.import_module(f"{__name__}.{_module}")
for _module in BEYOND_PAPER_FAMILIES:
    try:
        importlib.import_module(f"{__name__}.{_module}")
    except ModuleNotFoundError as _exc:  # a beyond-paper family not written yet; other import errors are bugs
        if _exc.name != f"{__name__}.{_module}":
            raise
