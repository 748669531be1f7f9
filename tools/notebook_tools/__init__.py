"""The notebook tools behind ``tools/notebooks.py``, one module per job.

=================  ==========================================================================
``files``          where the notebooks are, one error type, write-only-if-changed
``pyproject``      ``[tool.repro-lab.github]`` in pyproject.toml: read, validate, edit (tomlkit)
``normalize``      read, normalize and write notebooks with nbformat (``make format``)
``head``           the notebook's first two cells: the H1 title alone, then the button bar
``setup_cell``     the Colab setup cell every notebook starts its code with
``colab_metadata`` what Colab reads from the notebook's metadata: name, contents, accelerator
``badges``         all of the above, colab_badge.md, README's table (``make badges``)
``readme``         README's notebooks table between its two marker lines
``verdicts``       what each ``# NBVAL_CHECK_OUTPUT`` cell must print (``tests/verdicts/``)
``refresh``        run notebooks and store their verdict outputs (``make refresh``)
=================  ==========================================================================

Every function that touches files takes the repository root as its first argument.
"""
