"""Raw datasets as their owners ship them: the layouts (one parser per dataset, :mod:`dfd.raw.layouts`),
their records (:mod:`dfd.raw.records`), split carving (:mod:`dfd.raw.splits`) and media decoding
(:mod:`dfd.raw.video`, and :mod:`dfd.raw.audio`, the one audio API).

This is the first stage of the pipeline: raw videos → (``dfd.preprocessing``) face crops and
audio → (``dfd.data``) datasets → (``dfd.models``) detectors.
"""
