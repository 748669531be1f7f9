"""What a learner sees: the figures (on one shared layout) and the ipywidgets control panel."""
