"""Preprocessing: raw videos → face crops, 16 kHz audio and the crop manifest.

The one face cropper (:mod:`~dfd.preprocessing.faces`, shared with inference), the landmarks
stored beside the crops (:mod:`~dfd.preprocessing.landmarks`), the manifest
format (:mod:`~dfd.preprocessing.manifest`), the frame and clip runners
(:mod:`~dfd.preprocessing.frames`, :mod:`~dfd.preprocessing.clips`) and the driver that runs
them over a dataset in workers and shards (:mod:`~dfd.preprocessing.runner`).
"""
