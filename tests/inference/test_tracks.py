"""Face tracks: faces linked across sampled frames by overlap, one track per person."""

from __future__ import annotations

from dfd.inference.tracks import iou, track_faces
from dfd.preprocessing.faces import Face


def face(x: float, score: float = 0.99) -> Face:
    return Face(box=(x, 10.0, x + 40.0, 60.0), score=score)


def test_two_people_give_two_tracks_and_a_stray_detection_its_own():
    frames = [[face(0), face(100)], [face(5), face(104)], [face(10), face(108), face(300, 0.91)], [face(14)]]
    tracks = track_faces(frames)
    assert [len(t.faces) for t in tracks] == [4, 3, 1]
    assert [t for t, _ in tracks[0].faces] == [0, 1, 2, 3] and tracks[0].faces[-1][1].box[0] == 14
    assert all(f.box[0] >= 100 for _, f in tracks[1].faces)
    assert tracks[2].faces[0][1].box[0] == 300


def test_a_track_takes_one_face_per_frame():
    frames = [[face(0)], [face(2), face(4)]]  # two overlapping faces in frame 1: one continues the track
    tracks = track_faces(frames)
    assert sorted(len(t.faces) for t in tracks) == [1, 2]


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == 50 / 150
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
