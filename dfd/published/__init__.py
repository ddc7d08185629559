"""Published detectors: the field's released checkpoints, imported into dfd's exported model folders.

- :mod:`dfd.published.sources`: what a source is (its architecture, input contract and licence),
  the registry of sources and the strict key mapping every conversion shares;
- one module per architecture, holding the sources released with it:
  :mod:`~dfd.published.efficientnet` (SBI's and DeepfakeBench's EfficientNet-B4),
  :mod:`~dfd.published.xception` (DeepfakeBench's Xception and F3Net),
  :mod:`~dfd.published.mesonet` (DeepfakeBench's Meso4 and MesoInception4),
  :mod:`~dfd.published.clip` (Effort and GenD, CLIP ViT-L/14);
- :mod:`~dfd.published.importing`: one released file → one model folder (ONNX, safetensors,
  ``dfd_model.json`` with the source's input contract, ``MODEL_CARD.md`` with its licence and its
  reported numbers, marked as theirs);
- :mod:`~dfd.published.catalogue` and :mod:`~dfd.published.download`: ``conf/weights/*.yaml``
  (URL, sha256, size, licence, paper, reported numbers) and fetching an entry with a checksum.
- :mod:`~dfd.published.results`: ``conf/published/results.yaml``, the one file of published numbers
  (per detector and protocol, with citations) that the catalogue and ``dfd.protocol``'s reports read.

Every mapping is written from the source's documented layout (read, never copied); each is proved
by a test against an independent implementation of the source's architecture installed from pip.
"""
