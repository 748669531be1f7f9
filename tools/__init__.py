"""The lab's maintenance scripts, importable as ``tools.*`` from the repository root (tests do so).

``lab.py`` uses the standard library only: it runs before anything is installed. The notebook
tools (``notebooks.py``, the ``notebook_tools`` package) run with .venv's Python.
"""
