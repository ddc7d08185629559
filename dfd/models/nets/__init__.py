"""Detector networks: plain ``nn.Module`` s with one interface, in timm's manner.

Every net takes the same leading constructor arguments ``(num_classes=1, pretrained=False,
dropout, [input_size])``; ``pretrained=False`` is the class default and configs turn it on.
``forward_features(x) -> [B, num_features]`` is the pooled embedding that
``forward_head(features) -> logits[B, num_classes]`` classifies, and ``forward`` is the two in
turn (``num_classes=1`` gives one fake logit). ``net.input_spec`` declares the input size and
normalisation the data side must produce (``None`` for nets that read no face crops);
``net.backbone`` and ``net.head`` name the parts that fine-tuning controls address. One file
per family; configs in ``conf/model/``. ``tests/models/nets/test_package.py`` holds every net to
this contract.
"""

#: The registry: every net class of dfd, by the dotted name configs, runs and exported folders use.
#: Loading a run (``dfd.artifacts.runs``) or an exported folder (``dfd.inference.export``) builds only
#: these (and classes a user names in ``DFD_TRUSTED_TARGETS`` for runs);
#: ``tests/models/nets/test_package.py`` checks it lists every net class in this package.
NETS = (
    "dfd.models.nets.audio_cnn.AudioCNN",
    "dfd.models.nets.avff.AVFF",
    "dfd.models.nets.f3net.F3Net",
    "dfd.models.nets.hybrid_vit_cnn.HybridViTCNN",
    "dfd.models.nets.mesonet.Meso4",
    "dfd.models.nets.mesonet.MesoInception4",
    "dfd.models.nets.timm_net.TimmNet",
    "dfd.models.nets.xception.Xception",
)
