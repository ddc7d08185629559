"""Ensembles of trained detectors: score the members on the same crops once
(:mod:`~dfd.ensembles.members`), fuse their fake logits with a rule fitted on validation
(:mod:`~dfd.ensembles.fusion`), and run or export the result as one detector
(:mod:`~dfd.ensembles.detector`)."""
