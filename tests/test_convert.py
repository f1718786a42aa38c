"""dpdriver convert on the real VASP outputs in ../shared/fixtures/vasp (read in place)."""

import csv
import json
import shutil
from pathlib import Path

import dpdata
import numpy as np
import pytest

from dpdriver.convert.discover import kind_of
from dpdriver.convert.pipeline import convert

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "vasp"
pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"VASP fixtures not found at {FIXTURES}")


@pytest.fixture(scope="module")
def everything(tmp_path_factory):
    out = tmp_path_factory.mktemp("convert") / "data"
    summary = convert([FIXTURES], out, workers=2, seed=3)
    return summary, out


def by_name(summary, suffix):
    hits = [f for f in summary["files"] if f["file"].endswith(suffix)]
    assert len(hits) == 1, suffix
    return hits[0]


def test_every_output_file_has_an_outcome(everything):
    summary, _ = everything
    manifest = [line.split("\t") for line in (FIXTURES / "MANIFEST.tsv").read_text().splitlines()[1:]]
    outputs = [FIXTURES / row[0] for row in manifest if row[5] in ("OUTCAR", "vasprun")]
    accounted = {f["file"] for f in summary["files"]} | {p for f in summary["files"] for p in f["also_written"]}
    assert {str(p) for p in outputs if kind_of(p)} <= accounted
    for f in summary["files"]:  # every frame found is kept or rejected with a reason
        assert 0 <= f["kept"] and f["kept"] + sum(f["rejected"].values()) >= f["found"], f["file"]


def single(path, tmp_path, **options):
    """The report row of one file converted on its own (copies elsewhere in the tree are duplicates)."""
    summary = convert([FIXTURES / path], tmp_path / path.replace("/", "_"), valid_fraction=0, **options)
    return summary["files"][0]


def test_unconverged_steps_by_what_the_file_says(everything, tmp_path):
    summary, _ = everything
    # step 1 used all 10 iterations with dE 9.2e-6 > EDIFF 1e-6: rejected; step 3 used all 10 but met EDIFF: kept
    partial = single("aiida-vasp/src/aiida_vasp/test_data/outcar_extras/OUTCAR.nelm-breach-partial", tmp_path)
    assert (partial["found"], partial["kept"], partial["rejected"]) == (5, 4, {"scf_unconverged": 1})
    assert by_name(summary, "OUTCAR.nelm-breach-consistent")["kept"] == 0
    ch4 = single(
        "dpdata/tests/poscars/OUTCAR.ch4.unconverged", tmp_path
    )  # dpdata 1.1.0 keeps 1; step 2 converged on iteration NELM
    assert (ch4["kept"], ch4["rejected"]) == (2, {"scf_unconverged": 1})
    assert by_name(summary, "unconverged/vasprun.xml.electronic")["rejected"] == {"scf_unconverged": 5}


def test_truncated_files_keep_their_complete_frames(tmp_path):
    relax = single(
        "aiida-vasp/src/aiida_vasp/test_data/relax-truncated/vasprun.xml", tmp_path
    )  # dpdata's default raises ParseError here
    assert not relax["complete"] and relax["kept"] == 18 and relax["error"] is None
    broken = single("nomad-electronic-parsers/tests/data/vasp/vasprun.xml.broken", tmp_path)
    assert not broken["complete"] and broken["kept"] == 1
    unfinished = single("aiida-vasp/src/aiida_vasp/test_data/outcar_extras/OUTCAR.unfinished", tmp_path)
    assert not unfinished["complete"] and unfinished["kept"] == 12


def test_ml_frames_excluded_by_default_and_included_on_request(everything, tmp_path):
    summary, _ = everything
    ml = by_name(summary, "poscars/OUTCAR.ch4.ml")
    assert (ml["kept"], ml["ml_frames"]) == (4, 10)
    assert summary["totals"]["ml_frames_excluded"] >= 10 + 2 + 13 + 3
    with_ml = convert(
        [FIXTURES / "dpdata/tests/poscars/OUTCAR.ch4.ml"], tmp_path / "ml", include_ml=True, valid_fraction=0
    )
    assert with_ml["frames_written"] == 14
    rows = list(csv.DictReader(open(tmp_path / "ml" / "index.csv")))
    assert sum(r["ml_predicted"] == "True" for r in rows) == 10
    assert (tmp_path / "ml/train/H4C1-novirial").is_dir()  # ML frames carry no virial


def test_runs_without_stress_are_marked_no_virial(everything):
    summary, out = everything
    optics = by_name(summary, "optics/OUTCAR")
    assert not optics["has_virial"] and optics["kept"] == 1
    novirial = [p for p in out.glob("*/*-novirial") if p.is_dir()]
    assert novirial and all(not list(p.glob("set.*/virial.npy")) for p in novirial)
    assert all(
        list(p.glob("set.*/virial.npy")) for p in out.glob("*/*") if p.is_dir() and not p.name.endswith("-novirial")
    )


def test_gzipped_run_with_both_files_is_read_once(everything):
    summary, _ = everything
    run = by_name(summary, "adsorbate_wf/3/outputs/OUTCAR.gz")
    assert run["kept"] == 15 and run["also_written"] == [
        str(FIXTURES / "atomate/atomate/vasp/test_files/adsorbate_wf/3/outputs/vasprun.xml.gz")
    ]


def test_split_is_by_run_and_index_covers_every_frame(everything):
    summary, out = everything
    rows = list(csv.DictReader(open(out / "index.csv")))
    assert len(rows) == summary["frames_written"] == summary["train_frames"] + summary["valid_frames"]
    assert summary["valid_frames"] > 0
    split_of = {}
    for row in rows:
        assert split_of.setdefault(row["source_file"], row["split"]) == row["split"]
    written = sum(len(np.load(p)) for p in out.rglob("set.*/energy.npy"))
    assert written == len(rows)


def test_split_is_deterministic_with_a_seed(tmp_path):
    source = FIXTURES / "aiida-vasp"
    a = convert([source], tmp_path / "a", seed=5, valid_fraction=0.3)
    b = convert([source], tmp_path / "b", seed=5, valid_fraction=0.3)
    assert (tmp_path / "a/index.csv").read_text().replace(str(tmp_path / "a"), "") == (
        tmp_path / "b/index.csv"
    ).read_text().replace(str(tmp_path / "b"), "")
    assert a["valid_frames"] == b["valid_frames"]


def test_duplicates_are_kept_once(tmp_path):
    for name in ("a", "b"):
        (tmp_path / "runs" / name).mkdir(parents=True)
        shutil.copyfile(FIXTURES / "dpdata/tests/poscars/OUTCAR.ch4.unconverged", tmp_path / "runs" / name / "OUTCAR")
    summary = convert([tmp_path / "runs"], tmp_path / "out", valid_fraction=0)
    assert summary["frames_written"] == 2 and summary["totals"]["rejected:duplicate"] == 2


def test_hdf5_output(tmp_path):
    summary = convert(
        [FIXTURES / "dpdata/tests/poscars/OUTCAR.ch4.unconverged"], tmp_path / "h5", fmt="deepmd/hdf5", valid_fraction=0
    )

    system = dpdata.LabeledSystem(str(tmp_path / "h5/train.hdf5") + "#/H4C1", fmt="deepmd/hdf5")
    assert len(system) == summary["frames_written"] == 2


def test_element_outside_type_map_names_the_file(cli, tmp_path):
    result = cli(
        "convert", FIXTURES / "dpdata/tests/poscars/OUTCAR.ch4.unconverged", "-o", tmp_path / "o", "--type-map", "Cu"
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "OUTCAR.ch4.unconverged" in result.stderr and "not in --type-map Cu" in result.stderr
    assert not (tmp_path / "o").exists()


def test_nothing_usable_is_an_error_with_the_table_and_the_report(cli, tmp_path):
    result = cli(
        "convert",
        FIXTURES / "aiida-vasp/src/aiida_vasp/test_data/outcar_extras/OUTCAR.nelm-breach-consistent",
        "-o",
        tmp_path / "o",
    )
    assert result.returncode == 2 and result.stderr.startswith("dpdriver: error: no usable frames")
    assert "--report-only" not in result.stderr and "convert_report.json" in result.stderr
    assert "OUTCAR.nelm-breach-consistent" in result.stdout and "scf_unconverged" in result.stdout  # the per-file table
    report = json.loads((tmp_path / "o" / "convert_report.json").read_text())
    assert report["frames_written"] == 0 and not list((tmp_path / "o").rglob("*.npy"))


def test_frames_an_outcar_cannot_give_come_from_the_vasprun_beside_it(tmp_path):
    """NWRITE=0 leaves 8 of 10 MD steps out of the OUTCAR; a 'cannot find forces' OUTCAR.gz loses its only frame:
    vasprun.xml has them, and the index says which file each frame came from."""
    summary = convert([FIXTURES / "dpdata/tests/poscars/Ti-aimd-nwrite0"], tmp_path / "ti", valid_fraction=0)
    ti = summary["files"][0]
    assert (ti["found"], ti["kept"], ti["rejected"], ti["recovered"]) == (10, 10, {}, 8)
    with open(tmp_path / "ti" / "index.csv") as f:
        sources = [Path(row["source_file"]).name for row in csv.DictReader(f)]
    assert sorted(sources) == ["OUTCAR"] * 2 + ["vasprun.xml"] * 8
    al = convert([FIXTURES / "atomate/atomate/vasp/test_files/Al"], tmp_path / "al", valid_fraction=0)["files"][0]
    assert al["file"].endswith("OUTCAR.gz") and "cannot find forces" in al["error"]
    assert (al["kept"], al["rejected"], Path(al["recovered_from"]).name) == (1, {}, "vasprun.xml.gz")


def test_a_damaged_file_is_one_row_and_the_others_are_converted(tmp_path):
    runs = tmp_path / "runs"
    (runs / "cut").mkdir(parents=True)
    whole = (FIXTURES / "atomate/atomate/vasp/test_files/Al/vasprun.xml.gz").read_bytes()
    (runs / "cut" / "vasprun.xml.gz").write_bytes(whole[: len(whole) // 2])  # a copy cut off mid-transfer
    shutil.copytree(FIXTURES / "dpdata/tests/poscars/Ti-aimd-nwrite0", runs / "good")
    summary = convert([runs], tmp_path / "o", valid_fraction=0)
    rows = {Path(f["file"]).parent.name: f for f in summary["files"]}
    assert rows["cut"]["error"].startswith("EOFError") and rows["cut"]["kept"] == 0
    assert rows["good"]["kept"] == 10 and summary["frames_written"] == 10


def test_a_species_order_that_contradicts_the_poscar_title_is_rejected_unless_kept(tmp_path):
    text = (FIXTURES / "dpdata/tests/poscars/OUTCAR.ch4.unconverged").read_text()
    swapped = tmp_path / "run" / "OUTCAR"
    swapped.parent.mkdir()
    swapped.write_text(text.replace(" POSCAR =   H  C ", " POSCAR =   H1 C4"))  # the title says HC4, POTCAR+counts CH4
    rejected = convert([swapped], tmp_path / "o1", valid_fraction=0)["files"][0]
    assert rejected["kept"] == 0 and rejected["rejected"] == {"species_order": 3}
    assert "--keep-species-mismatch" in rejected["rejections"][0]["value"]
    kept = convert([swapped], tmp_path / "o2", valid_fraction=0, keep_species_mismatch=True)["files"][0]
    assert kept["kept"] == 2


def test_cli_prints_the_table_and_writes_the_report(cli, tmp_path):
    result = cli(
        "convert",
        FIXTURES / "dpdata",
        "-o",
        tmp_path / "o",
        "--type-map",
        "H,C,O,Ti,Ge,Al,Ni,Si,Li,P,S,Na,Cl,F,Fe,Cu,Ag,Au,Pt,Pd,N,X",
        "--workers",
        "2",
    )
    assert result.returncode == 0, result.stderr
    assert "OUTCAR.ch4.ml" in result.stdout and "ML frames 10 (excluded)" in result.stdout
    report = json.loads((tmp_path / "o/convert_report.json").read_text())
    assert report["type_map"][:4] == ["H", "C", "O", "Ti"]


def test_outlying_forces_are_rejected_with_their_value(tmp_path):
    row = single("chgnet/tests/files/parse-vasp-no-magmoms.zip_contents/parse-vasp-no-magmoms/OUTCAR", tmp_path)
    rejected = [r for r in row["rejections"] if r["reason"] == "force_above_threshold"]
    assert len(rejected) == 1 and rejected[0]["value"] > 1000  # a 2.9e4 eV/A force in this real file
    assert row["kept"] == row["found"] - 1


def test_long_vasprun_read_in_chunks_gives_the_same_frames(tmp_path, monkeypatch):
    import dpdriver.convert.read as read

    source = "dpdata/tests/poscars/vasprun.h2o.md.10.xml"
    whole = convert([FIXTURES / source], tmp_path / "whole", valid_fraction=0)
    monkeypatch.setattr(read, "CHUNK_BYTES", 0)
    monkeypatch.setattr(read, "CHUNK_STEPS", 3)
    chunked = convert([FIXTURES / source], tmp_path / "chunked", valid_fraction=0)
    assert chunked["frames_written"] == whole["frames_written"] == 10
    for name in ("energy", "force", "virial", "coord", "box"):
        a = np.load(next((tmp_path / "whole").rglob(f"set.000/{name}.npy")))
        b = np.load(next((tmp_path / "chunked").rglob(f"set.000/{name}.npy")))
        assert np.array_equal(a, b), name
