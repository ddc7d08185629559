"""Generated data: the embedded synthetic crops (``data=synthetic``, :mod:`.crops`), the synthetic
audio-visual clips (``data=synthetic_av``, :mod:`.av`) and the mini raw trees in every layout
(:mod:`.mini`, ``python -m dfd.generate``).
"""
