"""The Review tab of the web chat: draft the answers to a questions file (or pick an earlier review),
go through its items, edit an answer and its citations (searching the sources for a paragraph to
cite), re-check, re-draft, comment, sign off (with an override when the check flags sentences), read
the audit log and download the reviewed .docx / .xlsx.

    with gr.Tab("Review"):
        build_review_tab(get_assistant, get_service, config, policy)

Every event resolves its caller under `policy` (assistant.auth.caller_from_gradio) and works through
`ReviewService` as that caller, so the tab sees exactly what the HTTP API would show them. The reviewer
recorded is the caller's name; only without auth (local single-user mode) does the "Your name" box
decide it ("local user" when empty). The answer is rendered as in the chat (`assistant.ui`:
answer_text_html, sources_html), every piece of text escaped; unsupported sentences are marked. A review's
name in a (Markdown) status message is escaped for Markdown as well as HTML (`esc_markdown`).
"""

# No `from __future__ import annotations`: Gradio reads `request: gr.Request` at run time.
import re
import tempfile
from pathlib import Path

from assistant.batch.readers import INPUT_SUFFIXES
from assistant.downloads import prune_old_folders, safe_stem
from assistant.review.records import LOCAL_REVIEWER, MAX_NAME_CHARS, clean_name
from assistant.text import esc, esc_markdown

RUN_PREFIX = "assistant-review-ui-"
SIGN_OFF = ("approved", "needs-work", "rejected")
TABLE_HEADERS = ["#", "Question", "Status", "Unsupported", "Stale", "Reviewer"]

REVIEW_CSS = """
#review-item-view .chat .bot { margin-top: 0.3rem; }
#review-item-view .question { font-weight: 600; margin-bottom: 0.3rem; white-space: pre-wrap; }
#review-item-view mark.contradicted { background: #f9d1f0; color: #5b1050; text-decoration: line-through double #8e1b74; }
#review-item-view .contradicted-list { border: 2px solid #8e1b74; background: #fbeef8; color: #5b1050;
  padding: 6px 10px; border-radius: 6px; margin: 6px 0; }
#review-item-view mark.unsupported { background: #fde2df; color: #7b241c; text-decoration: underline wavy #c0392b; }
#review-item-view .flags { margin-top: 0.5rem; }
#review-item-view .unsupported-list { border: 1px solid #c0392b; background: #fdf0ee; color: #7b241c;
  border-radius: 8px; padding: 0.4rem 0.7rem; margin-top: 0.5rem; }
#review-item-view .stale-list { border: 1px solid #b58a00; background: #fffaf0; color: #4a3b00;
  border-radius: 8px; padding: 0.4rem 0.7rem; margin-top: 0.5rem; }
#review-item-view .status-badge { display: inline-block; font-size: 0.78rem; font-weight: 700; border-radius: 999px;
  padding: 0.1rem 0.6rem; background: #e8efff; }
#review-item-view .comments { font-size: 0.88rem; margin-top: 0.5rem; }
"""


# --- rendering (plain functions: no Gradio) ------------------------------------------------------------


def _sentence_span(answer: str, sentence: str, start: int) -> tuple[int, int] | None:
    """Where `sentence` (as the citation check reports it: its [n] markers may be left out) is in
    `answer` from `start`, markers after its words included."""
    words = re.findall(r"\w+|[^\w\s]", re.sub(r"\[\d+\]", " ", sentence))
    if not words:
        return None
    pattern = r"(?:\s|\[\d+\])*".join(map(re.escape, words)) + r"(?:\s*\[\d+\])*"
    match = re.compile(pattern).search(answer, start)
    return (match.start(), match.end()) if match else None


def answer_with_flags_html(answer: str, citations, unsupported: list[str], root_path: str,
                          contradicted: list[str] | None = None) -> str:
    """The answer as the chat shows it (escaped, [n] markers linking to the cited paragraph), with
    each unsupported sentence wrapped in <mark class="unsupported">, or <mark class="contradicted">
    when the cited paragraphs contradict it."""
    from assistant.ui import answer_text_html

    against = set(contradicted or [])
    spans = []
    for sentence in dict.fromkeys(s for s in unsupported if s and s.strip()):
        span = _sentence_span(answer, sentence, 0)
        if span and not any(a < span[1] and span[0] < b for a, b, _ in spans):
            spans.append((*span, sentence in against))
    pieces: list[str] = []
    position = 0
    for begin, end, is_contradicted in sorted(spans):
        pieces.append(answer_text_html(answer[position:begin], citations, root_path))
        kind, title = ("contradicted", "contradicted by the cited paragraphs") if is_contradicted else (
            "unsupported", "not supported by the cited paragraphs")
        pieces.append(f'<mark class="{kind}" title="{title}">{answer_text_html(answer[begin:end], citations, root_path)}</mark>')
        position = end
    pieces.append(answer_text_html(answer[position:], citations, root_path))
    return "".join(pieces)


def nearest_passages(assistant, caller, item, k: int = 3) -> list[dict]:
    """The passages closest to the item's question that it does not cite (within the caller's
    collections): what a reviewer checks for a better or a missing citation."""
    from assistant.http.reviews import search_paragraphs

    cited = {c.paragraph_id for c in item.citations}
    found = search_paragraphs(assistant, caller, item.question, k + len(cited))
    return [p for p in found if p["paragraph_id"] not in cited][:k]


def nearest_html(passages: list[dict]) -> str:
    if not passages:
        return ""
    rows = "".join(f'<li><a href="{esc(p["view"])}" target="_blank" rel="noopener">{esc(p["paragraph_id"])}</a> '
                   f'<em>{esc(p["title"])}</em>: {esc(p["text"])}</li>' for p in passages)
    return f'<div class="nearest"><strong>Nearest other passages</strong><ul>{rows}</ul></div>'


def item_html(item, root_path: str = "", nearest: list[dict] | None = None) -> str:
    """One item: the question, the answer with its citations and flags, the cited paragraphs,
    stale sources, the nearest passages it does not cite, the sign-off and the comments. Every
    piece of text is escaped."""
    from assistant.ui import sources_html

    kind = "abstained" if item.abstained and not item.citations else "answered"
    parts = [f'<div class="chat"><div class="bot {kind}" data-item="{esc(item.id)}" data-status="{esc(item.status)}">']
    parts.append(f'<div class="question">Q{esc(item.position)}: {esc(item.question)}</div>')
    parts.append(f'<span class="status-badge">{esc(item.status)}</span>')
    flags = answer_with_flags_html(item.answer or "", item.citations, item.unsupported, root_path, item.contradicted)
    parts.append(f'<div class="answer-text">{flags}</div>')
    contradicted = [s for s in item.unsupported if s in set(item.contradicted)]
    if contradicted:
        rows = "".join(f"<li>{esc(s)}</li>" for s in contradicted)
        parts.append(f'<div class="contradicted-list" role="alert"><strong>Contradicted by the cited paragraphs '
                     f'({len(contradicted)}):</strong><ul>{rows}</ul></div>')
    unsupported = [s for s in item.unsupported if s not in set(contradicted)]
    if unsupported:
        rows = "".join(f"<li>{esc(s)}</li>" for s in unsupported)
        parts.append(f'<div class="unsupported-list" role="alert"><strong>Not supported by the cited paragraphs '
                     f'({len(unsupported)}):</strong><ul>{rows}</ul></div>')
    if item.stale:
        rows = "".join(
            f"<li>{esc(p.paragraph_id)}: "
            + ("removed from the sources" if p.new_text is None else f"now reads <q>{esc(p.new_text)}</q>")
            + f" (was <q>{esc(p.old_text)}</q>)</li>"
            for p in item.stale_paragraphs
        )
        parts.append(f'<div class="stale-list"><strong>Stale: a cited source changed since.</strong><ul>{rows}</ul></div>')
    if item.citations:
        parts.append(sources_html(item.citations, int(item.id), root_path))
    parts.append(nearest_html(nearest or []))
    if item.approved_at:
        override = " (override: approved with unsupported sentences)" if item.override else ""
        parts.append(f'<div class="searched signed-off">Approved by {esc(item.reviewer)} at {esc(item.approved_at)}{esc(override)}</div>')
    if item.comments:
        rows = "".join(f"<li><strong>{esc(c.author)}</strong> ({esc(c.at)}): {esc(c.text)}</li>" for c in item.comments)
        parts.append(f'<div class="comments"><strong>Comments</strong><ul>{rows}</ul></div>')
    parts.append("</div></div>")
    return "".join(parts)


def items_rows(review, stale_only: bool = False) -> list[list]:
    return [
        [item.position, item.question, item.status, len(item.unsupported), "stale" if item.stale else "", item.reviewer or ""]
        for item in review.items if item.stale or not stale_only
    ]


def item_choices(review, stale_only: bool = False) -> list[tuple[str, int]]:
    out = []
    for item in review.items:
        if stale_only and not item.stale:
            continue
        flags = (" ⚠ stale" if item.stale else "") + (f" ✗{len(item.unsupported)}" if item.unsupported else "")
        question = item.question if len(item.question) <= 80 else item.question[:80] + "…"
        out.append((f"Q{item.position} [{item.status}]{flags}: {question}", int(item.id)))
    return out


def review_choices(reviews) -> list[tuple[str, int]]:
    return [(f"{r.name} (#{r.id}, {r.created_at[:16]})", int(r.id)) for r in reviews]


def audit_rows(entries) -> list[list]:
    return [[e.at, e.actor, e.item_id if e.item_id is not None else "", e.field, e.before or "", e.after or ""] for e in entries]


def paragraph_choice(found: dict) -> tuple[str, str]:
    text = found["text"] if len(found["text"]) <= 160 else found["text"][:160] + "…"
    return (f"{found['paragraph_id']} — {found['title']}, ¶{found['paragraph']}: {text}", found["paragraph_id"])


def citation_ids(text: str) -> list[str]:
    """Paragraph ids from the citations box: one a line (commas and spaces also separate)."""
    return [part for part in re.split(r"[\s,]+", text or "") if part]


# --- the tab ---------------------------------------------------------------------------------------------
# build_review_tab = the layout (_layout), the events in four groups over one _TabContext, and the wiring
# (_wire). The events are closures defined where `gr` is imported, so Gradio can read `gr.Request` in them.


def build_review_tab(get_assistant, get_service, config, policy):
    """Create the tab's components inside the caller's open gr.Blocks / gr.Tab context."""
    import gradio as gr

    from assistant.auth import AuthPolicy

    if not isinstance(policy, AuthPolicy):
        raise TypeError("build_review_tab needs the server's AuthPolicy: the review tab is never built unscoped")
    ctx = _TabContext(get_assistant, get_service, config, policy)
    ui = _layout(gr, ctx.local)
    events = {**_review_events(gr, ctx), **_edit_events(gr, ctx), **_citation_events(gr, ctx),
              **_audit_and_export_events(gr, ctx)}
    _wire(ui, events)
    return {"upload": ui.upload, "pick": ui.pick, "table": ui.table, "item": ui.item_pick, "view": ui.view}


class _TabContext:
    """What every event of the tab works with: the services, who the caller is, what an error says, and
    the updates of the items table and of the item shown (in the order of `_layout`'s item_targets)."""

    ITEM_TARGETS = 6  # view, answer box, citations box, citation to remove, override, version

    def __init__(self, get_assistant, get_service, config, policy):
        self.get_assistant = get_assistant
        self.get_service = get_service
        self.config = config
        self.policy = policy
        self.root = config.root_path.rstrip("/")
        self.local = not policy.enabled

    def actor_of(self, request, name):
        """The caller of `request`; in local single-user mode (no auth), named by the "Your name" box."""
        from assistant.auth import Caller, caller_from_gradio

        caller = caller_from_gradio(request, self.policy)
        if self.local:
            return Caller(clean_name(name) or LOCAL_REVIEWER, caller.collections)
        return caller

    @staticmethod
    def explain(exc: Exception) -> str:
        from assistant.auth import AuthError, Forbidden
        from assistant.errors import AssistantError
        from assistant.review.records import ReviewConflict, ReviewError, ReviewNotFound

        if isinstance(exc, (AuthError, Forbidden)):
            return f"**Not allowed:** {esc(exc)}"
        if isinstance(exc, ReviewConflict):
            return f"**Not saved:** {esc(exc)}"
        if isinstance(exc, (ReviewError, ReviewNotFound)):
            return f"**Not done:** {esc(exc)}"
        if isinstance(exc, AssistantError):
            return f"**The assistant could not do it:** {esc(exc) or exc.__class__.__name__}"
        import logging

        logging.getLogger("assistant.review").exception("the review tab failed")
        return "**Something went wrong;** the server log has the details."

    def load_review(self, review_id, actor):
        return self.get_service().get(int(review_id), actor)

    @staticmethod
    def table_outputs(review, stale, selected=None):
        import gradio as gr

        choices = item_choices(review, stale)
        value = selected if selected in [c[1] for c in choices] else None
        return gr.update(value=items_rows(review, stale)), gr.update(choices=choices, value=value)

    @staticmethod
    def blank_item() -> tuple:
        import gradio as gr

        return ("", gr.update(value=""), gr.update(value=""), gr.update(choices=[], value=None),
                gr.update(visible=False, value=False), None)

    @classmethod
    def skip_item(cls) -> tuple:
        import gradio as gr

        return (gr.skip(),) * cls.ITEM_TARGETS

    def item_outputs(self, item, actor=None) -> tuple:
        import gradio as gr

        from assistant.errors import AssistantError

        ids = [c.paragraph_id for c in item.citations]
        try:
            nearest = nearest_passages(self.get_assistant(), actor, item) if actor is not None else []
        except AssistantError:  # the index is not ready: the item still opens
            nearest = []
        return (item_html(item, self.root, nearest), gr.update(value=item.answer or ""), gr.update(value="\n".join(ids)),
                gr.update(choices=ids, value=None), gr.update(visible=bool(item.unsupported), value=False), item.version)


def _layout(gr, local: bool):
    """The tab's components, in page order."""
    from types import SimpleNamespace

    ui = SimpleNamespace()
    gr.Markdown(
        "Draft answers to a file of questions for review — **.xlsx**, **.csv**, **.docx**, **.txt** or **.jsonl**, "
        "as in the Batch tab — or pick an earlier review. Check each answer against its cited paragraphs, edit it, "
        "fix its citations, and sign it off. Every change is recorded in the audit log.",
        elem_id="review-intro",
    )
    with gr.Row():
        ui.upload = gr.File(label="Questions file", file_types=list(INPUT_SUFFIXES), type="filepath", elem_id="review-upload")
        with gr.Column():
            ui.name_box = gr.Textbox(label="Review name", placeholder="e.g. Consultation 3 (default: the file name)",
                                     elem_id="review-name", max_length=200)
            ui.reviewer_box = gr.Textbox(label="Your name (recorded as the reviewer)", value=LOCAL_REVIEWER,
                                         elem_id="review-reviewer", visible=local, max_length=MAX_NAME_CHARS)
            ui.create = gr.Button("Draft the answers for review", variant="primary", elem_id="review-create")
    with gr.Row(equal_height=True):
        ui.pick = gr.Dropdown(label="Review", choices=[], value=None, elem_id="review-pick", scale=4, interactive=True)
        ui.refresh = gr.Button("Refresh list", size="sm", elem_id="review-refresh", scale=0, min_width=110)
    ui.message = gr.Markdown("", elem_id="review-status")
    ui.stale_only = gr.Checkbox(label="Only stale items (a cited source changed)", value=False, elem_id="review-stale-only")
    ui.table = gr.Dataframe(headers=TABLE_HEADERS, value=[], interactive=False, wrap=True, elem_id="review-items",
                            label="Items")
    ui.item_pick = gr.Dropdown(label="Item", choices=[], value=None, elem_id="review-item-pick", interactive=True)
    ui.view = gr.HTML("", elem_id="review-item-view", apply_default_css=False)
    ui.version = gr.State(None)

    with gr.Accordion("Edit the answer", open=True):
        ui.answer_box = gr.Textbox(label="Answer (with [n] markers: [1] cites the first paragraph below)", lines=5,
                                   max_lines=20, elem_id="review-answer")
        ui.citations_box = gr.Textbox(label="Cited paragraphs, one id a line ([1], [2], … in this order)", lines=3,
                                      max_lines=12, elem_id="review-citations")
        with gr.Row(equal_height=True):
            ui.search_box = gr.Textbox(label="Find a paragraph to cite", placeholder="words, a question or a paragraph id",
                                       elem_id="review-search", scale=4)
            ui.search_go = gr.Button("Search", size="sm", elem_id="review-search-go", scale=0, min_width=90)
        ui.found = gr.Dropdown(label="Paragraphs found", choices=[], value=None, elem_id="review-found", interactive=True)
        with gr.Row():
            ui.add_citation = gr.Button("Add as a citation", size="sm", elem_id="review-add-citation")
            ui.remove_pick = gr.Dropdown(label="Citation to remove", choices=[], value=None, elem_id="review-remove-pick",
                                         interactive=True)
            ui.remove_citation = gr.Button("Remove it", size="sm", elem_id="review-remove-citation")
        with gr.Row():
            ui.save = gr.Button("Save and re-check", variant="primary", elem_id="review-save")
            ui.redraft = gr.Button("Re-draft from the sources", elem_id="review-redraft")
    with gr.Accordion("Comment and sign off", open=True):
        ui.comment_box = gr.Textbox(label="Comment", lines=2, elem_id="review-comment", max_length=4000)
        ui.comment_go = gr.Button("Add the comment", size="sm", elem_id="review-add-comment")
        with gr.Row(equal_height=True):
            ui.new_status = gr.Radio(list(SIGN_OFF), label="Status", value="approved", elem_id="review-new-status")
            ui.override = gr.Checkbox(label="Approve although some sentences are not supported (override)", value=False,
                                      visible=False, elem_id="review-override")
            ui.set_status = gr.Button("Set the status", variant="primary", elem_id="review-set-status")
    with gr.Accordion("Audit log and export", open=False):
        ui.audit_go = gr.Button("Show the audit log", size="sm", elem_id="review-audit-show")
        ui.audit_table = gr.Dataframe(headers=["at", "actor", "item", "field", "before", "after"], value=[],
                                      interactive=False, wrap=True, elem_id="review-audit")
        with gr.Row():
            ui.export_docx = gr.Button("Export .docx", elem_id="review-export-docx")
            ui.export_xlsx = gr.Button("Export .xlsx", elem_id="review-export-xlsx")
        ui.export_file = gr.File(label="Download", interactive=False, elem_id="review-export-file")
    ui.item_targets = [ui.view, ui.answer_box, ui.citations_box, ui.remove_pick, ui.override, ui.version]
    assert len(ui.item_targets) == _TabContext.ITEM_TARGETS
    return ui


def _review_events(gr, ctx: _TabContext) -> dict:
    """Listing, drafting and opening reviews, and picking an item."""

    def list_reviews(reviewer, request: gr.Request):
        try:
            actor = ctx.actor_of(request, reviewer)
            return gr.update(choices=review_choices(ctx.get_service().list_reviews(actor))), ""
        except Exception as exc:  # noqa: BLE001 - shown in the tab
            return gr.skip(), ctx.explain(exc)

    def create_review(path, name, reviewer, stale, request: gr.Request, progress=gr.Progress()):
        none = (gr.skip(),) * 3 + ctx.blank_item()
        if not path:
            return ("Choose a questions file first.",) + none
        try:
            from assistant.batch.readers import read_questions

            actor = ctx.actor_of(request, reviewer)
            collections = actor.restrict(None)
            limit = int(getattr(ctx.config, "max_upload_bytes", 25 * 1024 * 1024))
            if Path(path).stat().st_size > limit:
                return (f"**The file cannot be used:** it is larger than the limit of {limit:,} bytes.",) + none
            questions = read_questions(path, max_rows=int(getattr(ctx.config, "batch_max_rows", 5000)), name=Path(path).name)
            title = (name or "").strip() or Path(path).stem
            service = ctx.get_service()

            def report(done, total, elapsed=None):
                progress((done, total), desc=f"{done} of {total} drafted", unit="questions")

            review = service.create(title, questions, ctx.get_assistant(), actor, collections=collections, progress=report)
            review = service.get(review.id, actor)
            rows, items = ctx.table_outputs(review, stale)
            status = f"**Review “{esc_markdown(review.name)}” created:** {len(review.items)} answers drafted."
            return (status, gr.update(choices=review_choices(service.list_reviews(actor)), value=int(review.id)),
                    rows, items) + ctx.blank_item()
        except Exception as exc:  # noqa: BLE001
            from assistant.batch.records import BadInput

            if isinstance(exc, BadInput):
                return (f"**The file cannot be used:** {esc(exc)}",) + none
            return (ctx.explain(exc),) + none

    def open_review(review_id, reviewer, stale, request: gr.Request):
        if review_id is None:
            return ("", gr.update(value=[]), gr.update(choices=[], value=None)) + ctx.blank_item()
        try:
            review = ctx.load_review(review_id, ctx.actor_of(request, reviewer))
            rows, items = ctx.table_outputs(review, stale)
            counts = review.counts()
            summary = ", ".join(f"{n} {s}" for s, n in counts.items())
            return (f"“{esc_markdown(review.name)}”: {len(review.items)} items ({esc(summary)}).", rows, items) + ctx.blank_item()
        except Exception as exc:  # noqa: BLE001
            return (ctx.explain(exc), gr.skip(), gr.skip()) + ctx.blank_item()

    def refilter(review_id, reviewer, stale, selected, request: gr.Request):
        if review_id is None:
            return gr.skip(), gr.skip()
        try:
            return ctx.table_outputs(ctx.load_review(review_id, ctx.actor_of(request, reviewer)), stale, selected)
        except Exception:  # noqa: BLE001
            return gr.skip(), gr.skip()

    def open_item(review_id, item_id, reviewer, request: gr.Request):
        if review_id is None or item_id is None:
            return (gr.skip(),) + ctx.blank_item()
        try:
            actor = ctx.actor_of(request, reviewer)
            item = ctx.get_service().get_item(int(review_id), int(item_id), actor)
            return (gr.skip(),) + ctx.item_outputs(item, actor)
        except Exception as exc:  # noqa: BLE001
            return (ctx.explain(exc),) + ctx.blank_item()

    def pick_row(review_id, reviewer, stale, evt: gr.SelectData, request: gr.Request):
        try:
            review = ctx.load_review(review_id, ctx.actor_of(request, reviewer))
            visible = [i for i in review.items if i.stale or not stale]
            row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
            return gr.update(value=int(visible[int(row)].id))
        except Exception:  # noqa: BLE001
            return gr.skip()

    return dict(list_reviews=list_reviews, create_review=create_review, open_review=open_review, refilter=refilter,
                open_item=open_item, pick_row=pick_row)


def _edit_events(gr, ctx: _TabContext) -> dict:
    """Changing the item shown: save an edit, re-draft, comment, sign off (all through `change`)."""

    def change(review_id, item_id, reviewer, stale, expected, request: gr.Request, done: str = "Saved", **kwargs):
        if review_id is None or item_id is None:
            return ("Pick an item first.", gr.skip(), gr.skip()) + ctx.skip_item()
        try:
            actor = ctx.actor_of(request, reviewer)
            needs_assistant = kwargs.get("redraft") or "answer" in kwargs or "citations" in kwargs
            if needs_assistant:
                assistant = ctx.get_assistant()
                kwargs.update(assistant=assistant, embedder=assistant.embedder)
            item = ctx.get_service().update_item(int(review_id), int(item_id), actor, expected_version=expected, **kwargs)
            rows, items = ctx.table_outputs(ctx.load_review(review_id, actor), stale, int(item.id))
            note = f" {len(item.unsupported)} sentence(s) not supported by the cited paragraphs." if item.unsupported else ""
            return (f"**{esc(done)}** (version {item.version}).{esc(note)}", rows, items) + ctx.item_outputs(item, actor)
        except Exception as exc:  # noqa: BLE001
            return (ctx.explain(exc), gr.skip(), gr.skip()) + ctx.skip_item()

    def save_edit(review_id, item_id, reviewer, stale, expected, answer, citations, request: gr.Request):
        return change(review_id, item_id, reviewer, stale, expected, request, "Saved and re-checked",
                      answer=answer or "", citations=citation_ids(citations))

    def do_redraft(review_id, item_id, reviewer, stale, expected, request: gr.Request):
        return change(review_id, item_id, reviewer, stale, expected, request, "Re-drafted", redraft=True)

    def add_comment(review_id, item_id, reviewer, stale, expected, text, request: gr.Request):
        if not (text or "").strip():
            return ("Write a comment first.", gr.skip(), gr.skip()) + ctx.skip_item()
        return change(review_id, item_id, reviewer, stale, expected, request, "Comment added", comment=text.strip())

    def sign_off(review_id, item_id, reviewer, stale, expected, status, allow, request: gr.Request):
        return change(review_id, item_id, reviewer, stale, expected, request, f"Status set to {status}",
                      status=status, override=bool(allow))

    return dict(save_edit=save_edit, do_redraft=do_redraft, add_comment=add_comment, sign_off=sign_off)


def _citation_events(gr, ctx: _TabContext) -> dict:
    """Searching the caller's sources for a paragraph, and adding or removing a citation in the box."""

    def search(text, request: gr.Request):
        from assistant.auth import caller_from_gradio
        from assistant.http.reviews import search_paragraphs

        if not (text or "").strip():
            return gr.update(choices=[], value=None), "Type something to search for."
        try:
            caller = caller_from_gradio(request, ctx.policy)
            results = search_paragraphs(ctx.get_assistant(), caller, text, 10, ctx.root)
            choices = [paragraph_choice(r) for r in results]
            return (gr.update(choices=choices, value=choices[0][1] if choices else None),
                    f"{len(choices)} paragraph(s) found." if choices else "No paragraph found.")
        except Exception as exc:  # noqa: BLE001
            return gr.update(choices=[], value=None), ctx.explain(exc)

    def add_found(citations, pid):
        if not pid:
            return gr.skip(), gr.skip(), "Search and pick a paragraph first."
        ids = citation_ids(citations)
        if pid not in ids:
            ids.append(pid)
        return "\n".join(ids), gr.update(choices=ids, value=None), (
            f"Added {esc(pid)} as [{ids.index(pid) + 1}]: cite it in the answer with [{ids.index(pid) + 1}], then save.")

    def remove_one(citations, pid):
        ids = citation_ids(citations)
        if not pid or pid not in ids:
            return gr.skip(), gr.skip(), "Pick a citation to remove."
        ids.remove(pid)
        return "\n".join(ids), gr.update(choices=ids, value=None), (
            f"Removed {esc(pid)}: the markers after it now count one lower; check the answer's [n], then save.")

    return dict(search=search, add_found=add_found, remove_one=remove_one)


def _audit_and_export_events(gr, ctx: _TabContext) -> dict:
    """The audit log shown, and the signed-off .docx / .xlsx written for download."""

    def show_audit(review_id, reviewer, request: gr.Request):
        if review_id is None:
            return gr.skip(), "Pick a review first."
        try:
            return audit_rows(ctx.get_service().audit(int(review_id), ctx.actor_of(request, reviewer))), ""
        except Exception as exc:  # noqa: BLE001
            return gr.skip(), ctx.explain(exc)

    def export(review_id, reviewer, fmt, request: gr.Request):
        if review_id is None:
            return gr.skip(), "Pick a review first."
        try:
            actor = ctx.actor_of(request, reviewer)
            service = ctx.get_service()
            review = service.get(int(review_id), actor)
            content = service.export(int(review_id), actor, fmt)
            prune_old_folders(RUN_PREFIX)
            folder = Path(tempfile.mkdtemp(prefix=RUN_PREFIX))
            target = folder / f"{safe_stem(review.name, 'review')}.{fmt}"
            target.write_bytes(content)
            return str(target), f"Exported {esc_markdown(target.name)}."
        except Exception as exc:  # noqa: BLE001
            return gr.skip(), ctx.explain(exc)

    def to_docx(review_id, reviewer, request: gr.Request):
        return export(review_id, reviewer, "docx", request)

    def to_xlsx(review_id, reviewer, request: gr.Request):
        return export(review_id, reviewer, "xlsx", request)

    return dict(show_audit=show_audit, to_docx=to_docx, to_xlsx=to_xlsx)


def _wire(ui, events: dict) -> None:
    """Each component's events to their functions (none of them is part of the public API)."""
    private = dict(api_visibility="private")
    item_targets = ui.item_targets
    common_in = [ui.pick, ui.item_pick, ui.reviewer_box, ui.stale_only, ui.version]
    common_out = [ui.message, ui.table, ui.item_pick] + item_targets
    ui.create.click(events["create_review"], inputs=[ui.upload, ui.name_box, ui.reviewer_box, ui.stale_only],
                    outputs=[ui.message, ui.pick, ui.table, ui.item_pick] + item_targets, concurrency_limit=2,
                    concurrency_id="review-create", **private)
    ui.refresh.click(events["list_reviews"], inputs=[ui.reviewer_box], outputs=[ui.pick, ui.message], **private)
    ui.pick.focus(events["list_reviews"], inputs=[ui.reviewer_box], outputs=[ui.pick, ui.message], **private)
    ui.pick.input(events["open_review"], inputs=[ui.pick, ui.reviewer_box, ui.stale_only],
                  outputs=[ui.message, ui.table, ui.item_pick] + item_targets, **private)
    ui.stale_only.change(events["refilter"], inputs=[ui.pick, ui.reviewer_box, ui.stale_only, ui.item_pick],
                         outputs=[ui.table, ui.item_pick], **private)
    ui.table.select(events["pick_row"], inputs=[ui.pick, ui.reviewer_box, ui.stale_only], outputs=[ui.item_pick], **private)
    ui.item_pick.change(events["open_item"], inputs=[ui.pick, ui.item_pick, ui.reviewer_box],
                        outputs=[ui.message] + item_targets, **private)
    ui.save.click(events["save_edit"], inputs=common_in + [ui.answer_box, ui.citations_box], outputs=common_out, **private)
    ui.redraft.click(events["do_redraft"], inputs=common_in, outputs=common_out, **private)
    ui.comment_go.click(events["add_comment"], inputs=common_in + [ui.comment_box], outputs=common_out, **private)
    ui.set_status.click(events["sign_off"], inputs=common_in + [ui.new_status, ui.override], outputs=common_out, **private)
    ui.search_go.click(events["search"], inputs=[ui.search_box], outputs=[ui.found, ui.message], **private)
    ui.search_box.submit(events["search"], inputs=[ui.search_box], outputs=[ui.found, ui.message], **private)
    ui.add_citation.click(events["add_found"], inputs=[ui.citations_box, ui.found],
                          outputs=[ui.citations_box, ui.remove_pick, ui.message], **private)
    ui.remove_citation.click(events["remove_one"], inputs=[ui.citations_box, ui.remove_pick],
                             outputs=[ui.citations_box, ui.remove_pick, ui.message], **private)
    ui.audit_go.click(events["show_audit"], inputs=[ui.pick, ui.reviewer_box], outputs=[ui.audit_table, ui.message], **private)
    ui.export_docx.click(events["to_docx"], inputs=[ui.pick, ui.reviewer_box], outputs=[ui.export_file, ui.message], **private)
    ui.export_xlsx.click(events["to_xlsx"], inputs=[ui.pick, ui.reviewer_box], outputs=[ui.export_file, ui.message], **private)
