"""The oracle scripts' safetensors reader/writer: tools/st_io.py (shared with the weight converter),
loaded by path so that both keep importing it as `st_io`."""
import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    "_mmgan_st_io", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "st_io.py"))
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
load, save = _mod.load, _mod.save
