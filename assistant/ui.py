"""The web chat (a Gradio Blocks app mounted on the HTTP server) and the HTML pages it links to.

Owns what people see in the browser:
- the chat: answers streamed one checked sentence at a time (the pending bubble shows only what
  `Assistant.stream` yields: sentences the citation check passed, never the LLM's raw tokens),
  whose [n] markers link to the cited paragraph, a sources panel under
  each answer (title, publisher, date, paragraph number, the whole paragraph with the quoted
  sentences highlighted, the original URL), "Searched for: ..." under rewritten follow-ups,
  abstentions in their own style with the nearest passages labelled "not an answer", example
  questions on the empty chat, a new-chat button, and a copy button that keeps the citations as
  footnotes (`Answer.with_footnotes()`);
- the source view `/sources/<document-id>`, paragraph anchors `#p<N>` highlighted with CSS
  `:target` (the page runs no script at all);
- the token login page.

Every piece of document text, metadata and user input is escaped with `html.escape` before it
goes into HTML: documents are data, never markup. Gradio is imported only inside `build_chat`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlparse

from assistant.answer import Answer, Citation
from assistant.records import NON_CONTENT_KINDS, NON_CONTENT_LABELS, split_paragraph_id
from assistant.text import esc

DEFAULT_EXAMPLES = (
    "Who is David Dalton?",
    "What three conditions must be met for Hunt's ideas to gain traction?",
    "Why does The King's Fund want to end top-down reform of the NHS?",
)

COPY_LABEL = "Copy with footnotes"

# Runs once when the transcript mounts: one delegated listener for every copy button, present and future.
TRANSCRIPT_JS = """
element.addEventListener('click', async (event) => {
  const button = event.target.closest('button.copy-answer');
  if (!button) return;
  const text = button.dataset.copy || '';
  let done = false;
  try {
    if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(text); done = true; }
  } catch (e) { done = false; }
  if (!done) {
    const area = document.createElement('textarea');
    area.value = text; area.setAttribute('readonly', ''); area.style.position = 'fixed'; area.style.opacity = '0';
    document.body.appendChild(area); area.select();
    try { document.execCommand('copy'); } catch (e) {}
    area.remove();
  }
  button.textContent = 'Copied';
  setTimeout(() => { button.textContent = '""" + COPY_LABEL + """'; }, 1500);
});
"""

CHAT_CSS = """
.gradio-container { max-width: 960px !important; margin: 0 auto !important; }
#topbar { align-items: center; }
#topbar h1.app-title { font-size: 1.35rem; margin: 0.2rem 0; }
#transcript { min-height: 12rem; }
.chat { display: flex; flex-direction: column; gap: 1rem; font-size: 0.98rem; line-height: 1.5; }
.chat .intro { color: var(--body-text-color-subdued); padding: 0.5rem 0; }
.chat .msg { display: flex; }
.chat .msg.user { justify-content: flex-end; }
.chat .msg.user .bubble { background: var(--color-accent-soft, #e8efff); border-radius: 14px 14px 2px 14px;
  padding: 0.5rem 0.8rem; max-width: 85%; white-space: pre-wrap; overflow-wrap: anywhere; }
.chat .bot { border: 1px solid var(--border-color-primary, #ddd); border-radius: 12px; padding: 0.75rem 0.9rem;
  max-width: 100%; overflow-wrap: anywhere; background: var(--background-fill-primary, #fff); }
.chat .bot.abstained { border: 1px dashed #b58a00; background: #fffaf0; color: #4a3b00; }
.chat .bot.error { border-color: #c0392b; background: #fdf0ee; color: #7b241c; }
.chat .badge { display: inline-block; font-size: 0.78rem; font-weight: 700; border-radius: 999px;
  padding: 0.1rem 0.6rem; margin-bottom: 0.4rem; }
.chat .badge.abstain { background: #f5e1a4; color: #5a4600; }
.chat .badge.answer { background: #d9f2e3; color: #1d5e36; }
.chat .answer-text { white-space: pre-wrap; }
.chat .answer-text.streaming::after { content: '\\258D'; animation: blink 1s steps(2) infinite; }
@keyframes blink { 50% { opacity: 0; } }
.chat a, #app-footer a { color: var(--link-text-color, #1d4ed8); text-decoration: underline; }
.chat a.cite { text-decoration: none; font-weight: 700; padding: 0 0.1rem; }
.chat a.source-title { text-decoration: none; }
.chat .searched, .chat .notice { font-size: 0.85rem; color: var(--body-text-color-subdued, #666); margin-top: 0.4rem; }
.chat .notice { color: #7a5a00; }
.chat details.sources { margin-top: 0.6rem; border-top: 1px solid var(--border-color-primary, #eee); padding-top: 0.4rem; }
.chat details.sources summary { cursor: pointer; font-weight: 600; font-size: 0.9rem; }
.chat ol.source-list { list-style: none; padding: 0; margin: 0.4rem 0 0 0; display: flex; flex-direction: column; gap: 0.6rem; }
.chat .source-head { font-weight: 600; }
.chat .source-meta { font-size: 0.82rem; color: var(--body-text-color-subdued, #666); }
.chat blockquote.paragraph { margin: 0.3rem 0; padding: 0.3rem 0.6rem; border-left: 3px solid #c9d3e6;
  white-space: pre-wrap; font-size: 0.9rem; }
.chat blockquote.paragraph mark { background: #fff0a8; padding: 0 0.1rem; }
.chat .source-links { font-size: 0.85rem; }
.chat .nearest { margin-top: 0.6rem; }
.chat .nearest-label { font-size: 0.85rem; font-weight: 700; color: #7a5a00; }
.chat .nearest ul { margin: 0.3rem 0 0 1rem; padding: 0; }
.chat .nearest li { font-size: 0.88rem; color: #5c5030; margin-bottom: 0.3rem; }
.chat .actions { margin-top: 0.5rem; }
.chat button.copy-answer { font-size: 0.8rem; border: 1px solid var(--border-color-primary, #ccc); border-radius: 6px;
  padding: 0.15rem 0.6rem; background: transparent; cursor: pointer; }
#examples .examples-label { font-size: 0.85rem; color: var(--body-text-color-subdued, #666); }
#examples button { white-space: normal; text-align: left; }
#composer { align-items: stretch; }
#app-footer { font-size: 0.8rem; color: var(--body-text-color-subdued, #777); text-align: center; }
@media (max-width: 640px) {
  .gradio-container { padding: 0.3rem !important; }
  .chat .msg.user .bubble { max-width: 92%; }
  .chat .bot { padding: 0.6rem; }
  #composer { flex-wrap: nowrap !important; }
}
"""

SOURCE_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1f2328; background: #fafafa; }
header { padding: 1rem; background: #fff; border-bottom: 1px solid #e5e5e5; }
header a.back { font-size: 0.9rem; }
h1 { font-size: 1.4rem; margin: 0.4rem 0; overflow-wrap: anywhere; }
.meta { color: #57606a; font-size: 0.9rem; overflow-wrap: anywhere; }
main { max-width: 46rem; margin: 0 auto; padding: 0.5rem 1rem 4rem; }
section.para { display: grid; grid-template-columns: 3.2rem 1fr; gap: 0.5rem; padding: 0.5rem 0.4rem;
  border-radius: 6px; scroll-margin-top: 1rem; }
section.para .pnum { color: #8c959f; font-size: 0.85rem; text-decoration: none; padding-top: 0.15rem; }
section.para .text { white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.55; }
section.para .label { display: block; font-size: 0.8rem; color: #57606a; margin-bottom: 0.2rem; }
section.para:target { background: #fff4b8; outline: 2px solid #e0b400; }
section.para:target .pnum { color: #7a5a00; font-weight: 700; }
h2.section { font-size: 1.05rem; margin: 1.2rem 0 0.2rem 3.7rem; }
@media (max-width: 640px) { section.para { grid-template-columns: 2.4rem 1fr; } h2.section { margin-left: 2.9rem; } }
"""


def safe_url(url: str) -> str | None:
    """Only http(s) links to originals: a `javascript:` URL in metadata must never become a link."""
    try:
        scheme = urlparse(url or "").scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def source_href(root_path: str, document_id: str, paragraph: int | None = None) -> str:
    href = f"{root_path.rstrip('/')}/sources/{quote(document_id, safe='')}"
    return href + (f"#p{paragraph}" if paragraph else "")


def original_pdf_href(root_path: str, document_id: str, page: int, quote_text: str = "") -> str:
    """The original PDF, opened at `page` by the browser's viewer (`#page=N`); viewers built on pdf.js
    also take `search=` and highlight the quote's first words there."""
    href = f"{root_path.rstrip('/')}/sources/{quote(document_id, safe='')}/original#page={int(page)}"
    words = " ".join((quote_text or "").split(" … ", 1)[0].split()[:8])
    return href + (f"&search={quote(words, safe='')}" if words else "")


def highlight(paragraph: str, quote_text: str) -> str:
    """The paragraph, escaped, with each quoted run (runs are joined by ' … ') wrapped in <mark>."""
    runs = [r for r in (quote_text or "").split(" … ") if r.strip()]
    out: list[str] = []
    position = 0
    for run in runs:
        found = paragraph.find(run, position)
        if found < 0:
            continue
        out.append(esc(paragraph[position:found]))
        out.append(f"<mark>{esc(run)}</mark>")
        position = found + len(run)
    out.append(esc(paragraph[position:]))
    return "".join(out)


def answer_text_html(answer_text: str, citations: list[Citation], root_path: str) -> str:
    """The answer, escaped, with each [n] marker a link to the cited paragraph's source view."""
    by_marker = {c.marker: c for c in citations}

    def link(match: re.Match) -> str:
        citation = by_marker.get(int(match.group(1)))
        if citation is None:
            return match.group(0)
        href = source_href(root_path, citation.document_id, citation.paragraph)
        return (
            f'<a class="cite" href="{esc(href)}" target="_blank" rel="noopener" '
            f'title="{esc(citation.title)}, {esc(citation.location)}: {esc(citation.quote)}">[{citation.marker}]</a>'
        )

    return re.sub(r"\[(\d+)\]", link, esc(answer_text))


def _citation_html(citation: Citation, turn: int, root_path: str) -> str:
    href = source_href(root_path, citation.document_id, citation.paragraph)
    meta = [citation.publisher, citation.date, citation.location]
    if citation.section:
        meta.append(f"section: {citation.section}")
    if citation.comment_by:
        meta.append(f"reader comment by {citation.comment_by}")
    links = [f'<a class="open-source" href="{esc(href)}" target="_blank" rel="noopener">Open ¶{citation.paragraph} in the document</a>']
    if citation.page:
        pdf = original_pdf_href(root_path, citation.document_id, citation.page, citation.quote)
        links.append(f'<a class="open-pdf" href="{esc(pdf)}" target="_blank" rel="noopener">Open the PDF at p. {citation.page}</a>')
    original = safe_url(citation.url)
    if original:
        links.append(f'<a class="original" href="{esc(original)}" target="_blank" rel="noopener noreferrer">Original</a>')
    return (
        f'<li class="source" id="t{turn}-c{citation.marker}" data-paragraph-id="{esc(citation.paragraph_id)}">'
        f'<div class="source-head"><span class="marker">[{citation.marker}]</span> '
        f'<a class="source-title" href="{esc(href)}" target="_blank" rel="noopener">{esc(citation.title)}</a></div>'
        f'<div class="source-meta">{esc(" · ".join(m for m in meta if m))}</div>'
        f'<blockquote class="paragraph">{highlight(citation.text, citation.quote)}</blockquote>'
        f'<div class="source-links">{" · ".join(links)}</div></li>'
    )


def _nearest_html(answer: Answer, root_path: str) -> str:
    if not answer.nearest:
        return ""
    items = []
    for near in answer.nearest:
        try:
            document_id, number = split_paragraph_id(near.paragraph_id)
            href = source_href(root_path, document_id, number)
            label = f"{near.title}, ¶{number}"
        except ValueError:
            href, label = None, near.title
        text = near.text if len(near.text) <= 320 else near.text[:320].rsplit(" ", 1)[0] + " …"
        head = f'<a href="{esc(href)}" target="_blank" rel="noopener">{esc(label)}</a>' if href else esc(label)
        items.append(f"<li>{head}: {esc(text)}</li>")
    return (
        '<div class="nearest"><div class="nearest-label">Nearest passages, not an answer</div>'
        f'<ul>{"".join(items)}</ul></div>'
    )


def sources_html(citations: list[Citation], turn: int, root_path: str) -> str:
    """The sources panel of an answer: each cited paragraph, escaped, its quote highlighted."""
    return (
        f'<details class="sources" open><summary>Sources ({len(citations)})</summary>'
        f'<ol class="source-list">{"".join(_citation_html(c, turn, root_path) for c in citations)}</ol></details>'
    )


def answer_html(answer: Answer, turn: int, root_path: str) -> str:
    """One finished answer: the text with linked markers, its notes, and its sources panel."""
    kind = "abstained" if answer.abstained else "answered"
    badge = (
        '<div class="badge abstain">Not in the sources</div>' if answer.abstained else '<div class="badge answer">Answer</div>'
    )
    parts = [f'<div class="bot {kind}" data-turn="{turn}">', badge]
    parts.append(f'<div class="answer-text">{answer_text_html(answer.answer, answer.citations, root_path)}</div>')
    if answer.searched_for and answer.searched_for.strip().lower() != answer.question.strip().lower():
        parts.append(f'<div class="searched">Searched for: <q>{esc(answer.searched_for)}</q></div>')
    if answer.notice:
        parts.append(f'<div class="notice">{esc(answer.notice)}</div>')
    if answer.citations:
        parts.append(sources_html(answer.citations, turn, root_path))
    if answer.abstained:
        parts.append(_nearest_html(answer, root_path))
    parts.append(
        f'<div class="actions"><button type="button" class="copy-answer" data-copy="{esc(answer.with_footnotes())}">'
        f"{COPY_LABEL}</button></div>"
    )
    parts.append("</div>")
    return "".join(parts)


@dataclass
class Turn:
    """One exchange of the chat: the question, and the answer (or the text so far, or an error)."""

    question: str
    answer: Answer | None = None
    partial: str = ""
    error: str = ""


def render_transcript(turns: list[Turn], root_path: str = "") -> str:
    if not turns:
        return (
            '<div class="chat" aria-live="polite"><div class="intro">Ask a question about the sources. Every answer '
            "cites the paragraphs it rests on, and says so plainly when the sources do not answer.</div></div>"
        )
    parts = ['<div class="chat" aria-live="polite">']
    for i, turn in enumerate(turns):
        parts.append(f'<div class="msg user"><div class="bubble">{esc(turn.question)}</div></div>')
        if turn.answer is not None:
            parts.append(f'<div class="msg">{answer_html(turn.answer, i, root_path)}</div>')
        elif turn.error:
            parts.append(f'<div class="msg"><div class="bot error" role="alert">{esc(turn.error)}</div></div>')
        else:
            parts.append(
                f'<div class="msg"><div class="bot pending" aria-busy="true">'
                f'<div class="answer-text streaming">{esc(turn.partial)}</div></div></div>'
            )
    parts.append("</div>")
    return "".join(parts)


def history_of(turns: list[Turn]) -> list[dict]:
    history: list[dict] = []
    for turn in turns:
        if turn.answer is not None:
            history += [{"role": "user", "content": turn.question}, {"role": "assistant", "content": turn.answer.answer}]
    return history


# --- the Gradio app ----------------------------------------------------------------------------


def build_chat(get_assistant: Callable, config, policy, batch_tab: Callable | None = None,
               review_tab: Callable | None = None):
    """The chat as a gr.Blocks. `get_assistant()` returns the shared Assistant (or raises
    IndexNotReady); `policy` (assistant.auth.AuthPolicy) scopes each event to its caller's
    collections; `batch_tab()` and `review_tab()` (optional) build the batch and review tabs' components."""
    import gradio as gr

    from assistant.auth import AuthError, Forbidden, caller_from_gradio
    from assistant.errors import AssistantError, BadQuestion, IndexNotReady

    root = config.root_path.rstrip("/")
    examples = list(config.example_questions or DEFAULT_EXAMPLES)

    def respond(question: str, turns: list[Turn], request: gr.Request):
        question = (question or "").strip()
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        turns = list(turns or [])
        history = history_of(turns)
        turn = Turn(question)
        turns.append(turn)
        yield render_transcript(turns, root), "", turns, gr.update(visible=False)
        try:
            caller = caller_from_gradio(request, policy)
            collections = caller.restrict(None)
            assistant = get_assistant()
            for event in assistant.stream(question, history, collections=collections):
                if isinstance(event, Answer):
                    turn.answer = event
                else:  # a checked sentence (assistant/llm_answer.py): the final text is these joined
                    turn.partial += event
                    yield render_transcript(turns, root), gr.skip(), turns, gr.skip()
        except BadQuestion as exc:
            turn.error = f"That question cannot be asked: {exc}."
        except IndexNotReady as exc:
            turn.error = f"The index is not ready: {exc}"
        except (AuthError, Forbidden) as exc:
            turn.error = f"Not allowed: {exc}"
        except AssistantError as exc:
            turn.error = f"The assistant could not answer: {exc}"
        except Exception:  # noqa: BLE001 - a bug must show as a message in the chat, not a broken page
            import logging

            logging.getLogger("assistant.ui").exception("answering in the chat failed")
            turn.error = "Something went wrong while answering; the server log has the details."
        if turn.answer is None and not turn.error:
            turn.error = "The assistant gave no answer; please try again."
        yield render_transcript(turns, root), gr.skip(), turns, gr.skip()

    def new_chat():
        return render_transcript([], root), "", [], gr.update(visible=True)

    # Gradio finds the request parameter by its annotation; with postponed annotations it would see
    # only the string "gr.Request" (gradio is not a module global here), so set the real class.
    respond.__annotations__["request"] = gr.Request

    with gr.Blocks(title="Ask the sources", analytics_enabled=False) as blocks:
        turns = gr.State([])
        with gr.Row(elem_id="topbar", equal_height=True):
            gr.HTML("<h1 class='app-title'>Ask the sources</h1>", js_on_load=None, scale=1, apply_default_css=False)
            new_button = gr.Button("New chat", size="sm", variant="secondary", elem_id="new-chat", scale=0, min_width=96)

        def chat_components():
            transcript = gr.HTML(
                render_transcript([], root), elem_id="transcript", js_on_load=TRANSCRIPT_JS, autoscroll=True,
                apply_default_css=False,
            )
            with gr.Column(elem_id="examples", visible=True) as examples_box:
                gr.HTML("<div class='examples-label'>Try one of these:</div>", js_on_load=None, apply_default_css=False)
                buttons = [gr.Button(q, size="sm", elem_classes=["example-q"]) for q in examples]
            with gr.Row(elem_id="composer", equal_height=True):
                box = gr.Textbox(
                    show_label=False, placeholder="Ask about the sources…", lines=1, max_lines=6,
                    scale=1, min_width=120, elem_id="question", autofocus=True, max_length=config.max_question_chars,
                )
                ask = gr.Button("Ask", variant="primary", scale=0, min_width=72, elem_id="ask")
            return transcript, examples_box, buttons, box, ask

        if batch_tab is not None or review_tab is not None:
            with gr.Tabs():
                with gr.Tab("Chat", id="chat"):
                    transcript, examples_box, buttons, box, ask = chat_components()
                if batch_tab is not None:
                    with gr.Tab("Batch", id="batch"):
                        batch_tab()
                if review_tab is not None:
                    with gr.Tab("Review", id="review"):
                        review_tab()
        else:
            transcript, examples_box, buttons, box, ask = chat_components()
        gr.HTML(
            f"<div id='app-footer'>Answers come only from the indexed documents · "
            f"<a href='{esc(root)}/docs' target='_blank' rel='noopener'>HTTP API</a></div>",
            js_on_load=None, apply_default_css=False,
        )

        outputs = [transcript, box, turns, examples_box]
        common = dict(outputs=outputs, api_visibility="private", concurrency_limit=8, concurrency_id="answer")
        ask.click(respond, inputs=[box, turns], **common)
        box.submit(respond, inputs=[box, turns], **common)
        for button, text in zip(buttons, examples):

            def ask_example(turns, request: gr.Request, _text=text):
                yield from respond(_text, turns, request)

            ask_example.__annotations__["request"] = gr.Request
            button.click(ask_example, inputs=[turns], **common)
        new_button.click(new_chat, inputs=None, outputs=outputs, api_visibility="private")
    return blocks


# --- plain pages (no Gradio, no script) --------------------------------------------------------


def source_page(document, paragraphs, root_path: str = "") -> str:
    """The cleaned document with numbered paragraphs; `#p<N>` is highlighted by CSS :target."""
    root = root_path.rstrip("/")
    meta = [document.author, document.publisher, document.date, f"collection: {document.collection}", f"{len(paragraphs)} paragraphs"]
    original = safe_url(document.url)
    meta_html = esc(" · ".join(m for m in meta if m))
    if original:
        meta_html += f' · <a href="{esc(original)}" rel="noopener noreferrer">original</a>'
    if any(p.pages for p in paragraphs):
        meta_html += f' · <a href="{esc(root)}/sources/{esc(quote(document.id, safe=""))}/original">the PDF</a>'
    body = []
    section = None
    for p in paragraphs:
        if p.section and p.section != section:
            body.append(f'<h2 class="section">{esc(p.section)}</h2>')
        section = p.section
        label = ""
        if p.comment is not None:
            who = p.comment.author + (f" ({p.comment.role})" if p.comment.role else "") + (f", {p.comment.date}" if p.comment.date else "")
            label = f'<span class="label">Reader comment by {esc(who)}</span>'
        elif p.kind == "header":
            label = '<span class="label">What the document\'s metadata states (its header, citable as ¶0)</span>'
        elif p.kind in NON_CONTENT_KINDS:
            label = f'<span class="label">{esc(NON_CONTENT_LABELS[p.kind])}: never cited in answers</span>'
        if p.pages:
            first, last = p.pages
            where = f"p. {first}" if first == last else f"pp. {first}–{last}"
            label += f'<span class="label page">{where}</span>'
        body.append(
            f'<section class="para" id="p{p.number}" data-paragraph-id="{esc(p.id)}">'
            f'<a class="pnum" href="#p{p.number}" aria-label="paragraph {p.number}">¶{p.number}</a>'
            f'<div>{label}<div class="text">{esc(p.text)}</div></div></section>'
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(document.title)}</title><style>{SOURCE_CSS}</style></head><body>"
        f'<header><a class="back" href="{esc(root)}/">← Back to the chat</a>'
        f"<h1>{esc(document.title)}</h1><div class=\"meta\">{meta_html}</div>"
        f'<div class="meta">Document id: <code>{esc(document.id)}</code></div></header>'
        f'<main>{"".join(body)}</main></body></html>'
    )


def login_page(root_path: str = "", next_path: str = "/", message: str = "") -> str:
    root = root_path.rstrip("/")
    note = f'<p class="error" role="alert">{esc(message)}</p>' if message else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Log in</title>'
        "<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}"
        "input{width:100%;padding:.5rem;margin:.5rem 0;box-sizing:border-box}button{padding:.5rem 1rem}"
        ".error{color:#a40000}</style></head><body><h1>Ask the sources</h1>"
        f"{note}<form method=\"post\" action=\"{esc(root)}/login\">"
        '<label for="token">Access token</label>'
        '<input id="token" name="token" type="password" autocomplete="current-password" required>'
        f'<input type="hidden" name="next" value="{esc(next_path)}">'
        '<button type="submit">Log in</button></form></body></html>'
    )
