/*
 * "Ask the sources": the intranet widget of the cited assistant (served as GET /widget.js by
 * assistant/widget.py). One tag on a page, no script of its own:
 *
 *   <script src="https://intranet.example.org/assistant/widget.js" defer
 *           data-token="optional bearer token" data-collections="optional,comma,list"></script>
 *
 * It finds the assistant from its own URL (so a sub-path works), adds a button and a chat panel in a
 * shadow root (the page's CSS does not reach in), and asks POST /api/chat with "stream": true,
 * showing the checked sentences as they arrive and then the answer with its [n] citations linked to
 * the source view (and to the PDF at its page). Every text from the server is set with textContent:
 * a source holding <script> shows it as text. No eval, no inline style attributes, no style element
 * where the browser has constructed stylesheets: it runs under a strict Content-Security-Policy.
 */
(function () {
  "use strict";

  const script = document.currentScript;
  if (!script || !script.src) return;
  const base = new URL(".", script.src); // the assistant's root, sub-path included
  const token = (script.getAttribute("data-token") || "").trim();
  const collections = (script.getAttribute("data-collections") || "")
    .split(",").map((c) => c.trim()).filter(Boolean);
  const TITLE = "Ask the sources";

  const CSS = `
:host { all: initial !important; }
.widget, .widget * { box-sizing: border-box; }
.widget { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1b1f24; letter-spacing: normal; text-align: left; }
button, textarea { font: inherit; color: inherit; letter-spacing: inherit; margin: 0; }
a { color: #0b57c2; text-decoration: underline; }
a:focus-visible, button:focus-visible, textarea:focus-visible { outline: 3px solid #f2b600; outline-offset: 2px; }
.launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; padding: 12px 18px;
  border: 0; border-radius: 999px; background: #1f5fbf; color: #fff; font-weight: 600; cursor: pointer;
  box-shadow: 0 4px 14px rgba(0, 0, 0, .25); }
.launcher:hover { background: #174c9b; }
.panel { position: fixed; right: 20px; bottom: 80px; z-index: 2147483001; display: flex; flex-direction: column;
  width: min(420px, calc(100vw - 40px)); height: min(640px, calc(100vh - 100px));
  background: #fff; border: 1px solid #c9d1db; border-radius: 12px; overflow: hidden;
  box-shadow: 0 10px 34px rgba(0, 0, 0, .28); }
.panel[hidden], .launcher[hidden] { display: none; }
.head { display: flex; align-items: center; justify-content: space-between; gap: 8px; padding: 10px 12px;
  background: #1f5fbf; color: #fff; }
.head h2 { margin: 0; font-size: 16px; font-weight: 600; }
.close { border: 0; background: transparent; color: #fff; font-size: 22px; line-height: 1; padding: 2px 8px;
  cursor: pointer; border-radius: 6px; }
.log { flex: 1; overflow-y: auto; padding: 12px; background: #f6f8fa; }
.empty { margin: 0; color: #57606a; }
.msg { margin: 0 0 12px; padding: 8px 10px; border-radius: 10px; background: #fff; border: 1px solid #d8dee4; }
.msg.user { margin-left: 15%; background: #e7f0fd; border-color: #c5d9f6; }
.msg p { margin: 0 0 6px; white-space: pre-wrap; overflow-wrap: anywhere; }
.msg p:last-child { margin-bottom: 0; }
.msg.pending .answer::after { content: "\\258D"; }
.msg.abstained { border-style: dashed; background: #fffaf0; }
.msg.failed { border-color: #cf222e; background: #fff5f5; }
.badge { display: inline-block; margin: 0 0 6px; padding: 1px 8px; border-radius: 999px; font-size: 12px;
  font-weight: 600; background: #fdf0d5; color: #7a4d00; }
.msg.failed .badge { background: #ffe3e3; color: #a40e26; }
.cite { font-weight: 600; text-decoration: none; }
.notice, .searched { margin: 6px 0 0; font-size: 13px; color: #57606a; }
.sources { margin: 8px 0 0; padding: 0; list-style: none; font-size: 13px; }
.sources li { margin: 6px 0 0; padding: 6px 0 0; border-top: 1px solid #eaeef2; overflow-wrap: anywhere; }
.sources .meta { color: #57606a; }
.sources blockquote { margin: 4px 0; padding: 0 0 0 8px; border-left: 3px solid #d0d7de; color: #333; }
.nearest-label { margin: 8px 0 0; font-size: 13px; font-weight: 600; color: #57606a; }
.form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #d8dee4; background: #fff; }
.form textarea { flex: 1; min-width: 0; min-height: 44px; max-height: 140px; resize: vertical; padding: 8px;
  border: 1px solid #8c959f; border-radius: 8px; background: #fff; }
.send { padding: 8px 14px; border: 0; border-radius: 8px; background: #1f5fbf; color: #fff; font-weight: 600;
  cursor: pointer; }
.send:disabled { background: #8c959f; cursor: progress; }
@media (max-width: 600px) {
  .launcher { right: 12px; bottom: 12px; }
  .panel { inset: 0; width: 100vw; height: 100vh; height: 100dvh; border: 0; border-radius: 0; }
  .msg.user { margin-left: 8%; }
}`;

  // --- DOM helpers: text only ever goes in through textContent --------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function link(href, text, className) {
    const a = el("a", className, text);
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener";
    return a;
  }

  function sourceHref(documentId, paragraph) {
    return new URL(`sources/${encodeURIComponent(documentId)}#p${Number(paragraph)}`, base).href;
  }

  function pdfHref(documentId, page, quote) {
    // as the chat does: #page=N, and pdf.js-based viewers also take the quote's first words
    const words = String(quote || "").split(" \u2026 ")[0].split(/\s+/).filter(Boolean).slice(0, 8).join(" ");
    const search = words ? `&search=${encodeURIComponent(words)}` : "";
    return new URL(`sources/${encodeURIComponent(documentId)}/original#page=${Number(page)}${search}`, base).href;
  }

  function location(citation) {
    return `\u00b6${citation.paragraph}` + (citation.page ? `, p. ${citation.page}` : "");
  }

  function applyStyles(root) {
    // A constructed stylesheet is not an inline <style>, so a page's CSP needs no 'unsafe-inline' for it.
    if ("adoptedStyleSheets" in Document.prototype && "replaceSync" in CSSStyleSheet.prototype) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else {
      root.appendChild(el("style", null, CSS));
    }
  }

  // --- the widget -----------------------------------------------------------------------------------------

  function build() {
    const host = document.createElement("ask-the-sources");
    const root = host.attachShadow({ mode: "open" });
    applyStyles(root);
    const widget = el("div", "widget");

    const launcher = el("button", "launcher", TITLE);
    launcher.type = "button";
    launcher.setAttribute("aria-haspopup", "dialog");
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", "ats-panel");

    const panel = el("div", "panel");
    panel.id = "ats-panel";
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-labelledby", "ats-title");

    const head = el("div", "head");
    const title = el("h2", null, TITLE);
    title.id = "ats-title";
    const close = el("button", "close", "\u00d7");
    close.type = "button";
    close.setAttribute("aria-label", "Close");
    head.append(title, close);

    const log = el("div", "log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    log.append(el("p", "empty", "Ask a question: the answer cites the paragraphs it rests on."));

    const form = el("form", "form");
    const question = el("textarea");
    question.name = "question";
    question.rows = 2;
    question.setAttribute("aria-label", "Question");
    question.placeholder = "Ask a question about the sources";
    const send = el("button", "send", "Send");
    send.type = "submit";
    form.append(question, send);

    panel.append(head, log, form);
    widget.append(launcher, panel);
    root.append(widget);
    document.body.appendChild(host);

    const history = []; // the conversation so far: follow-up questions are asked with it

    function open() {
      panel.hidden = false;
      launcher.setAttribute("aria-expanded", "true");
      question.focus();
    }

    function shut() {
      panel.hidden = true;
      launcher.setAttribute("aria-expanded", "false");
      launcher.focus();
    }

    launcher.addEventListener("click", () => (panel.hidden ? open() : shut()));
    close.addEventListener("click", shut);
    widget.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !panel.hidden) {
        event.preventDefault();
        shut();
      }
    });
    question.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = question.value.trim();
      if (!text || send.disabled) return;
      question.value = "";
      ask(text);
    });

    async function ask(text) {
      const empty = log.querySelector(".empty");
      if (empty) empty.remove();
      const user = el("div", "msg user");
      user.append(el("p", null, text));
      const bot = el("div", "msg bot pending");
      const answerText = el("p", "answer");
      bot.append(answerText);
      log.append(user, bot);
      log.scrollTop = log.scrollHeight;
      send.disabled = true;
      bot.setAttribute("aria-busy", "true");
      try {
        const messages = history.concat([{ role: "user", content: text }]);
        const answer = await stream(messages, (piece) => {
          answerText.textContent += piece;
          log.scrollTop = log.scrollHeight;
        });
        render(bot, answer);
        history.push({ role: "user", content: text }, { role: "assistant", content: answer.answer });
      } catch (error) {
        bot.replaceChildren();
        bot.className = "msg bot failed";
        bot.append(el("span", "badge", "Not answered"), el("p", "answer", error.message));
        if (error.status === 401) {
          const signIn = el("p", "notice");
          signIn.append(link(new URL("login", base).href, "Sign in to the assistant"), " and ask again.");
          bot.append(signIn);
        }
      } finally {
        bot.removeAttribute("aria-busy");
        send.disabled = false;
        log.scrollTop = log.scrollHeight;
      }
    }
  }

  // --- the API: POST /api/chat with "stream": true (server-sent events) ------------------------------------

  function failure(message, status) {
    const error = new Error(message);
    error.status = status;
    return error;
  }

  async function stream(messages, onPiece) {
    const headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const body = { messages, stream: true };
    if (collections.length) body.collections = collections;
    let response;
    try {
      response = await fetch(new URL("api/chat", base), {
        method: "POST", mode: "cors", credentials: "include", headers, body: JSON.stringify(body),
      });
    } catch (error) {
      throw failure("The assistant could not be reached from this page.", 0);
    }
    if (!response.ok) {
      let message = `The assistant answered ${response.status}.`;
      try {
        message = (await response.json()).error.message || message;
      } catch (ignored) { /* not JSON: keep the status */ }
      throw failure(message, response.status);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let answer = null;
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      buffer = buffer.replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = parseEvent(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (event.name === "delta") onPiece(event.data.text || "");
        else if (event.name === "answer") answer = event.data;
        else if (event.name === "error") throw failure(event.data.error.message, event.data.error.status);
      }
      if (done) break;
    }
    if (!answer) throw failure("The answer stream ended early.", 0);
    return answer;
  }

  function parseEvent(block) {
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) name = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    return { name, data: data.length ? JSON.parse(data.join("\n")) : {} };
  }

  // --- rendering a finished answer -------------------------------------------------------------------------

  function answerParagraph(answer) {
    const byMarker = new Map((answer.citations || []).map((c) => [Number(c.marker), c]));
    const p = el("p", "answer");
    const parts = String(answer.answer || "").split(/(\[\d+\])/);
    for (const part of parts) {
      const marker = /^\[(\d+)\]$/.exec(part);
      const citation = marker && byMarker.get(Number(marker[1]));
      if (citation) {
        const a = link(sourceHref(citation.document_id, citation.paragraph), part, "cite");
        a.title = `${citation.title}, ${location(citation)}: ${citation.quote}`;
        p.append(a);
      } else if (part) {
        p.append(document.createTextNode(part));
      }
    }
    return p;
  }

  function citationItem(citation) {
    const li = el("li", "source");
    li.dataset.paragraphId = citation.paragraph_id;
    const headLine = el("div");
    headLine.append(`[${citation.marker}] `,
      link(sourceHref(citation.document_id, citation.paragraph), citation.title || citation.document_id, "source-title"));
    const meta = [citation.publisher, citation.date, location(citation)].filter(Boolean).join(" \u00b7 ");
    li.append(headLine, el("div", "meta", meta), el("blockquote", null, citation.quote || citation.text));
    if (citation.page) {
      li.append(link(pdfHref(citation.document_id, citation.page, citation.quote), `Open the PDF at p. ${citation.page}`,
        "open-pdf"));
    }
    return li;
  }

  function nearestList(answer) {
    const list = el("ul", "sources nearest");
    for (const near of answer.nearest || []) {
      const li = el("li");
      const found = /^(.*)#p(\d+)$/.exec(near.paragraph_id || "");
      if (found) li.append(link(sourceHref(found[1], found[2]), `${near.title}, \u00b6${found[2]}`), ": ");
      else li.append(`${near.title}: `);
      const text = String(near.text || "");
      li.append(text.length > 320 ? `${text.slice(0, 320)} \u2026` : text);
      list.append(li);
    }
    return list;
  }

  function render(bot, answer) {
    const status = answer.status || (answer.abstained ? "abstained" : "answered");
    bot.className = `msg bot ${status}`;
    bot.replaceChildren();
    if (status === "abstained") bot.append(el("span", "badge", "Not in the sources"));
    if (status === "failed") bot.append(el("span", "badge", "Not answered"));
    bot.append(answerParagraph(answer));
    const searched = String(answer.searched_for || "");
    if (searched && searched.trim().toLowerCase() !== String(answer.question || "").trim().toLowerCase()) {
      bot.append(el("p", "searched", `Searched for: \u201c${searched}\u201d`));
    }
    if (answer.notice) bot.append(el("p", "notice", answer.notice));
    if ((answer.citations || []).length) {
      const list = el("ol", "sources");
      list.setAttribute("aria-label", "Sources");
      for (const citation of answer.citations) list.append(citationItem(citation));
      bot.append(list);
    } else if ((answer.nearest || []).length) {
      bot.append(el("p", "nearest-label", "Nearest passages, not an answer"), nearestList(answer));
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", build);
  else build();
})();
