"""Models: plain nets (``dfd.models.nets``) and the LightningModules that train them."""

from dfd.models.detector_module import DetectorModule

__all__ = ["DetectorModule"]
