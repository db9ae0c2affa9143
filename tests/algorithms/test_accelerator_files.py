"""Accelerator description files from outside (issue 11, point 7): duplicate keys are refused
(a later key silently overriding an earlier one hides a typo or a merge conflict), errors are
one ValueError naming the file and the key, never another exception type."""
import json

import pytest

fxsim = pytest.importorskip("fxsim")
from fxsim.accelerator import Accelerator  # noqa: E402

GOOD = {"weights": "Q8.8", "grads": "Q8.8", "acc": "Q16.16",
        "casts": {"grad": ["stochastic", "saturate"]}, "source": "lfsr16", "seed": 3}


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("text,key", [
    ('{"weights": "Q8.8", "grads": "Q8.8", "grads": "Q4.4"}', "grads"),
    ('{"weights": "Q8.8", "grads": "Q8.8", "seed": 1, "seed": 2}', "seed"),
    ('{"weights": "Q8.8", "grads": "Q8.8", "casts": {"grad": "floor", "grad": "ceil"}}', "grad"),
    ('{"accelerator": {"weights": "Q8.8", "grads": "Q8.8", "weights": "Q4.4"}}', "weights"),
    ('{"weights": "Q8.8", "grads": "Q8.8", "casts": {"update": {"rounding": "floor", '
     '"rounding": "ceil"}}}', "rounding"),
], ids=["top", "seed", "casts", "table", "nested"])
def test_json_duplicate_keys_refused(tmp_path, text, key):
    p = _write(tmp_path, "dup.json", text)
    with pytest.raises(ValueError, match=rf"duplicate key '{key}'") as ei:
        Accelerator.from_file(p)
    assert "dup.json" in str(ei.value)


@pytest.mark.parametrize("text", [
    'weights = "Q8.8"\ngrads = "Q8.8"\ngrads = "Q4.4"\n',
    'weights = "Q8.8"\ngrads = "Q8.8"\n[casts]\ngrad = "floor"\ngrad = "ceil"\n',
    'weights = "Q8.8"\ngrads = "Q8.8"\n[casts]\ngrad = "floor"\n[casts]\nacts = "ceil"\n',
], ids=["top", "casts", "table"])
def test_toml_duplicate_keys_refused(tmp_path, text):
    p = _write(tmp_path, "dup.toml", text)
    with pytest.raises(ValueError, match="dup.toml"):
        Accelerator.from_file(p)


def test_json_without_duplicates_still_loads(tmp_path):
    p = _write(tmp_path, "ok.json", json.dumps(GOOD))
    a = Accelerator.from_file(p)
    assert (a.weights.wl, a.weights.fl, a.seed, a.casts["grad"]) == (16, 8, 3, ("stochastic", "saturate"))
    # the same key in two different objects is not a duplicate
    q = _write(tmp_path, "ok2.json", json.dumps({**GOOD, "casts": {
        "grad": {"rounding": "stochastic"}, "update": {"rounding": "floor"}}}))
    assert Accelerator.from_file(q).casts["update"] == ("floor", "saturate")


@pytest.mark.parametrize("name,text,match", [
    ("deep.json", "[" * 100000 + "]" * 100000, "deep.json"),
    ("deep.toml", "x = " + "[" * 100000 + "]" * 100000, "deep.toml"),
    ("nan.json", '{"weights": "Q8.8", "grads": "Q8.8", "eps": NaN}', "eps"),
    ("type.json", '{"weights": "Q8.8", "grads": "Q8.8", "seed": "3"}', "seed"),
    ("type2.json", '{"weights": "Q8.8", "grads": "Q8.8", "r": 8.0}', "r"),
    ("type3.json", '{"weights": "Q8.8", "grads": "Q8.8", "casts": ["grad"]}', "casts"),
    ("type4.json", '{"weights": ["Q8.8"], "grads": "Q8.8"}', "weights"),
    ("date.toml", 'weights = "Q8.8"\ngrads = "Q8.8"\nseed = 1979-05-27\n', "seed"),
    ("bin.json", b"\xff\xfe{}", "bin.json"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 20 else "")
def test_file_errors_are_value_errors_naming_the_key(tmp_path, name, text, match):
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    with pytest.raises(ValueError, match=match) as ei:
        Accelerator.from_file(p)
    assert name in str(ei.value)
