"""Exploration plan: stage ladders to MD tasks, and MD starts drawn from the ideal crystal, the initial data and
earlier rounds (bulk cells of the ideal atom count only), reproducibly."""

import dpdata
import numpy as np
import pytest
from ase.calculators.emt import EMT

from dpdriver.config import RunConfig, parse_config
from dpdriver.data import write_systems
from dpdriver.errors import UserError
from dpdriver.explore import draw_start, plan_tasks, start_pools
from dpdriver.generate import ideal_crystal, rattle
from dpdriver.tools import ToolError, executable, run_tool


def labeled(frames):
    systems = []
    for atoms in frames:
        atoms.calc = EMT()
        systems.append(dpdata.LabeledSystem(atoms, fmt="ase/structure"))
    return systems


@pytest.fixture
def data_dir(tmp_path):
    config = RunConfig()
    ideal = ideal_crystal(config)
    rng = np.random.default_rng(0)
    bulk = [a for a, _ in rattle(ideal, [0.05], 3, rng)]
    vacancy = ideal.copy()
    del vacancy[0]
    write_systems(labeled(bulk[:2] + [vacancy]), tmp_path / "data/init/batch.0000", ["Cu"])
    write_systems(labeled(bulk[2:]), tmp_path / "data/round.000/batch.0000", ["Cu"])
    return tmp_path / "data", ideal


def test_pools_hold_bulk_cells_by_source(data_dir):
    data, ideal = data_dir
    pools = start_pools(["ideal", "initial", "rounds"], ideal, data)
    assert {k: len(v) for k, v in pools.items()} == {
        "ideal": 1,
        "initial": 2,
        "rounds": 1,
    }  # the vacancy cell is no start
    vacancies = start_pools(["vacancy"], ideal, data)["vacancy"]  # unless asked for
    assert len(vacancies) == 1 and len(vacancies[0][0]) == len(ideal) - 1 and vacancies[0][1]["source"] == "vacancy"
    assert all(o["system"].startswith("round.000/") for _, o in pools["rounds"])
    assert set(start_pools(["rounds"], ideal, data)) == {"rounds"}


def test_starts_are_seeded_and_fall_back_to_the_ideal_crystal(data_dir):
    data, ideal = data_dir
    config = RunConfig.model_validate(
        {"exploration": {"starts_per_task": 8, "temperatures_K": [300], "ensembles": ["nvt"]}}
    )
    tasks = plan_tasks(config.exploration, config.exploration.stage_list()[0], 1, config.seed)
    pools = start_pools(["initial", "rounds"], ideal, data)
    origins = [draw_start(task, pools, ideal)[1] for task in tasks]
    assert origins == [draw_start(task, pools, ideal)[1] for task in tasks]
    assert {o["source"] for o in origins} == {"initial", "rounds"}
    atoms, origin = draw_start(tasks[0], start_pools(["rounds"], ideal, None), ideal)  # round 0: no earlier round
    assert origin["source"] == "ideal" and np.allclose(atoms.positions, ideal.positions)


def test_npt_tasks_run_at_each_pressure_of_the_stage():
    config = RunConfig.model_validate(
        {
            "exploration": {
                "stages": [
                    {
                        "temperatures_K": [300, 600],
                        "ensembles": ["nvt", "npt"],
                        "pressures_bar": [1, 20000],
                        "md_steps": 50,
                    }
                ]
            }
        }
    )
    stage = config.exploration.stage_list()[0]
    tasks = plan_tasks(config.exploration, stage, 0, 1)
    assert [t.name for t in tasks] == [
        "nvt-300K-00",
        "nvt-600K-00",
        "npt-300K-1bar-00",
        "npt-300K-20000bar-00",
        "npt-600K-1bar-00",
        "npt-600K-20000bar-00",
    ]
    assert {t.md_steps for t in tasks} == {50} and len({t.seed for t in tasks}) == 6


@pytest.mark.parametrize(
    "text, message",
    [
        ("exploration: {stages: [{name: a}, {name: a}]}", "stage names must be unique"),
        (
            "exploration: {stages: [{temperatures_K: [-5]}]}",
            "stages.0.temperatures_K.0': Input should be greater than 0",
        ),
        ("exploration: {stages: [{startsfrom: [rounds]}]}", "did you mean 'starts_from'?"),
        ("exploration: {starts_from: [previous]}", "'exploration.starts_from.0'"),
        ("selection: {virial_trust_lo_eV: 0.1}", "give both virial_trust_lo_eV and virial_trust_hi_eV"),
    ],
)
def test_stage_and_trust_typos_are_refused_with_the_key(text, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace("?", r"\?")):
        parse_config(text, "c.yaml")


def test_a_crashed_tool_reports_its_own_error_line_not_the_loader_noise(tmp_path):

    (tmp_path / "in.bad").write_text(
        "units metal\nregion box block 0 3 0 3 0 3\ncreate_box 1 box\n"
        "create_atoms 1 single 1 1 1\nmass 1 63.5\nvelocity all create nan 1\n"
    )
    with pytest.raises(ToolError) as info:
        run_tool([executable("lmp"), "-in", "in.bad"], tmp_path, "lmp.out")
    message = str(info.value)
    assert "ERROR: Expected floating point parameter instead of 'nan'" in message and "libcudart" not in message
