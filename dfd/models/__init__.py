"""Models: plain nets (:mod:`dfd.models.nets`, one interface for all) and the LightningModules that
train them (:mod:`~dfd.models.detector_module` for frame detectors, :mod:`~dfd.models.avff_module`
for audio-visual ones), with fine-tuning controls and linear probes."""
