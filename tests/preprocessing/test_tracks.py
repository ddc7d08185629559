"""Face tracks: faces linked across sampled frames by overlap, one track per person."""

from __future__ import annotations

from dfd.preprocessing.faces import Face
from dfd.preprocessing.tracks import iou, track_faces


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


def test_two_actor_scenes_are_cropped_per_track_and_labelled_by_the_mask(tmp_path, cropper):
    """DFD-style scenes with two people: every crop of a track stays on its person, a real scene
    keeps both, a masked fake labels the swapped face fake and the other real, and an unmasked
    fake keeps its main track and says so in the manifest."""
    from dfd.data.synthetic.mini import make_dfd
    from dfd.preprocessing.manifest import read_manifest
    from dfd.preprocessing.options import PreprocessOptions
    from dfd.preprocessing.runner import run_preprocessing
    from dfd.raw.layouts.ffpp import parse_dfd
    from tests.conftest import SPEC

    root = make_dfd(tmp_path / "FaceForensics++", spec=SPEC)
    records = parse_dfd(root)
    masked = next(r for r in records if r.video_id.endswith("MASKED"))
    assert (
        masked.mask_path is not None
        and next(r for r in records if r.video_id.endswith("NOMASK")).mask_path is None
    )
    run_preprocessing(records, tmp_path / "crops", cropper, PreprocessOptions(num_frames=4), progress=False)
    rows, _ = read_manifest(tmp_path / "crops")
    rows = rows[rows["status"] == "ok"]
    half = 2 * SPEC.width / 2  # the two actors stand left and right of the frame's middle

    def sides(video: str) -> dict[int, set[str]]:
        mine = rows[rows["video_id"] == f"{video}"]
        centre = (mine["x1"] + mine["x2"]) / 2
        return {
            int(t): set(("left" if c < half else "right") for c in centre[mine["track"] == t])
            for t in mine["track"].unique()
        }

    real = sides("DFD_original/01__meeting")
    assert sorted(map(frozenset, real.values()), key=sorted) == [
        frozenset({"left"}),
        frozenset({"right"}),
    ]  # no jumps
    assert set(rows.loc[rows["video_id"] == "DFD_original/01__meeting", "label"]) == {0}
    fake = rows[rows["video_id"] == "DeepFakeDetection/01_02__meeting__MASKED"]
    by_track = {int(t): set(g["label"]) for t, g in fake.groupby("track")}
    left_track = next(
        t for t, s in sides("DeepFakeDetection/01_02__meeting__MASKED").items() if s == {"left"}
    )
    assert by_track[left_track] == {1} and set().union(
        *(v for t, v in by_track.items() if t != left_track)
    ) == {0}
    nomask = rows[rows["video_id"] == "DeepFakeDetection/03_04__meeting__NOMASK"]
    assert set(nomask["track"]) == {0} and set(nomask["label"]) == {1}
    assert (
        nomask["reason"]
        .str.contains("kept the main face track of 2: no mask says which face was swapped")
        .all()
    )
    single = rows[rows["video_id"] == "DFD_original/05__talking"]
    assert set(single["track"]) == {0} and len(single) == 4
