"""What a stream, scenario or experiment file can and cannot do (docs/cli.md, "Security: what a
stream file can and cannot do"), on the command line (`vssim -cd DIR`) and in `load_stream`.

Each command line is a `python -m vssim.cli` process (a few seconds each); they are started
together once per module and the tests read their results. The names of this change's new
modules are imported inside the tests, so that the command-line tests also run on a tree without
them (they were seen to fail there).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import BASE, CONFIGS, assert_one_line, broken, deadline

import vssim
from vssim.errors import SpecError
from vssim.model.distributions import parse_distribution

SECRET = "s3cr3t-value-of-the-environment"
ORIGINAL = "the original content\n"
FAST = ["sim.horizon=100", "sim.warmup=10", "sim.replications=2", "report.figures=false",
        "report.event_log=false"]
MM1 = yaml.safe_load((CONFIGS / "stream" / "mm1.yaml").read_text())


PASSWD = "alice:hunter2:1000:1000::/home/alice:/bin/bash\nbob:tr0ub4dor:1001:1001::/home/bob:/bin/sh\n"
"""A file a `file:` key should not point at; its content must not appear in any error."""
PASSWD_WORDS = ("alice", "hunter2", "bob", "tr0ub4dor")
PASSWD_LINE = PASSWD.splitlines(keepends=True)[0]


def bomb(levels: int = 9) -> str:
    """A YAML alias bomb ("billion laughs"): a few lines, 9**levels strings once expanded."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def bombed_stream() -> str:
    """mm1 with an alias bomb as its description."""
    return stream_text(description=None) + "description:\n" + "".join(f"  {line}\n" for line in bomb().splitlines())


def stream_text(**changes) -> str:
    """mm1 as a YAML stream file, with top-level keys changed (None: removed)."""
    d = {**MM1, **changes}
    return yaml.safe_dump({k: v for k, v in d.items() if v is not None}, sort_keys=False)


def steal(src: Path, dst: Path) -> str:
    """The exploit of issue 12: a Hydra callback whose instantiation copies a file."""
    return (f"hydra:\n  callbacks:\n    steal:\n      _target_: shutil.copy\n      src: {src}\n      dst: {dst}\n")


def folder(root: Path, files: dict[str, str]) -> Path:
    """A user's config folder: {relative path: text}."""
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


# ----------------------------------------------------------------------------- the command lines
@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> dict:
    """Every command line of this module, started at once: name -> (CompletedProcess, cwd, seconds)."""
    base = tmp_path_factory.mktemp("security")
    secret = base / "secret.txt"
    secret.write_text("a secret\n")
    target = base / "target.txt"
    target.write_text(ORIGINAL)
    sweep = (CONFIGS / "experiment" / "wip_sweep.yaml").read_text().replace("range(1,41)", "range(2,4)")
    optimise = (CONFIGS / "experiment" / "wip_optimise.yaml").read_text()
    dirs = {
        "copy": {"scenario/my_copy.yaml": "# @package scenario.limit_wip\ndescription: my copy\n"
                                          "patch: {arrivals: {rate: 0.01}}\ntransforms: []\n"},
        "callback": {"experiment/steal.yaml": "# @package _global_\n" + steal(secret, target)},
        "global_stream": {"stream/trojan.yaml": "# @package _global_\nstream:\n"
                                                + "".join(f"  {line}\n" for line in stream_text().splitlines())
                                                + steal(secret, target)},
        "callback_group": {"hydra/callbacks/steal.yaml": f"steal:\n  _target_: shutil.copy\n  src: {secret}\n"
                                                         f"  dst: {target}\n",
                           "experiment/x.yaml": "# @package _global_\ndefaults:\n  - /hydra/callbacks: steal\n"},
        "escape": {"stream/escape.yaml": stream_text(name="../escaped")},
        "env": {"stream/env.yaml": stream_text(description="${oc.env:VSSIM_TEST_SECRET}")},
        "bomb": {"stream/bomb.yaml": bombed_stream()},
        "tab": {"stream/tab.yaml": "name: tab\narrivals:\n\tprocess: poisson\n"},
        "syntax": {"stream/syntax.yaml": "name: syntax\narrivals: {process: poisson, rate: 0.5\npools: {a: 1}\n"},
        "duplicate": {"stream/dup.yaml": stream_text(name="dup") + "pools: {server: 2}\n"},
        "steps_list": {"stream/steps.yaml": stream_text(name="steps", steps=[{"serve": MM1["steps"]["serve"]}])},
        "nameless": {"stream/nameless.yaml": stream_text(name=None)},
        "my_sweep": {"experiment/my_sweep.yaml": sweep},
        "my_optimise": {"experiment/my_optimise.yaml": optimise},
    }
    roots = {name: folder(base / "dirs" / name, files) for name, files in dirs.items()}
    sweeps = {name: base / "runs" / name / "sweep" for name in ("my_sweep", "my_optimise")}
    commands = {
        "copy": (["-cd", roots["copy"], "stream=mm1", "scenario=my_copy"], {}),
        "callback": (["-cd", roots["callback"], "experiment=steal", "stream=mm1"], {}),
        "global_stream": (["-cd", roots["global_stream"], "stream=trojan"], {}),
        "callback_group": (["-cd", roots["callback_group"], "experiment=x", "stream=mm1"], {}),
        "escape_file": (["-cd", roots["escape"], "stream=escape"], {}),
        "escape_override": (["stream=mm1", "stream.name=../../escaped"], {}),
        "env_file": (["-cd", roots["env"], "stream=env"], {"VSSIM_TEST_SECRET": SECRET}),
        "env_override": (["stream=mm1", "stream.description=${oc.env:VSSIM_TEST_SECRET}"],
                         {"VSSIM_TEST_SECRET": SECRET}),
        "bomb": (["-cd", roots["bomb"], "stream=bomb"], {}),
        "tab": (["-cd", roots["tab"], "stream=tab"], {}),
        "syntax": (["-cd", roots["syntax"], "stream=syntax"], {}),
        "duplicate": (["-cd", roots["duplicate"], "stream=dup"], {}),
        "steps_list": (["-cd", roots["steps_list"], "stream=steps"], {}),
        "nameless": (["-cd", roots["nameless"], "stream=nameless"], {}),
        "config_name": (["-cn", "config", "stream=mm1"], {}),
        "my_sweep": (["-cd", roots["my_sweep"], "experiment=my_sweep", "hydra/launcher=basic",
                      f"hydra.sweep.dir={sweeps['my_sweep']}"], {}),
        "my_optimise": (["-cd", roots["my_optimise"], "experiment=my_optimise", "hydra.sweeper.n_trials=2",
                         "hydra.sweeper.n_jobs=1", "hydra/launcher=basic", f"hydra.sweep.dir={sweeps['my_optimise']}"],
                        {}),
    }
    started = {}
    for name, (args, env) in commands.items():
        cwd = base / "runs" / name / "cwd"       # runs land in cwd/outputs/...; an escape lands beside cwd
        cwd.mkdir(parents=True)
        argv = [sys.executable, "-m", "vssim.cli", *map(str, args), *FAST]
        full_env = {**os.environ, "HYDRA_FULL_ERROR": "0", "MPLBACKEND": "Agg", **env}
        proc = subprocess.Popen(argv, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        started[name] = (argv, proc, cwd, time.monotonic())
    results = {"target": target, "sweeps": sweeps}
    for name, (argv, proc, cwd, t0) in started.items():
        try:
            stdout, stderr = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            stderr += "\n(killed: no result within 300 s)"
        results[name] = (subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr), cwd,
                         time.monotonic() - t0)
    return results


def refused(cli: dict, name: str) -> str:
    """The one line on stderr of a command refused with exit code 2, before any output was written."""
    proc, cwd, _ = cli[name]
    assert proc.returncode == 2, f"{name}: exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith("vssim: error: "), lines[0]
    assert not (cwd / "outputs").exists()           # refused before Hydra made a run directory
    return lines[0]


def test_a_copied_scenario_file_cannot_replace_the_real_one(cli):
    line = refused(cli, "copy")
    assert "scenario/my_copy.yaml" in line
    assert "'# @package scenario.my_copy'" in line and "'# @package scenario.limit_wip'" in line


@pytest.mark.parametrize("name", ["callback", "global_stream", "callback_group"])
def test_a_file_of_the_folder_cannot_make_hydra_run_code(cli, name):
    """The exploit: `hydra.callbacks.steal: {_target_: shutil.copy, src, dst}`, from an experiment,
    from a stream file that is a `_global_` package, from a hydra/callbacks config of the folder."""
    line = refused(cli, name)
    assert cli["target"].read_text() == ORIGINAL           # shutil.copy never ran
    expected = {"callback": ("experiment/steal.yaml", "_target_"),
                "global_stream": ("stream/trojan.yaml", "'# @package _global_'"),
                "callback_group": ("hydra/callbacks/steal.yaml", "Hydra configs")}[name]
    for fragment in expected:
        assert fragment in line, line


@pytest.mark.parametrize("name", ["escape_file", "escape_override"])
def test_a_stream_name_cannot_put_the_run_outside_outputs(cli, name):
    line = refused(cli, name)
    assert "'../escaped'" in line or "'../../escaped'" in line
    assert "name" in line and "without '..'" in line
    cwd = cli[name][1]
    assert sorted(p.name for p in cwd.parent.iterdir()) == ["cwd"] and not any(cwd.iterdir())


@pytest.mark.parametrize("name", ["env_file", "env_override"])
def test_a_stream_value_cannot_read_the_environment(cli, name):
    line = refused(cli, name)
    assert "oc.env" in line and SECRET not in line
    assert "description" in line


def test_an_alias_bomb_is_refused_at_once(cli):
    line = refused(cli, "bomb")
    assert "stream/bomb.yaml" in line and "expands to" in line and "100000" in line
    assert cli["bomb"][2] < 120                    # not a hang (the process start is most of it)


@pytest.mark.parametrize(("name", "file", "where", "problem"), [
    ("tab", "stream/tab.yaml", "line 3, column 1", "tabs"),
    ("syntax", "stream/syntax.yaml", "line 3, column 6", "not valid YAML"),
    ("duplicate", "stream/dup.yaml", "line 17, column 1", "duplicate key 'pools' (first at line 8)"),
    ("steps_list", "stream/steps.yaml", "line 11, column 1", "steps: must be a mapping (NAME: ...), got a list"),
])
def test_a_broken_yaml_file_is_one_line_with_its_place(cli, name, file, where, problem):
    line = refused(cli, name)
    assert f"{file}: {where}: " in line, line
    assert problem in line


def test_a_stream_file_without_a_name_is_named_after_the_file(cli):
    proc, cwd, _ = cli["nameless"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = (cwd / "outputs" / "nameless").iterdir()
    assert json.loads((run / "summary.json").read_text())["stream"] == "nameless"


def test_the_config_name_flag_is_refused(cli):
    assert "--config-name: not available in vssim" in refused(cli, "config_name")


def test_a_users_copy_of_wip_sweep_still_runs(cli):
    proc, _, _ = cli["my_sweep"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {p.name for p in cli["sweeps"]["my_sweep"].iterdir()} >= {"0", "1", "runs.parquet", "report.md"}


def test_a_users_copy_of_wip_optimise_still_runs(cli):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    proc, _, _ = cli["my_optimise"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "vssim: best run" in proc.stdout


# ----------------------------------------------------------------------------- the folder, in process
def test_the_projects_presets_streams_and_scenarios_pass_as_a_users_copies(tmp_path):
    """Every packaged file, copied verbatim into a user's folder, is accepted (under its own name)."""
    from vssim.cli.trust import check_config_dir

    for group in ("stream", "scenario", "experiment"):
        shutil.copytree(CONFIGS / group, tmp_path / group)
    check_config_dir(tmp_path)


@pytest.mark.parametrize(("files", "fragment"), [
    ({"stream/s.yaml": stream_text(description={"_target_": "os.getcwd"})}, "description._target_: not allowed"),
    ({"scenario/s.yaml": "# @package scenario.s\npatch: {arrivals: {_target_: os.system}}\n"}, "_target_"),
    ({"experiment/e.yaml": "# @package _global_\nhydra:\n  job_logging: {root: {level: INFO}}\n"},
     "hydra.job_logging: not allowed"),
    ({"experiment/e.yaml": "# @package _global_\nhydra:\n  sweeper: {custom_search_space: m.f}\n"},
     "hydra.sweeper.custom_search_space: not allowed"),
    ({"experiment/e.yaml": "# @package _global_\nhydra:\n  sweeper:\n    params: {hydra.job.chdir: 'true,false'}\n"},
     "a sweep may vary only"),
    ({"experiment/e.yaml": "# @package _global_\ndefaults:\n  - override /hydra/job_logging: disabled\n"},
     "not a group an experiment may choose from"),
    ({"experiment/e.yaml": "# @package _global_\ndefaults:\n  - /stream@hydra.callbacks: mm1\n"},
     "not a group an experiment may choose from"),
    ({"experiment/e.yaml": "# @package _global_\ndefaults:\n  - override /stream: ../hydra/x\n"},
     "is not an option name"),
    ({"experiment/e.yaml": "sim: {seed: 2}\n"}, "must start with '# @package _global_'"),
    ({"experiment/e.yaml": "# @package _global_\nsim: {seed: '${oc.env:HOME}'}\n"}, "calls the resolver 'oc.env'"),
    ({"stream/s.yaml": stream_text(description="${oc.decode:'${x}'}")}, "calls the resolver 'oc.decode'"),
    ({"stream/s.yaml": stream_text(description="${${n}:HOME}")}, "calls the resolver"),
    ({"stream/s.yaml": "# @package hydra\n" + stream_text()}, "must not have a '# @package hydra' line"),
    ({"stream/s.yaml": "defaults: [dvs_basic]\n" + stream_text()}, "defaults: not allowed in a stream file"),
    ({"stream/s.yaml": stream_text(name="${time_unit}")}, "name: must be a name"),
    ({"stream/s.yaml": stream_text(description=["a", "b"])}, "description: must be a string"),
    ({"stream/sub/s.yaml": stream_text(name=None)}, "the file's name 'sub/s' cannot stand in for it"),
    ({"scenario/s.yaml": "description: no package line\n"}, "must start with '# @package scenario.s'"),
    ({"scenario/s.yaml": "# @package _global_\nstream: {name: x}\n"}, "got '# @package _global_'"),
    ({"experiment/e.yaml": "# @package _global_\nhydra:\n  callbacks: {x: {}}\n"}, "hydra.callbacks: not allowed"),
    ({"experiment/e.yaml": "# @package _global_\nstream: {steps: [a, b]}\n"}, "stream.steps: must be a mapping"),
    ({"stream/s.yaml": PASSWD_LINE}, "must be a mapping of keys to values"),
])
def test_what_a_folder_file_may_not_do(tmp_path, files, fragment):
    from vssim.cli.trust import check_config_dir

    folder(tmp_path / "u", files)
    with pytest.raises(SpecError) as info:
        check_config_dir(tmp_path / "u")
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(tmp_path / "u" / next(iter(files)))), msg
    assert fragment in msg, msg


@pytest.mark.parametrize("override", [
    "stream.name=a/b", "stream.name=..", "++stream.name=../x", "stream.name=ok,../x",
    "stream.arrivals={process: '${oc.env:HOME}'}", "stream.description=x,${oc.env:HOME}",
    "stream.description='${oc.decode:${x}}'", "hydra.searchpath=[file:///tmp]",
])
def test_what_an_override_may_not_do(override):
    from vssim.cli.trust import preflight

    with pytest.raises(SpecError):
        preflight([override])


@pytest.mark.parametrize("argv", [["--config-path", "/tmp"], ["-cp", "/tmp"], ["--config-name", "x"],
                                  ["--experimental-rerun", "/tmp/config.pickle"]])
def test_the_flags_that_replace_the_config_are_refused(argv):
    from vssim.cli.trust import preflight

    with pytest.raises(SpecError, match="not available in vssim"):
        preflight(argv)


def test_a_folder_is_walked_through_its_links_and_within_bounds(tmp_path, monkeypatch):
    """A bad file behind a symbolic link is found; a link loop ends; the walk stops at MAX_FILES."""
    from vssim.cli import trust

    folder(tmp_path / "elsewhere", {"bad.yaml": "name: x\nsteps: {a: {_target_: os.system}}\n"})
    (tmp_path / "u" / "stream").mkdir(parents=True)
    (tmp_path / "u" / "stream" / "shared").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere" / "loop").symlink_to(tmp_path / "elsewhere")
    with deadline(5), pytest.raises(SpecError, match="_target_: not allowed"):
        trust.check_config_dir(tmp_path / "u")
    (tmp_path / "elsewhere" / "bad.yaml").unlink()
    for i in range(3):
        (tmp_path / "u" / "stream" / f"s{i}.yaml").write_text(stream_text(name=f"s{i}"))
    trust.check_config_dir(tmp_path / "u")
    monkeypatch.setattr(trust, "MAX_FILES", 2)
    with pytest.raises(SpecError, match="more than 2 YAML files"):
        trust.check_config_dir(tmp_path / "u")


def test_what_an_override_may_do():
    from vssim.cli.trust import preflight

    preflight(["stream=mm1", "stream.name=my.team-2", "sim.seed=3", "stream.description=${stream.name}",
               "hydra.run.dir=${oc.env:HOME}/x", "-m", "scenario=baseline,limit_wip"])


# ----------------------------------------------------------------------------- load_stream and files
def test_load_stream_refuses_an_alias_bomb_in_a_few_seconds(tmp_path):
    f = tmp_path / "bomb.yaml"
    f.write_text(bombed_stream())
    with deadline(5), pytest.raises(SpecError) as info:
        vssim.load_stream(f)
    assert_one_line(info.value, str(f), "expands to", "100000")


@pytest.mark.parametrize(("text", "where", "problem"), [
    ("name: tab\narrivals:\n\tprocess: poisson\n", "line 3, column 1", "(YAML is indented with spaces, never tabs)"),
    ("name: syntax\narrivals: {process: poisson, rate: 0.5\npools: {a: 1}\n", "line 3, column 6", "not valid YAML"),
    (stream_text() + "pools: {server: 2}\n", "line 17, column 1", "duplicate key 'pools' (first at line 8)"),
    (stream_text(steps=[{"serve": MM1["steps"]["serve"]}]), "line 11, column 1",
     "steps: must be a mapping (NAME: ...), got a list"),
    (PASSWD_LINE, "line 1, column 1", "must be a mapping of keys to values"),
])
def test_load_stream_gives_the_place_of_a_broken_file_in_one_line(tmp_path, text, where, problem):
    f = tmp_path / "s.yaml"
    f.write_text(text)
    with pytest.raises(SpecError) as info:
        vssim.load_stream(f)
    msg = assert_one_line(info.value, f"{f}: {where}", problem, problem)
    assert not any(word in msg for word in PASSWD_WORDS), msg


@pytest.mark.parametrize(("content", "problem"), [
    (b"name: deep\ndescription: " + b"[" * 60 + b"]" * 60 + b"\n", "nested more than 50 levels deep"),
    (b"name: caf\xe9\n", "line 1 is not UTF-8 text"),
    (b"a: &a [1, *a]\n", "line 1, column 4: an alias inside its own anchor"),
])
def test_load_stream_refuses_a_deep_a_recursive_or_a_non_utf8_file(tmp_path, content, problem):
    f = tmp_path / "s.yaml"
    f.write_bytes(content)
    with deadline(5), pytest.raises(SpecError) as info:
        vssim.load_stream(f)
    assert "\n" not in str(info.value) and problem in str(info.value), info.value


def test_load_stream_names_a_nameless_stream_after_its_file(tmp_path):
    f = tmp_path / "my_team.yaml"
    f.write_text(stream_text(name=None))
    assert vssim.load_stream(f).name == "my_team"


def test_load_stream_reads_no_device_and_no_huge_file(tmp_path):
    from vssim.model.userfiles import MAX_YAML_BYTES

    with deadline(5), pytest.raises(SpecError) as info:
        vssim.load_stream("/dev/zero")
    assert_one_line(info.value, "stream", "'/dev/zero' (a character device)", "an existing YAML file")
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:
        fh.truncate(MAX_YAML_BYTES + 1)
    with pytest.raises(SpecError, match="more than the 4 MiB"):
        vssim.load_stream(big)


@pytest.mark.parametrize("name", ["../x", "a/b", "a\\b", "..", "x..y", "", ".hidden", "-x", "a b", "x" * 65, 5])
def test_a_stream_name_is_an_identifier(name):
    with pytest.raises(SpecError) as info:
        vssim.StreamSpec.from_dict(broken({"name": name}))
    assert str(info.value).startswith("name: must be a name of 1 to 64 letters")


@pytest.mark.parametrize("name", ["dvs_basic", "mm1", "Team-2.v3", "_x", "x" * 64])
def test_a_stream_name_may_be(name):
    assert vssim.StreamSpec.from_dict(broken({"name": name})).name == name


def test_a_scenario_name_is_an_identifier():
    from vssim.scenarios.scenario import Scenario

    with pytest.raises(SpecError, match="^scenario: must be a name"):
        Scenario.from_dict({}, "../../x")


@pytest.mark.parametrize("description", [["a", "b"], {"a": 1}, 5])
def test_a_description_is_a_string(description):
    with pytest.raises(SpecError, match="^description: must be a string"):
        vssim.StreamSpec.from_dict(broken({"description": description}))
    with pytest.raises(SpecError, match=r"^steps\.build\.description: must be a string"):
        vssim.StreamSpec.from_dict(broken({"steps.build.description": description}))


@pytest.mark.parametrize(("text", "fragment"), [
    (PASSWD, "no 'time' column in the header, line 1"),
    ("time,type\n1,feature\nalice:hunter2,defect\n", "line 3: column 'time' must be a number >= 0"),
    ("time,type\n1,feature\n2,alice:hunter2\n", "line 3: column 'type' must be one of feature, defect"),
    ("time,size\n1,2\n2,alice:hunter2\n", "line 3: column 'size' must be a number >= 1e-09"),
    ("type,time\nfeature\n", "line 2: no value in column 'time'"),
    ("time\n2\n1\n", "line 3: column 'time' is below the previous line's"),
])
def test_a_trace_file_error_does_not_quote_the_file(tmp_path, text, fragment):
    (tmp_path / "arrivals.csv").write_text(text)
    with pytest.raises(SpecError) as info:
        vssim.StreamSpec.from_dict(broken({"arrivals": {"process": "trace", "file": "arrivals.csv"}}),
                                   base_dir=tmp_path)
    msg = assert_one_line(info.value, "arrivals.file", "'arrivals.csv'", fragment)
    assert not any(word in msg for word in PASSWD_WORDS), msg


@pytest.mark.parametrize(("text", "fragment"), [
    (PASSWD, "line 2: not a number"), ("days\n1\nalice:hunter2\n", "line 3: not a number"),
    ("a,b\nalice,hunter2\n", "line 2, column 1: not a number"),
    ("1\n-1001\n", "got a negative number at line 2"),
])
def test_an_empirical_file_error_does_not_quote_the_file(tmp_path, text, fragment):
    f = tmp_path / "passwd"
    f.write_text(text)
    with pytest.raises(SpecError) as info:
        parse_distribution({"dist": "empirical", "file": str(f)}, "steps.build.work")
    msg = assert_one_line(info.value, "steps.build.work.file", str(f), fragment)
    assert "1001" not in msg
    assert not any(word in msg for word in PASSWD_WORDS), msg


def test_a_file_input_is_a_regular_file_of_bounded_size(tmp_path):
    from vssim.model.userfiles import MAX_DATA_BYTES

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    big = tmp_path / "big.csv"
    with big.open("wb") as fh:
        fh.truncate(MAX_DATA_BYTES + 1)
    latin = tmp_path / "latin1.csv"
    latin.write_bytes(b"time\n1\n# caf\xe9\n")
    for file, why in (("/dev/zero", "a character device"), (str(fifo), "a named pipe"),
                      (str(tmp_path), "a directory"), (str(big), "more than the 64 MiB"),
                      (str(latin), "line 3 is not UTF-8 text")):
        with deadline(5), pytest.raises(SpecError) as info:
            parse_distribution({"dist": "empirical", "file": file}, "steps.build.work")
        assert_one_line(info.value, "steps.build.work.file", why, "a readable file")
        with deadline(5), pytest.raises(SpecError) as info:
            vssim.StreamSpec.from_dict(broken({"arrivals": {"process": "trace", "file": file}}))
        assert_one_line(info.value, "arrivals.file", why, "an existing CSV file")


def test_base_stream_is_still_valid():
    assert vssim.StreamSpec.from_dict(BASE).name == "dvs_basic"
