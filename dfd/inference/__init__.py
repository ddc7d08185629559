"""Using a trained detector: score raw images and videos (:mod:`~dfd.inference.predictor`), export a
self-describing model folder (:mod:`~dfd.inference.export`) and serve it over HTTP
(:mod:`~dfd.inference.server`). Loaded models are :class:`~dfd.inference.detector.Detector` s,
from a checkpoint (torch) or an exported folder (ONNX Runtime or torch)."""
