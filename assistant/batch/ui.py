"""The batch tab of the web chat: upload a questions file, watch the progress, download the answers
as .xlsx (for reviewers) and .docx (a response document).

    with gr.Tab("Batch"):
        build_batch_tab(get_assistant, config, policy)

`assistant` is the Assistant or a function returning it; `policy` (assistant.auth.AuthPolicy) is
required: every run resolves the caller of its Gradio request under it and searches only the caller's
collections, as the chat does (`answer_request`); `run_upload` takes that Caller, so no path answers a
file unscoped. Files are written to a fresh folder under the system temp folder (Gradio serves files
from there); folders of earlier runs older than a day are removed.
"""

# No `from __future__ import annotations` here: Gradio reads `request: gr.Request` at run time to
# pass the request in (the caller's scope comes from it).
import tempfile
from pathlib import Path

from assistant.batch.readers import INPUT_SUFFIXES
from assistant.downloads import prune_old_folders, safe_stem
from assistant.text import esc

RUN_PREFIX = "assistant-batch-ui-"


def run_upload(assistant, config, upload_path: str, upload_name: str, caller,
               progress=None) -> tuple[str, list[str]]:
    """Answer an uploaded file for `caller` (an assistant.auth.Caller: only their collections are
    searched); returns (a summary in Markdown, [xlsx path, docx path]). Raises BadInput for a bad
    file, Forbidden for a caller that is not one."""
    from assistant.batch.api import restrict
    from assistant.batch.readers import read_questions
    from assistant.batch.records import FAILED, BadInput
    from assistant.batch.runner import run_batch
    from assistant.batch.writers import write_output

    collections = restrict(caller, None)

    max_bytes = int(getattr(config, "max_upload_bytes", 25 * 1024 * 1024))
    if Path(upload_path).stat().st_size > max_bytes:
        raise BadInput(f"{upload_name} is larger than the limit of {max_bytes:,} bytes")
    max_rows = int(getattr(config, "batch_max_rows", 5000))
    questions = read_questions(upload_path, max_rows=max_rows, name=upload_name)
    prune_old_folders(RUN_PREFIX)
    work = Path(tempfile.mkdtemp(prefix=RUN_PREFIX))
    result = run_batch(assistant, questions, work / "checkpoint.jsonl", collections=collections, force=True,
                       progress=progress)
    stem = safe_stem(Path(upload_name).stem, "questions")
    files = [str(write_output(result, work / f"{stem}-answers{suffix}")) for suffix in (".xlsx", ".docx")]
    summary = f"**{esc(result.summary())}.**"
    if result.counts()[FAILED]:
        summary += " The failed questions are marked in the files, with their reasons; upload the file again to retry."
    for note in result.notes:
        summary += f"\n\nNote: {esc(note)}."
    return summary, files


def answer_request(request, policy, get_assistant, config, path: str, progress=None) -> tuple[str, list[str] | None]:
    """The tab's work for one upload: the caller of `request` (a gr.Request) under `policy`, then
    `run_upload` for that caller. Returns (a message in Markdown, the files or None); never raises."""
    from assistant.auth import AuthError, Forbidden, caller_from_gradio
    from assistant.batch.records import BadInput
    from assistant.errors import AssistantError

    try:
        caller = caller_from_gradio(request, policy)
        return run_upload(get_assistant(), config, path, Path(path).name, caller, progress=progress)
    except (AuthError, Forbidden) as exc:
        return f"**Not allowed:** {esc(str(exc))}", None
    except BadInput as exc:
        return f"**The file cannot be used:** {esc(str(exc))}", None
    except AssistantError as exc:
        return f"**The assistant could not answer:** {esc(str(exc))}", None
    except Exception as exc:  # say so, never a stack trace
        return f"**Not done:** {esc(str(exc) or exc.__class__.__name__)}", None


def build_batch_tab(assistant, config, policy):
    """Create the tab's components inside the caller's open gr.Blocks / gr.Tab context; `policy`
    (the server's AuthPolicy) scopes every run to its caller."""
    import gradio as gr

    from assistant.auth import AuthPolicy
    from assistant.batch.runner import Eta, format_duration

    if not isinstance(policy, AuthPolicy):
        raise TypeError("build_batch_tab needs the server's AuthPolicy: the batch tab is never built unscoped")
    get_assistant = assistant if callable(assistant) and not hasattr(assistant, "ask") else (lambda: assistant)

    gr.Markdown(
        "Upload a file of questions — **.xlsx** or **.csv** (a column named *question*, optionally *id*), "
        "**.docx** (a numbered or bulleted list, or a table), **.txt** (one a line) or **.jsonl** — "
        "and get every answer with the paragraphs it cites, as a spreadsheet for reviewers and a Word "
        "response document.",
        elem_id="batch-intro",
    )
    upload = gr.File(label="Questions file", file_types=list(INPUT_SUFFIXES), type="filepath", elem_id="batch-upload")
    start = gr.Button("Answer the questions", variant="primary", elem_id="batch-run")
    status = gr.Markdown("", elem_id="batch-status")
    results = gr.File(label="Answers (.xlsx and .docx)", file_count="multiple", interactive=False, elem_id="batch-files")

    def answer_file(path, request: gr.Request, progress=gr.Progress()):
        if not path:
            return "Choose a questions file first.", None
        eta = Eta()

        def report(done: int, total: int, elapsed: float) -> None:
            left = eta(done, total, elapsed)
            text = f"{done} of {total} answered" + (f", about {format_duration(left)} left" if left is not None else "")
            progress((done, total), desc=text, unit="questions")

        return answer_request(request, policy, get_assistant, config, path, progress=report)

    start.click(answer_file, inputs=[upload], outputs=[status, results], api_visibility="private",
                concurrency_limit=2, concurrency_id="batch")
    return upload, start, status, results
