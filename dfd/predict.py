"""Score images and videos: ``python -m dfd.predict ckpt_path=<.ckpt or exported model> input=<path> [output=...]``.

Crops every face exactly as the model's training crops were made (its preprocessing
fingerprint) with the same ``FaceCropper`` code as ``dfd.preprocess``, scores the crops, and
decides each input with the threshold and video aggregation calibrated on validation. One row
per input goes to ``output`` as soon as it is scored (a crash loses nothing before it); an
ensemble's rows add ``agreement`` and ``low_agreement``;
``per_frame=true`` adds one row per face crop (rows are written as :mod:`dfd.inference.outputs`
says: every input named, none run by a spreadsheet); ``visualize=true`` saves a PNG per input: the
sampled frames with face boxes and scores, and the deciding face's crops under their Grad-CAM
heatmap (:mod:`dfd.inference.explain`). The steps are :mod:`dfd.inference.predictor`.
"""

from __future__ import annotations

from dfd.config.entry import entry
from dfd.inference.tasks import predict

main = entry("predict", predict)

if __name__ == "__main__":
    main()
