"""The learner's own Keras script as the experiment: run it unchanged, recorded, and diagnose it.

* :mod:`~helpers.scripts.source` -- the script read, not run: a readable Python file? its seed calls, and where;
* :mod:`~helpers.scripts.recorder` -- inside the run: ``Model.fit`` and ``evaluate`` watched, not changed;
* :mod:`~helpers.scripts.worker` -- one run in a fresh process, in the script's own folder;
* :mod:`~helpers.scripts.runs` -- the parent's side: runs in parallel, time limits, one-sentence failures;
* :mod:`~helpers.scripts.doctor` -- ``check``: does it repeat, where does it part, which fix makes it repeat;
* :mod:`~helpers.scripts.diverge` -- two settings of one script, compared epoch by epoch and layer by layer;
* ``examples/`` -- the digits model in three variants (data for the notebooks and tests).
"""

DEFAULT_TIMEOUT = 600.0  # seconds a run of a learner's script may take, unless --timeout says otherwise
