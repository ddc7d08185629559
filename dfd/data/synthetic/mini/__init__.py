"""Mini raw datasets in every layout dfd reads (real faces, real H.264 + AAC files), for tests and the demo.

:mod:`~dfd.data.synthetic.mini.media` makes the frames, fakes and audio;
:mod:`~dfd.data.synthetic.mini.trees` lays them out in every layout of
:data:`dfd.raw.layouts.LAYOUTS` (:data:`MAKERS`, one per ``conf/mini/`` file). ``python -m
dfd.generate mini=<layout>`` is the command.
"""

from dfd.data.synthetic.mini.media import VideoSpec, base_faces, write_video
from dfd.data.synthetic.mini.trees import (
    MAKERS,
    Mini,
    face_crop_images,
    make_avdeepfake,
    make_celebdf,
    make_celebdfpp,
    make_deeperforensics,
    make_deepfakebench,
    make_df40,
    make_dfd,
    make_dfdc,
    make_dfdcp,
    make_fakeavceleb,
    make_ffpp,
    make_folder,
    make_uadfv,
    make_wilddeepfake,
)

__all__ = [
    "MAKERS",
    "Mini",
    "face_crop_images",
    "VideoSpec",
    "base_faces",
    "make_avdeepfake",
    "make_celebdf",
    "make_celebdfpp",
    "make_deeperforensics",
    "make_deepfakebench",
    "make_df40",
    "make_dfd",
    "make_dfdc",
    "make_dfdcp",
    "make_fakeavceleb",
    "make_ffpp",
    "make_folder",
    "make_uadfv",
    "make_wilddeepfake",
    "write_video",
]
