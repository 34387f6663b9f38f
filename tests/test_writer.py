"""The writer: its manifest text, atomic writes (failures and crashes), diffs, stale files, the stat cache."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lookwright.output.writer import (
    MANIFEST,
    OutputFile,
    OutputSet,
    diff_set,
    digest,
    is_fresh,
    manifest_files,
    manifest_text,
    write_atomic,
    write_set,
)

NAMES = st.text(alphabet="ab/._-\"\\é", min_size=1, max_size=12)


@given(st.dictionaries(NAMES, st.text(alphabet="0123456789abcdef", max_size=64), max_size=8))
def test_manifest_text_equals_the_json_module(files: dict[str, str]) -> None:
    expected = json.dumps({"generator": "lookwright", "files": files}, indent=2, sort_keys=True) + "\n"
    assert manifest_text(files) == expected


# ---- atomic writes: a failure or a crash between writing and renaming leaves the old file ----------


def test_a_failing_rename_leaves_the_old_file_and_no_temporary(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "orders.view.lkml"
    target.write_text("old\n")

    def disk_full(src: object, dst: object) -> None:  # the OS refusing the rename
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left on device"):
        write_atomic(target, "new\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders.view.lkml"]
    assert target.read_text() == "old\n"


CRASH_AT_RENAME = """
import os, signal, sys
from pathlib import Path
from lookwright.output.writer import write_atomic

def crash(src, dst):  # the process dies after the data is written, before the rename
    os.kill(os.getpid(), signal.SIGKILL)

os.replace = crash
write_atomic(Path(sys.argv[1]), "new content that never lands\\n")
"""


def test_a_process_killed_between_write_and_rename_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "orders.view.lkml"
    target.write_text("old\n")
    done = subprocess.run([sys.executable, "-c", CRASH_AT_RENAME, str(target)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert target.read_text() == "old\n"
    leftovers = [p for p in tmp_path.iterdir() if p != target]
    assert [p.read_text() for p in leftovers] == ["new content that never lands\n"]  # only the temporary


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_a_new_file_gets_0644_less_the_umask_in_new_folders(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "a" / "b" / "c.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a" / "b" / "c.txt").stat().st_mode & 0o777 == mode


def test_a_failing_open_raises_its_own_error_and_nothing_else(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as failure:
        write_atomic(tmp_path / "missing" / "a.txt", "x", make_parents=False)
    assert failure.value.__context__ is None  # cleanup of the never-created temporary raised nothing
    assert list(tmp_path.iterdir()) == []


def test_a_crash_writing_the_manifest_keeps_the_old_manifest(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    write_set(OutputSet(tmp_path, (OutputFile("a.lkml", "a1\n"), OutputFile("b.lkml", "b1\n")), "f1"))
    manifest = (tmp_path / MANIFEST).read_text()
    real_replace = os.replace

    def fail_on_manifest(src: str, dst: str) -> None:
        if Path(dst).name == MANIFEST:
            raise OSError(errno.EIO, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", fail_on_manifest)
    with pytest.raises(OSError, match="Input/output error"):
        write_set(OutputSet(tmp_path, (OutputFile("a.lkml", "a2\n"),), "f2"))
    assert (tmp_path / MANIFEST).read_text() == manifest
    assert json.loads(manifest)["files"] == {"a.lkml": digest("a1\n"), "b.lkml": digest("b1\n")}
    # the stale b.lkml was removed before the manifest: the next run repairs from the old manifest
    monkeypatch.setattr(os, "replace", real_replace)
    result = write_set(OutputSet(tmp_path, (OutputFile("a.lkml", "a2\n"),), "f2"))
    assert (result.written, result.removed, result.unchanged) == ((), ("b.lkml",), 1)
    assert json.loads((tmp_path / MANIFEST).read_text())["files"] == {"a.lkml": digest("a2\n")}


# ---- `generate --check`: the exact diffs, stale files included; emptied folders are pruned ---------


def test_diff_set_shows_changed_and_stale_files_as_unified_diffs(tmp_path: Path) -> None:
    write_set(OutputSet(tmp_path, (OutputFile("views/a.lkml", "a1\nsame\n"), OutputFile("views/b.lkml", "b1\n"),
                                   OutputFile("c.lkml", "c1\n")), "f1"))
    wanted = OutputSet(tmp_path, (OutputFile("views/a.lkml", "a2\nsame\n"), OutputFile("c.lkml", "c1\n")), "f2")
    assert diff_set(wanted) == [
        f"--- a/{tmp_path}/views/a.lkml\n+++ b/{tmp_path}/views/a.lkml\n@@ -1,2 +1,2 @@\n-a1\n+a2\n same\n",
        f"--- a/{tmp_path}/views/b.lkml\n+++ b/{tmp_path}/views/b.lkml\n@@ -1 +0,0 @@\n-b1\n",
    ]
    (tmp_path / "views" / "b.lkml").unlink()  # a stale file already gone has nothing to diff
    assert diff_set(wanted) == [diff_set(wanted)[0]] and len(diff_set(wanted)) == 1
    result = write_set(wanted)
    assert (result.written, result.removed, result.unchanged) == (("views/a.lkml",), ("views/b.lkml",), 1)
    assert diff_set(wanted) == []


def test_removing_the_last_file_of_a_folder_prunes_the_folder_but_not_the_root(tmp_path: Path) -> None:
    write_set(OutputSet(tmp_path, (OutputFile("views/deep/a.lkml", "a\n"), OutputFile("keep/b.lkml", "b\n")), "f"))
    (tmp_path / "keep" / "hand-written.txt").write_text("mine\n")
    write_set(OutputSet(tmp_path, (), "g"))
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        ".lookwright-manifest.json", ".lookwright-stat.json", "keep", "keep/hand-written.txt"]
    write_set(OutputSet(tmp_path, (), "h"))  # nothing left to remove: the root itself stays
    assert tmp_path.is_dir()


def test_a_missing_generated_file_diffs_as_all_new_lines(tmp_path: Path) -> None:
    wanted = OutputSet(tmp_path, (OutputFile("a.lkml", "a1\n"),), "f")
    write_set(wanted)
    (tmp_path / "a.lkml").unlink()
    assert diff_set(wanted) == [f"--- a/{tmp_path}/a.lkml\n+++ b/{tmp_path}/a.lkml\n@@ -0,0 +1 @@\n+a1\n"]


def test_the_stat_cache_remembers_the_fingerprint_that_produced_the_files(tmp_path: Path) -> None:
    write_set(OutputSet(tmp_path, (OutputFile("a.lkml", "a1\n"),), "fingerprint-1"))
    assert (is_fresh(tmp_path, "fingerprint-1"), is_fresh(tmp_path, "fingerprint-2")) == (True, False)
    os.utime(tmp_path / "a.lkml", ns=(1, 1))  # stat changed, content not: hashed, still fresh
    assert is_fresh(tmp_path, "fingerprint-1") is True
    (tmp_path / "a.lkml").write_text("edited by hand\n")
    assert is_fresh(tmp_path, "fingerprint-1") is False


def test_files_and_manifest_restored_from_another_checkout_are_not_fresh(tmp_path: Path) -> None:
    # a rebase resolved by taking main's generated files brings main's manifest along: the two agree
    # with each other, but not with what this fingerprint produced
    write_set(OutputSet(tmp_path, (OutputFile("a.lkml", "a1\n"),), "fingerprint-1"))
    (tmp_path / "a.lkml").write_text("a0\n")
    (tmp_path / MANIFEST).write_text(manifest_text({"a.lkml": digest("a0\n")}))
    assert is_fresh(tmp_path, "fingerprint-1") is False


def test_a_manifest_naming_a_file_the_cache_never_wrote_is_not_fresh(tmp_path: Path) -> None:
    write_set(OutputSet(tmp_path, (OutputFile("a.lkml", "a1\n"),), "fingerprint-1"))
    (tmp_path / "b.lkml").write_text("b\n")
    (tmp_path / MANIFEST).write_text(manifest_text({"a.lkml": digest("a1\n"), "b.lkml": digest("b\n")}))
    assert is_fresh(tmp_path, "fingerprint-1") is False


@pytest.mark.parametrize("manifest", ['["a.lkml"]', '"a.lkml"', '{"generator": "lookwright"}',
                                      '{"files": ["a.lkml"]}', "not json"])
def test_a_manifest_of_the_wrong_shape_lists_no_files(tmp_path: Path, manifest: str) -> None:
    (tmp_path / MANIFEST).write_text(manifest)
    (tmp_path / "a.lkml").write_text("hand-written\n")
    assert manifest_files(tmp_path) == {}
    result = write_set(OutputSet(tmp_path, (OutputFile("b.lkml", "b\n"),), "f"))
    assert (result.written, result.removed) == (("b.lkml",), ())
    assert (tmp_path / "a.lkml").read_text() == "hand-written\n"  # never deleted: no manifest names it


def test_manifest_files_reads_paths_and_digests(tmp_path: Path) -> None:
    write_set(OutputSet(tmp_path, (OutputFile("v/a.lkml", "a\n"), OutputFile("b.lkml", "b\n")), "f"))
    assert manifest_files(tmp_path) == {"b.lkml": digest("b\n"), "v/a.lkml": digest("a\n")}
    assert digest("a\n") == "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7"
