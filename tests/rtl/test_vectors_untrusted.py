"""Test-vector folders from outside (issue 11 point 5): ``check-vectors`` cannot be fooled by a
truncated, empty, over-long or foreign folder, never follows a manifest out of its folder, and
``export-vectors`` never writes through a symlink or outside OUT (``--force`` removes only
files fxsim wrote there).  Every user error is one line through argparse (exit 2), never a
traceback; a mismatch exits 1.
"""
import json
import os
import re
import stat
import threading

import pytest
from conftest import cli_user_error

fx = pytest.importorskip("fxsim")
from fxsim import QFormat  # noqa: E402
from fxsim.cli import main  # noqa: E402
from fxsim.vectors import check_outputs, export_vectors, read_vectors  # noqa: E402

N = 200


def _export(folder, **kw):
    args = dict(in_fmt="Q(12,6)", fmt="Q(6,2)", count=N, edges=False)
    args.update(kw)
    return export_vectors(str(folder), "cast", **args)


def _lines(path):
    with open(path) as fh:
        return [ln.strip() for ln in fh if ln.strip()]


def _write_lines(path, lines):
    with open(path, "w") as fh:
        fh.write("".join(w + "\n" for w in lines))


def _manifest(folder):
    with open(os.path.join(folder, "manifest.json")) as fh:
        return json.load(fh)


def _put_manifest(folder, m):
    with open(os.path.join(folder, "manifest.json"), "w") as fh:
        json.dump(m, fh)


def _snapshot(folder):
    """{name: (is symlink, bytes or link target)} of a folder's entries."""
    out = {}
    for name in sorted(os.listdir(folder)):
        p = os.path.join(folder, name)
        if os.path.islink(p):
            out[name] = ("link", os.readlink(p))
        elif os.path.isfile(p):
            with open(p, "rb") as fh:
                out[name] = ("file", fh.read())
        else:
            out[name] = ("other", None)
    return out


# ------------------------------------------------------------------------ word counts and width
def test_truncated_expected_and_produced_fail(tmp_path, capsys):
    """Today both files cut to 195 words 'match' (the expected file was never counted)."""
    d = tmp_path / "v"
    _export(d)
    y = str(d / "y.mem")
    _write_lines(y, _lines(y)[:195])
    prod = str(tmp_path / "y.mem")
    _write_lines(prod, _lines(y))
    with pytest.raises(ValueError, match=r"y\.mem.*195 words.*manifest says 200"):
        check_outputs(str(d), prod)
    with pytest.raises(ValueError, match=r"195 words.*200"):
        read_vectors(str(d))
    msg = cli_user_error(["check-vectors", str(d), prod], capsys, "check-vectors")
    assert "195" in msg and "200" in msg


def test_empty_expected_file_fails(tmp_path, capsys):
    d = tmp_path / "v"
    _export(d)
    open(d / "y.mem", "w").close()
    prod = str(tmp_path / "y.mem")
    open(prod, "w").close()
    with pytest.raises(ValueError, match=r"y\.mem.* 0 words.*manifest says 200"):
        check_outputs(str(d), prod)
    assert "0 words" in cli_user_error(["check-vectors", str(d), prod], capsys, "check-vectors")


def test_expected_file_longer_than_manifest_fails(tmp_path):
    d = tmp_path / "v"
    _export(d)
    y = str(d / "y.mem")
    words = _lines(y)
    _write_lines(y, words + ["00"])
    with pytest.raises(ValueError, match=r"y\.mem: more than 200 words"):
        check_outputs(str(d), y)


def test_expected_word_wider_than_port_fails(tmp_path):
    d = tmp_path / "v"
    _export(d)
    y = str(d / "y.mem")
    words = _lines(y)
    prod = str(tmp_path / "y.mem")
    _write_lines(prod, words)
    words[7] = "1" + words[7]                       # 6-bit port, 9-bit word
    _write_lines(y, words)
    with pytest.raises(ValueError, match=r"y\.mem:8: .* wider than 6 bits"):
        check_outputs(str(d), prod)


def test_produced_count_and_width_are_checked(tmp_path, capsys):
    d = tmp_path / "v"
    _export(d)
    words = _lines(d / "y.mem")
    prod = str(tmp_path / "y.mem")
    _write_lines(prod, words[:195])
    rep = check_outputs(str(d), prod)
    assert not rep and rep.got_words == 195 and rep.mismatches == 5 and rep.first == 195
    assert "the produced file has 195 words" in str(rep)
    assert main(["check-vectors", str(d), prod]) == 1
    assert "195 words" in capsys.readouterr().out


def test_produced_count_and_width_exit_1(tmp_path, capsys):
    d = tmp_path / "v"
    _export(d)
    words = _lines(d / "y.mem")
    prod = str(tmp_path / "y.mem")
    for bad in (words[:195], words + ["00"], words[:50] + ["1" + words[50]] + words[51:], []):
        _write_lines(prod, bad)
        rep = check_outputs(str(d), prod)
        assert not rep.ok and rep.words == N
        assert main(["check-vectors", str(d), prod]) == 1
        out = capsys.readouterr().out
        assert "differ" in out
    _write_lines(prod, words + ["00"])
    assert "more than 200 words" in str(check_outputs(str(d), prod))


def test_reading_the_produced_file_stops_at_the_count(tmp_path):
    """Extra words are reported; what follows them (here bytes that are not text, or a
    gigantic line) is never read.  Today the whole file is decoded: UnicodeDecodeError."""
    d = tmp_path / "v"
    _export(d)
    words = _lines(d / "y.mem")
    prod = str(tmp_path / "y.mem")
    with open(prod, "wb") as fh:
        fh.write(("\n".join(words + ["00"]) + "\n").encode())
        fh.write(b"\xff\xfe\x00 not text\n" + b"0" * (1 << 22))
    rep = check_outputs(str(d), prod)
    assert not rep.ok and rep.mismatches == 1 and rep.first == N and rep.got_words > N


# ------------------------------------------------------------------------ which port
def test_produced_file_not_named_after_a_port(tmp_path, capsys):
    """tb_sr_unit writes out/up.mem next to out/y.mem: checking up.mem against y is an error
    (today it silently compares it with y, the folder's only output)."""
    d = tmp_path / "v"
    _export(d)
    out = tmp_path / "out"
    out.mkdir()
    up = str(out / "up.mem")
    _write_lines(up, _lines(d / "y.mem"))           # even a file that would match
    with pytest.raises(ValueError, match=r"up\.mem is not named after an output port.*'y'.*port="):
        check_outputs(str(d), up)
    msg = cli_user_error(["check-vectors", str(d), up], capsys, "check-vectors")
    assert "'y'" in msg and "--port" in msg and "port=" not in msg.replace("--port", "")
    # an input port's name is no output either
    x = str(out / "x.mem")
    _write_lines(x, _lines(d / "y.mem"))
    with pytest.raises(ValueError, match="input port"):
        check_outputs(str(d), x)
    # explicit port, or the port's name in the file name
    assert check_outputs(str(d), up, port="y").ok
    assert main(["check-vectors", str(d), up, "--port", "y"]) == 0
    for name in ("y.mem", "y_rtl.mem", "rtl_y.mem", "y.hex"):
        p = str(out / name)
        _write_lines(p, _lines(d / "y.mem"))
        assert check_outputs(str(d), p).ok, name
    capsys.readouterr()


# ------------------------------------------------------------------------ files outside the folder
def _point(folder, port, target):
    m = _manifest(folder)
    m["ports"][port]["file"] = target
    _put_manifest(folder, m)


@pytest.mark.parametrize("how", ["dotdot", "absolute", "device", "symlink", "symlink_in",
                                 "backslash", "nul", "dir", "manifest_link"])
def test_manifest_entries_outside_the_folder_are_refused(how, tmp_path, capsys):
    d = tmp_path / "v"
    _export(d)
    words = _lines(d / "y.mem")
    outside = tmp_path / "outside.mem"
    _write_lines(outside, words)
    if how == "dotdot":
        _point(d, "y", "../outside.mem")
        want = r"'ports\.y\.file'.*plain file name"
    elif how == "absolute":
        _point(d, "y", str(outside))
        want = r"'ports\.y\.file'.*plain file name"
    elif how == "device":
        _point(d, "y", "/dev/null")
        want = r"'ports\.y\.file'.*plain file name"
    elif how == "symlink":
        os.remove(d / "y.mem")
        os.symlink(outside, d / "y.mem")
        want = r"'ports\.y\.file'.*y\.mem.*symlink"
    elif how == "symlink_in":                       # even to a file of the folder
        os.symlink("y.mem", d / "z.mem")
        _point(d, "y", "z.mem")
        want = r"'ports\.y\.file'.*z\.mem.*symlink"
    elif how == "backslash":
        _point(d, "y", "..\\outside.mem")
        want = r"'ports\.y\.file'.*plain file name"
    elif how == "nul":
        _point(d, "y", "y.mem\x00.txt")
        want = r"'ports\.y\.file'.*plain file name"
    elif how == "dir":
        os.mkdir(d / "sub")
        _point(d, "y", "sub")
        want = r"'ports\.y\.file'.*not a regular file"
    else:                                           # manifest.json itself a symlink
        real = tmp_path / "m.json"
        os.replace(d / "manifest.json", real)
        os.symlink(real, d / "manifest.json")
        want = r"manifest\.json.*symlink"
    prod = str(tmp_path / "y.mem")
    _write_lines(prod, words)
    with pytest.raises(ValueError, match=want):
        check_outputs(str(d), prod)
    with pytest.raises(ValueError, match=want):
        read_vectors(str(d))
    msg = cli_user_error(["check-vectors", str(d), prod], capsys, "check-vectors")
    assert re.search(want, msg)


def test_input_entry_outside_the_folder_is_refused(tmp_path):
    """read_vectors followed an input port's '../secret' out of the folder."""
    d = tmp_path / "v"
    _export(d)
    secret = tmp_path / "secret.mem"
    _write_lines(secret, _lines(d / "x.mem"))
    _point(d, "x", "../secret.mem")
    with pytest.raises(ValueError, match=r"'ports\.x\.file'"):
        read_vectors(str(d))
    m = _manifest(d)
    m["ports"]["x"]["file"] = "x.mem"
    m["draws"] = {"rnd": {"file": "/etc/hostname", "r": 8, "words": 1}}
    _put_manifest(d, m)
    with pytest.raises(ValueError, match=r"'draws\.rnd\.file'"):
        read_vectors(str(d))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_entry_is_refused(tmp_path):
    """A FIFO named by the manifest is refused before it is opened (today: opened and read)."""
    d = tmp_path / "v"
    _export(d)
    words = _lines(d / "y.mem")
    os.remove(d / "y.mem")
    os.mkfifo(d / "y.mem")
    fd = os.open(d / "y.mem", os.O_RDWR | os.O_NONBLOCK)   # a writer, so today's reader never blocks on open
    os.write(fd, ("\n".join(words) + "\n").encode())
    closed = []

    def close():
        if not closed:
            closed.append(True)
            os.close(fd)
    timer = threading.Timer(3.0, close)                      # ... and sees EOF in the end
    timer.start()
    try:
        prod = str(tmp_path / "y.mem")
        _write_lines(prod, words)
        with pytest.raises(ValueError, match=r"'ports\.y\.file'.*not a regular file"):
            check_outputs(str(d), prod)
    finally:
        timer.cancel()
        timer.join()
        close()


# ------------------------------------------------------------------------ malformed manifests
def _set(m, path, value):
    keys = path.split(".")
    for k in keys[:-1]:
        m = m[k]
    if value is _DEL:
        del m[keys[-1]]
    else:
        m[keys[-1]] = value


_DEL = object()

MALFORMED = [
    ("ports.y.wl", "x", r"'ports\.y\.wl' must be an integer in \[1, 64\], got 'x'"),
    ("ports.y.wl", 0, r"'ports\.y\.wl' must be an integer in \[1, 64\], got 0"),
    ("ports.y.wl", 65, r"'ports\.y\.wl' must be an integer in \[1, 64\], got 65"),
    ("ports.y.wl", True, r"'ports\.y\.wl' must be an integer"),
    ("ports.y.wl", 6.0, r"'ports\.y\.wl' must be an integer"),
    ("ports.y.wl", _DEL, r"'ports\.y\.wl' is missing"),
    ("ports.y.signed", "yes", r"'ports\.y\.signed' must be true or false"),
    ("ports.y.fl", 1000, r"'ports\.y\.fl' must be an integer in \[-256, 256\]"),
    ("ports.y.words", -1, r"'ports\.y\.words' must be an integer in \[1, "),
    ("ports.y.words", "200", r"'ports\.y\.words' must be an integer"),
    ("ports.y.shape", [3, 3], r"'ports\.y\.shape' .*9 words.*'ports\.y\.words' says 200"),
    ("ports.y.shape", "200", r"'ports\.y\.shape' must be a list"),
    ("ports.y.dir", "sideways", r"'ports\.y\.dir' must be 'in' or 'out'"),
    ("ports.y.file", 7, r"'ports\.y\.file' must be a plain file name"),
    ("ports.y.file", _DEL, r"'ports\.y\.file' is missing"),
    ("ports.y", [1, 2], r"'ports\.y' must be an object"),
    ("ports", [], r"'ports' must be an object"),
    ("ports", {}, r"'ports' names no port"),
    ("ports", _DEL, r"'ports' is missing"),
    ("draws", [], r"'draws' must be an object"),
    ("count", "many", r"'count' must be an integer in \[1, "),
    ("count", _DEL, r"'count' is missing"),
    ("fxsim_vectors", 2, r"'fxsim_vectors' must be 1"),
    ("fxsim_vectors", _DEL, r"'fxsim_vectors' is missing"),
    ("operation", ["cast"], r"'operation' must be a string"),
]


@pytest.mark.parametrize("key,value,msg", MALFORMED,
                         ids=[f"{k}={'DEL' if v is _DEL else v!r}" for k, v, _ in MALFORMED])
def test_malformed_manifest_names_the_key(key, value, msg, tmp_path, capsys):
    d = tmp_path / "v"
    _export(d)
    m = _manifest(d)
    _set(m, key, value)
    _put_manifest(d, m)
    prod = str(d / "y.mem")
    with pytest.raises(ValueError, match=r"manifest\.json: " + msg):
        check_outputs(str(d), prod)
    with pytest.raises(ValueError, match=msg):
        read_vectors(str(d))
    assert re.search(msg, cli_user_error(["check-vectors", str(d), prod], capsys, "check-vectors"))


def test_draws_entry_is_validated(tmp_path):
    d = tmp_path / "v"
    _export(d, rounding="stochastic", r=8, source="lfsr:16")
    m = _manifest(d)
    m["draws"]["rnd"]["r"] = 99
    _put_manifest(d, m)
    with pytest.raises(ValueError, match=r"'draws\.rnd\.r' must be an integer in \[1, 64\], got 99"):
        read_vectors(str(d))


@pytest.mark.parametrize("text,msg", [
    ("[1, 2, 3]", r"must be a JSON object.*got a list"),
    ('"fxsim"', r"must be a JSON object.*got a str"),
    ("[" * 100000 + "]" * 100000, r"nested too deeply"),
    ('{"a": ' * 40 + "1" + "}" * 40, r"nested too deeply \(more than \d+ levels at 'a\.a\.a"),
    ("{not json", r"not valid JSON"),
    ('{"fxsim_vectors": 1, "fxsim_vectors": 1}', r"duplicate key 'fxsim_vectors'"),
    ("", r"not valid JSON"),
], ids=["list", "str", "deep_list", "deep_dict", "not_json", "duplicate", "empty"])
def test_manifest_that_is_not_a_dict(text, msg, tmp_path, capsys):
    d = tmp_path / "v"
    _export(d)
    with open(d / "manifest.json", "w") as fh:
        fh.write(text)
    prod = str(d / "y.mem")
    with pytest.raises(ValueError, match=msg):
        check_outputs(str(d), prod)
    assert re.search(msg, cli_user_error(["check-vectors", str(d), prod], capsys, "check-vectors"))


def test_duplicate_key_deep_in_the_manifest(tmp_path):
    """Today the last 'wl' silently wins."""
    d = tmp_path / "v"
    _export(d)
    with open(d / "manifest.json") as fh:
        text = fh.read()
    text = text.replace('"wl": 6', '"wl": 6, "wl": 7', 1)
    assert '"wl": 7' in text
    with open(d / "manifest.json", "w") as fh:
        fh.write(text)
    with pytest.raises(ValueError, match=r"duplicate key '[a-z.]*wl'"):
        read_vectors(str(d))


def test_manifest_not_text_and_missing(tmp_path, capsys):
    d = tmp_path / "v"
    _export(d)
    prod = str(d / "y.mem")
    with open(d / "manifest.json", "wb") as fh:
        fh.write(b'{"a": "\xff\xfe"}')
    with pytest.raises(ValueError, match=r"manifest\.json: not UTF-8"):
        check_outputs(str(d), prod)
    os.remove(d / "manifest.json")
    with pytest.raises(ValueError, match=r"no manifest\.json"):
        check_outputs(str(d), prod)
    assert "no manifest.json" in cli_user_error(["check-vectors", str(d), prod], capsys, "check-vectors")
    assert "not a folder" in cli_user_error(["check-vectors", str(tmp_path / "nope"), prod], capsys,
                                       "check-vectors")
    _export(tmp_path / "w")
    msg = cli_user_error(["check-vectors", str(tmp_path / "w"), str(tmp_path / "gone.mem")], capsys,
                    "check-vectors")
    assert "gone.mem" in msg


def test_foreign_layout_still_reads(tmp_path):
    """A folder written by tests/rtl/rtl_vectors.py's write_vector_set (no fl, no shape, no
    fxsim keys) stays readable and checkable."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rtl"))
    from rtl_vectors import write_vector_set
    d = str(tmp_path / "f")
    write_vector_set(d, operation="lfsr", count=4, inputs={"x": ([1, -2, 3, -4], 8, True)},
                     outputs={"y": ([5, 6, 7, 8], 4, False)}, draws={"rnd": ([1, 2, 3, 4], 3)})
    m, data = read_vectors(d)
    assert data["y"].raw.tolist() == [5, 6, 7, 8] and data["x"].raw.tolist() == [1, -2, 3, -4]
    assert data["rnd"].tolist() == [1, 2, 3, 4]
    assert check_outputs(d, os.path.join(d, "y.mem")).ok


# ------------------------------------------------------------------------ export: symlinks, --force
def test_export_never_writes_through_a_symlink(tmp_path, capsys):
    """Today --force opens OUT/y.mem for writing and so overwrites the file it links to."""
    d = tmp_path / "v"
    _export(d)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    os.remove(d / "y.mem")
    os.symlink(victim, d / "y.mem")
    before = _snapshot(d)
    with pytest.raises(FileExistsError, match=r"y\.mem is a symlink"):
        _export(d, overwrite=True)
    msg = cli_user_error(["export-vectors", str(d), "--op", "cast", "--in-fmt", "Q(12,6)", "--fmt",
                     "Q(6,2)", "--force"], capsys, "export-vectors")
    assert "symlink" in msg
    assert victim.read_text() == "precious\n"
    assert _snapshot(d) == before                  # a refused call has no side effect


def test_export_does_not_create_files_through_a_dangling_symlink(tmp_path):
    """Today a dangling OUT/x.mem -> ../new.txt does not 'exist', so the export creates
    new.txt outside OUT."""
    d = tmp_path / "v"
    d.mkdir()
    os.symlink(tmp_path / "new.txt", d / "x.mem")
    for ow in (False, True):
        with pytest.raises(FileExistsError, match=r"x\.mem is a symlink"):
            _export(d, overwrite=ow)
        assert not os.path.lexists(tmp_path / "new.txt")
        assert os.listdir(d) == ["x.mem"]


def test_export_out_that_is_a_symlink_is_refused(tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "vec"
    os.symlink(elsewhere, link)
    with pytest.raises(FileExistsError, match=r"vec is a symlink"):
        _export(link)
    msg = cli_user_error(["export-vectors", str(link) + os.sep, "--op", "cast", "--in-fmt", "Q(12,6)",
                     "--fmt", "Q(6,2)"], capsys, "export-vectors")
    assert "symlink" in msg and str(elsewhere) in msg
    assert os.listdir(elsewhere) == []


def test_force_removes_only_files_fxsim_wrote(tmp_path):
    """A manifest edited to list a file of the user's: today --force deletes it."""
    d = tmp_path / "v"
    _export(d)
    (d / "precious.mem").write_text("00\n")
    (d / "notes.txt").write_text("mine\n")
    m = _manifest(d)
    m["ports"]["x"]["file"] = "precious.mem"
    _put_manifest(d, m)
    before = _snapshot(d)
    with pytest.raises(FileExistsError, match=r"not an earlier fxsim export.*'ports\.x\.file'"):
        _export(d, overwrite=True)
    assert _snapshot(d) == before
    # an honest earlier export: its files are replaced, the user's files are left alone
    m["ports"]["x"]["file"] = "x.mem"
    _put_manifest(d, m)
    _export(d, overwrite=True, rounding="stochastic", r=4, source="lfsr:8")
    assert sorted(os.listdir(d)) == ["manifest.json", "mode.mem", "notes.txt", "params.vh",
                                     "precious.mem", "rnd.mem", "seed.mem", "x.mem", "y.mem"]
    _export(d, overwrite=True, bench=False)       # the bench files go too, as stale files
    assert sorted(os.listdir(d)) == ["manifest.json", "notes.txt", "precious.mem", "x.mem", "y.mem"]
    assert (d / "precious.mem").read_text() == "00\n"


def test_force_refuses_a_folder_fxsim_did_not_write(tmp_path, capsys):
    """A folder of someone else's y.mem (no manifest, or a foreign manifest): today --force
    overwrites y.mem and deletes the foreign manifest's files."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rtl"))
    from rtl_vectors import write_vector_set
    d = tmp_path / "theirs"
    d.mkdir()
    (d / "y.mem").write_text("12\n")
    before = _snapshot(d)
    with pytest.raises(FileExistsError, match=r"y\.mem was not written by fxsim"):
        _export(d, overwrite=True)
    assert _snapshot(d) == before
    f = str(tmp_path / "foreign")
    write_vector_set(f, operation="cast", count=2, inputs={"a": ([1, 2], 8, True)},
                     outputs={"y": ([3, 4], 8, True)})
    before = _snapshot(f)
    with pytest.raises(FileExistsError, match=r"not an earlier fxsim export"):
        _export(f, overwrite=True)
    msg = cli_user_error(["export-vectors", f, "--op", "cast", "--in-fmt", "Q(12,6)", "--fmt", "Q(6,2)",
                     "--force"], capsys, "export-vectors")
    assert "not an earlier fxsim export" in msg and "overwrite=True" not in msg
    assert _snapshot(f) == before


def test_force_refuses_a_broken_manifest_without_side_effects(tmp_path):
    d = tmp_path / "v"
    _export(d)
    with open(d / "manifest.json", "w") as fh:
        fh.write("[" * 50000)
    before = _snapshot(d)
    with pytest.raises(FileExistsError, match=r"not an earlier fxsim export.*nested too deeply"):
        _export(d, overwrite=True)
    assert _snapshot(d) == before


def test_refused_export_leaves_no_partial_files(tmp_path):
    """OUT/y.mem is a folder: today --force has already rewritten x.mem (and removed the old
    export's stale files) when opening y.mem fails with IsADirectoryError."""
    d = tmp_path / "v"
    _export(d, rounding="stochastic", r=4, source="lfsr:8")
    os.remove(d / "y.mem")
    os.mkdir(d / "y.mem")
    before = _snapshot(d)
    with pytest.raises(FileExistsError, match=r"y\.mem is not a regular file"):
        _export(d, overwrite=True, seed=5)
    assert _snapshot(d) == before


def test_existing_folder_message_speaks_each_language(tmp_path, capsys):
    d = tmp_path / "v"
    _export(d)
    with pytest.raises(FileExistsError) as e:
        _export(d)
    assert "overwrite=True" in str(e.value) and "--force" not in str(e.value)
    msg = cli_user_error(["export-vectors", str(d), "--op", "cast", "--in-fmt", "Q(12,6)", "--fmt",
                     "Q(6,2)"], capsys, "export-vectors")
    assert "--force" in msg and "overwrite" not in msg


def test_export_to_an_impossible_place_is_one_line(tmp_path, capsys):
    """OUT under a regular file: today makedirs' NotADirectoryError is a traceback."""
    f = tmp_path / "file"
    f.write_text("x")
    msg = cli_user_error(["export-vectors", str(f / "vec"), "--op", "cast", "--in-fmt", "Q(12,6)",
                     "--fmt", "Q(6,2)"], capsys, "export-vectors")
    assert str(f / "vec") in msg
    assert "not a folder" in cli_user_error(["export-vectors", str(f), "--op", "cast", "--in-fmt",
                                        "Q(12,6)", "--fmt", "Q(6,2)"], capsys, "export-vectors")


def test_exported_files_are_plain_files_with_usual_permissions(tmp_path):
    d = tmp_path / "v"
    _export(d, rounding="stochastic", r=4, source="lfsr:8")
    names = sorted(os.listdir(d))
    assert names == ["manifest.json", "mode.mem", "params.vh", "rnd.mem", "seed.mem", "x.mem",
                     "y.mem"]   # no temporary files left
    mask = os.umask(0)
    os.umask(mask)
    for n in names:
        st = os.lstat(d / n)
        assert stat.S_ISREG(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o666 & ~mask
    m, data = read_vectors(str(d))
    assert data["y"].fmt == QFormat(6, 2)


def test_a_failed_write_changes_nothing(tmp_path, capsys, monkeypatch):
    """The disk fills up while the third file is written: the earlier export is intact, no
    temporary file is left, and the CLI says so in one line (today: x.mem is already
    rewritten, and the OSError is a traceback)."""
    import errno
    import fxsim.vectors as V
    d = tmp_path / "v"
    _export(d, rounding="stochastic", r=4, source="lfsr:8")
    before = _snapshot(d)
    real, calls = V._write_temp, []

    def failing(folder, name, data):
        calls.append(name)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(folder, name, data)
    monkeypatch.setattr(V, "_write_temp", failing)
    with pytest.raises(OSError, match="No space left"):
        _export(d, overwrite=True, seed=9)
    assert _snapshot(d) == before
    calls.clear()
    msg = cli_user_error(["export-vectors", str(d), "--op", "cast", "--in-fmt", "Q(12,6)", "--fmt",
                     "Q(6,2)", "--force"], capsys, "export-vectors")
    assert msg == f"cannot write {d}: No space left on device"
    assert _snapshot(d) == before
    new = tmp_path / "new" / "vec"                    # a folder the export created is removed again
    calls.clear()
    with pytest.raises(OSError):
        _export(new)
    assert not os.path.exists(new)
