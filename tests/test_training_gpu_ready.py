"""Training that can run on a lent GPU machine and resume on the CPU: tiny reader and verifier runs
(with in-domain data held out by document) write folders that load; a run stopped after a few steps
resumes from its checkpoint and ends where an uninterrupted run ends; a checkpoint of other settings
is refused; WikiQA is never read; the training modules need none of chromadb, llama-index, gradio,
scikit-learn, sentence-transformers or matplotlib (the GPU machine has none); staging writes a
compact carry folder whose base and data read back, and results are packed within the limits on
what comes back. All data and models here are written by the tests (a tiny base model for staging)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, run_cli

BLOCKED = ("chromadb", "llama_index", "gradio", "sklearn", "sentence_transformers", "matplotlib")

LAKE = "Lake Vostok lies under the ice of Antarctica. It is about 250 kilometres long. Russian scientists drilled into it in 2012."
RIVER = "The Clyde flows through Glasgow. Shipbuilding on the river peaked before 1914. Its estuary opens into the Firth of Clyde."
FUND = ("The council set up a community fund in 2019. It gives grants of up to 5,000 pounds to local groups. "
        "Applications are assessed by a panel of residents.")
BUSES = "The county runs a rural bus service. It stops in twelve villages. Fares were frozen for two years."
CLINIC = "The clinic opens at eight in the morning. It closes at six. A nurse leads each evening session."


def _write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _squad(qid, title, context, question, answers, doc=None):
    row = {"id": qid, "title": title, "context": context, "question": question, "is_impossible": not answers, "answers": answers}
    return {**row, "doc": doc} if doc else row


def _data(root: Path) -> dict:
    """qa-train, qa-train-extra (a SQuAD-style file, NLI pairs, and a WikiQA file in SQuAD shape that
    must never be read), in-domain questions and claims over four documents."""
    qa = root / "qa-train"
    _write(qa / "squad2_dev_other_half.jsonl", [
        _squad("a1", "Lake Vostok", LAKE, "How long is Lake Vostok?", ["about 250 kilometres"]),
        _squad("a2", "Lake Vostok", LAKE, "How deep is Lake Vostok?", []),
        _squad("b1", "Clyde", RIVER, "Which city does the Clyde flow through?", ["Glasgow"]),
        _squad("b2", "Clyde", RIVER, "When did shipbuilding on the Clyde end?", []),
    ])
    _write(qa / "squad11_dev_extra_articles.jsonl", [_squad("c1", "Clyde", RIVER, "Where does the estuary open?", ["into the Firth of Clyde"])])
    _write(qa / "selqa_ass.jsonl", [{"question": "What lies under the ice?", "article": "Lake Vostok", "section": "Geography",
                                     "candidates": ["Lake Vostok lies under the ice of Antarctica.", "It is about 250 kilometres long."],
                                     "answers": [0]}])
    extra = root / "qa-train-extra"
    _write(extra / "squad_extra.jsonl", [_squad("e1", "Ferries", "The ferry crosses twice a day. It carries cars.", "How often does it cross?",
                                                ["twice a day"])])
    _write(extra / "wikiqa_ass.jsonl", [_squad("w1", "Zebras", "Zebras have stripes. They live in Africa.", "Where do zebras live?", ["Africa"])])
    nli = [{"premise": "A man plays a guitar on stage.", "hypothesis": "A man is performing music.", "label": "entailment"},
           {"premise": "A man plays a guitar on stage.", "hypothesis": "A man is asleep.", "label": "contradiction"},
           {"premise": "A man plays a guitar on stage.", "hypothesis": "The man is famous.", "label": "neutral"},
           {"premise": "Two dogs run on a beach.", "hypothesis": "Animals are outside.", "label": "entailment"},
           {"premise": "Two dogs run on a beach.", "hypothesis": "The dogs are indoors.", "label": "contradiction"},
           {"premise": "Two dogs run on a beach.", "hypothesis": "The dogs are brothers.", "label": "neutral"}]
    _write(extra / "nli_pairs.jsonl", nli)
    docs = {"fund.md": ("Community fund", FUND), "buses.md": ("Rural buses", BUSES), "clinic.md": ("Clinic hours", CLINIC), "lake.md": ("Lake", LAKE)}
    questions = []
    for n, (doc, (title, context)) in enumerate(docs.items()):
        first = context.split(". ")[0]
        questions += [_squad(f"q{n}a", title, context, f"What does the text say about {title.lower()}?", [first], doc),
                      _squad(f"q{n}b", title, context, f"Who funds the {title.lower()}?", [], doc)]
    claims = []
    for n, (doc, (title, context)) in enumerate(docs.items()):
        premise = context.split(". ")[0] + "."
        for letter, hypothesis, label, kind in (("a", premise.replace("The ", "This "), "entailment", "paraphrase"),
                                                ("b", "Nothing of the kind happened.", "contradiction", "negation"),
                                                ("c", "It was praised by ministers.", "neutral", "addition")):
            claims.append({"id": f"k{n}{letter}", "doc": doc, "premise": premise, "hypothesis": hypothesis, "label": label, "kind": kind})
    return {"qa": qa, "extra": extra, "questions": _write(root / "in-domain" / "questions_p1.jsonl", questions),
            "claims": _write(root / "in-domain" / "claims_p1.jsonl", claims), "root": root}


# Runs in a subprocess in which the libraries the GPU machine lacks cannot be imported.
RUNNER = """
import json, sys
for name in {blocked!r}:
    sys.modules[name] = None
from training.reader_train import main as reader
from training.verifier_train import main as verifier
runs = json.loads(sys.argv[1])
codes = {{name: (reader if name.startswith("reader") else verifier)(argv) for name, argv in runs.items()}}
print(json.dumps(codes))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {blocked!r} and sys.modules[m] is not None)))
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny reader and verifier runs, in one subprocess with the GPU machine's missing libraries blocked:
    each stopped after 3 steps then resumed, a resume under other settings, and uninterrupted twins."""
    root = tmp_path_factory.mktemp("gpu-ready")
    data = _data(root)
    reader = ["--data", str(data["qa"]), "--qa-extra", str(data["extra"]), "--extra-data", str(data["questions"]), "--holdout-docs", "1",
              "--layers", "1", "--batch-size", "4", "--max-steps", "6", "--evaluations", "1", "--validation-share", "0.5",
              "--no-as-shipped", "--checkpoint-every", "0", "--max-length", "64"]
    verifier = ["--nli", str(data["extra"]), "--claims", str(data["claims"]), "--holdout-docs", "1", "--validation-share", "0.34",
                "--layers", "1", "--batch-size", "4", "--max-steps", "6", "--evaluations", "1", "--no-as-shipped", "--checkpoint-every", "0",
                "--max-length", "64"]
    out = {name: root / name for name in ("reader", "reader-whole", "verifier", "verifier-whole", "verifier-budget")}
    plan = {
        "reader-stop": reader + ["--out", str(out["reader"]), "--stop-after", "3"],
        "reader-other-settings": reader + ["--out", str(out["reader"]), "--resume", "--learning-rate", "1e-3"],
        "reader-resume": reader + ["--out", str(out["reader"]), "--resume"],
        "reader-whole": reader + ["--out", str(out["reader-whole"])],
        "verifier-stop": verifier + ["--out", str(out["verifier"]), "--stop-after", "3"],
        "verifier-resume": verifier + ["--out", str(out["verifier"]), "--resume"],
        "verifier-whole": verifier + ["--out", str(out["verifier-whole"])],
        # a budget far too small: after 50 steps the loop plans to end at once
        "verifier-budget": verifier + ["--out", str(out["verifier-budget"]), "--max-steps", "80", "--batch-size", "2",
                                       "--time-budget", "0.0001"],
    }
    result = subprocess.run([sys.executable, "-c", RUNNER.format(blocked=BLOCKED), json.dumps(plan)], cwd=ROOT, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    return {"codes": json.loads(lines[-2]), "imported": json.loads(lines[-1]), "log": result.stderr, "out": out, "data": data}


def _weights(folder: Path) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


def test_training_needs_none_of_the_libraries_the_gpu_machine_lacks(runs):
    assert runs["imported"] == []
    assert runs["codes"] == {"reader-stop": 0, "reader-other-settings": 2, "reader-resume": 0, "reader-whole": 0,
                             "verifier-stop": 0, "verifier-resume": 0, "verifier-whole": 0, "verifier-budget": 0}


def test_a_time_budget_plans_fewer_steps_and_epochs_end_in_checkpoints(runs):
    meta = json.loads((runs["out"]["verifier-budget"] / "verifier.json").read_text())
    assert meta["planned_steps"] == 80 and meta["steps"] == 51
    assert "time budget 0.0001 min: 51 steps planned now" in runs["log"]
    assert "checkpoint at step" in runs["log"] and "(end of epoch 1)" in runs["log"]


def test_a_stopped_run_resumes_from_its_checkpoint_and_ends_where_an_uninterrupted_run_ends(runs):
    log = runs["log"]
    assert "stopped at step 3/6: continue with --resume" in log
    assert "other settings or data" in log  # the resume under another learning rate was refused
    assert log.count("resumed from") == 2 and "at step 3 " in log
    for name in ("reader", "verifier"):
        resumed, whole = _weights(runs["out"][name]), _weights(runs["out"][f"{name}-whole"])
        assert resumed.keys() == whole.keys()
        for key in whole:
            np.testing.assert_array_equal(resumed[key], whole[key], err_msg=f"{name}: {key}")
        meta = json.loads((runs["out"][name] / f"{name}.json").read_text())
        assert meta["resumed_from_step"] == 3 and meta["steps"] == 6
        assert not (runs["out"][name] / "checkpoint").exists()  # removed once the model is written


def test_the_reader_learns_from_in_domain_data_held_out_by_document_and_loads(runs):
    from assistant.reader import load_cross_encoder

    folder = runs["out"]["reader"]
    meta = json.loads((folder / "reader.json").read_text())
    data = meta["data"]
    assert len(data["held_out_documents"]) == 1 and data["in_domain_validation_questions"] == 2
    held = data["held_out_documents"][0]
    assert data["repeats"] == {"questions_p1.jsonl": 8}
    assert data["train_pairs_per_epoch"] > data["train_pairs"]
    assert {"squad_extra.jsonl", "questions_p1.jsonl", "selqa_ass.jsonl"} <= set(data["files_sha256"])
    assert not any("wikiqa" in name or "nli" in name for name in data["files_sha256"])
    final = meta["final_validation"]
    for key in ("top1", "auc", "in_domain_top1", "in_domain_auc", "in_domain_accuracy"):
        assert key in final
    assert meta["machine"]["device"] == "cpu" and meta["decision"]["weights"]
    card = (folder / "README.md").read_text()
    assert held in card and "in-domain: answerable AUC" in card
    model = load_cross_encoder(folder)
    scores = model.predict([("How long is Lake Vostok?", "Lake Vostok | It is about 250 kilometres long.")])
    assert np.isfinite(scores).all()


def test_the_verifier_writes_a_three_label_folder_that_loads(runs):
    from training.model_folder import load_folder

    folder = runs["out"]["verifier"]
    meta = json.loads((folder / "verifier.json").read_text())
    assert meta["labels"] == ["contradiction", "entailment", "neutral"]
    assert meta["data"]["repeats"] == {"claims_p1.jsonl": 8, "unrelated": 2}
    assert set(meta["data"]["files_sha256"]) == {"nli_pairs.jsonl", "claims_p1.jsonl"}  # questions and WikiQA are not NLI
    assert meta["data"]["in_domain_validation_pairs"] == 3 and meta["data"]["validation_pairs"] > 0
    final = meta["final_validation"]
    for key in ("accuracy", "auc_entailment", "faithful_accepted", "not_supported_rejected", "recall_neutral",
                "in_domain_accuracy", "in_domain_faithful_accepted", "in_domain_right_by_kind"):
        assert key in final
    assert meta["size_mb"] < 30
    config = json.loads((folder / "config.json").read_text())
    assert config["id2label"] == {"0": "contradiction", "1": "entailment", "2": "neutral"} and config["num_hidden_layers"] == 1
    model = load_folder(folder, "verifier.json")
    logits = model.predict([("A man plays a guitar on stage.", "A man is performing music.")])
    assert np.asarray(logits).shape == (1, 3)


def test_wikiqa_is_never_read_even_when_named(tmp_path):
    from training.data_files import data_files

    data = _data(tmp_path)
    messages = []
    assert data_files([data["extra"]], ("context", "question", "answers"), messages.append) == [data["extra"] / "squad_extra.jsonl"]
    assert data_files([data["extra"] / "wikiqa_ass.jsonl"], ("context", "question"), messages.append) == []
    assert len(messages) == 2 and all("wikiqa_ass.jsonl" in m and "licence" in m for m in messages)


def test_the_verifier_command_is_registered():
    result = run_cli("verifier", "train", "--help")
    assert result.returncode == 0 and "--claims" in result.stdout and "--resume" in result.stdout


def test_the_first_calibration_needs_no_scikit_learn_and_fits_as_it_did():
    sklearn = pytest.importorskip("sklearn.linear_model")
    from training.reader_calibrate import logistic_regression

    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 2)) * [2.0, 1.0]
    y = (x @ [1.5, -0.7] + rng.normal(size=300)) > 0.3
    w = rng.uniform(0.5, 2.0, size=300)
    coef, intercept = logistic_regression(x, y, w)
    reference = sklearn.LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(x, y.astype(int), sample_weight=w)
    np.testing.assert_allclose(coef, reference.coef_[0], atol=1e-4)
    assert abs(intercept - reference.intercept_[0]) < 1e-4


# --- staging and bringing results back -----------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    """A two-layer BERT with the bundled tokenizer and 16-wide hidden layers: staged in seconds."""
    import shutil

    import torch
    from transformers import BertConfig, BertModel

    from training.model_folder import bundled_base

    folder = tmp_path_factory.mktemp("tiny-base")
    bundled = Path(bundled_base())
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy2(bundled / name, folder / name)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32)
    BertModel(config).save_pretrained(str(folder))
    return folder


def test_staging_writes_a_compact_carry_whose_base_and_data_read_back(tmp_path, tiny_base):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    from training.data_files import read_jsonl, sha256_of
    from training.gpu_stage import stage, unpack_base
    from training.model_folder import load_base, tensor_sha256

    data = _data(tmp_path / "data")
    carry = tmp_path / ".gpu-carry"
    manifest = stage(carry, {"qa-train": data["qa"], "qa-train-extra": data["extra"], "policy-train": data["questions"].parent},
                     tiny_base, [], log=lambda m: None)
    staged = {str(p.relative_to(carry / "data")) for p in (carry / "data").rglob("*.xz")}
    assert "qa-train-extra/squad_extra.jsonl.xz" in staged and "policy-train/claims_p1.jsonl.xz" in staged
    assert not any("wikiqa" in name for name in staged)
    assert read_jsonl(carry / "data" / "policy-train" / "claims_p1.jsonl.xz") == read_jsonl(data["claims"])
    assert sha256_of(carry / "data" / "qa-train" / "selqa_ass.jsonl.xz") == sha256_of(data["qa"] / "selqa_ass.jsonl")
    assert manifest["carry_mib"] < 5 and (carry / "manifest.json").is_file()

    base = unpack_base(carry, tmp_path / "base")
    original = load_file(str(tiny_base / "model.safetensors"))["embeddings.word_embeddings.weight"]
    half = load_file(str(base / "model.safetensors"))["embeddings.word_embeddings.weight"]
    assert half.dtype == torch.float16
    origin = json.loads((base / "origin.json").read_text())
    assert origin["word_embeddings_sha256"] == tensor_sha256(original)
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    used = tokenizer("Lake Vostok lies under the ice", add_special_tokens=False)["input_ids"]
    unused = tokenizer("saxophone trombone", add_special_tokens=False)["input_ids"]  # single tokens no text here has
    assert (half[used] != 0).any(dim=1).all() and (half[unused] == 0).all()
    assert 0 < origin["zeroed_rows"] < origin["rows"]
    _, model = load_base(base, 1, ["a", "b", "c"], 64)
    assert next(model.parameters()).dtype == torch.float32  # a float16 base is trained in float32


def test_results_are_packed_within_the_limits_on_what_comes_back(tmp_path, monkeypatch):
    from training import gpu_stage

    work = tmp_path / "work"
    (work / "logs").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, size in (("reader-6", 40_000), ("verifier-4", 20_000), ("reader-4", 200_000)):
        folder = work / name
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(rng.bytes(size))  # incompressible, like weights
        meta = {"layers": 6, "final_validation": {"auc": 0.7}, "training_seconds": 10.0, "pairs_seen": 640, "steps": 10}
        (folder / ("verifier.json" if name.startswith("verifier") else "reader.json")).write_text(json.dumps(meta))
        (work / "logs" / f"{name}.log").write_text("step 10/10\n")
        (work / "logs" / f"{name}.rc").write_text("0\n")
        gpu_stage.archive(folder)
    monkeypatch.setattr(gpu_stage, "PART_BYTES", 16_000)  # reader-6 takes 3 parts, verifier-4 2
    monkeypatch.setattr(gpu_stage, "BACK_FILES", 7)  # with metrics and logs, reader-4 (13 parts) does not fit
    out = tmp_path / "out"
    metrics = gpu_stage.collect(out, work, ["reader-6", "verifier-4", "reader-4", "verifier-6"], log=lambda m: None)
    assert len(list(out.iterdir())) <= 7
    assert [k.split(" ")[0] for k in metrics["brought_back"]] == ["reader-6", "verifier-4"]
    assert [k.split(" ")[0] for k in metrics["left_out"]] == ["reader-4", "verifier-6"]
    assert metrics["runs"]["reader-6"]["pairs_per_second"] == 64.0 and metrics["runs"]["reader-6"]["exit_status"] == 0
    folders = gpu_stage.unpack(out, tmp_path / "back", log=lambda m: None)
    assert sorted(f.name for f in folders) == ["reader-6", "verifier-4"]
    assert (tmp_path / "back" / "reader-6" / "model.safetensors").read_bytes() == (work / "reader-6" / "model.safetensors").read_bytes()
