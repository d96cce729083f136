"""The source routes: GET /api/sources (the documents the caller may see), /api/sources/{id} (one
document with its paragraphs), /sources/{id} (the HTML source view; `#p<N>` highlights a
paragraph) and /sources/{id}/original (the original PDF, which a citation opens at its page with
`#page=N`). A document outside the caller's collections is a 404, the same as a missing one."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.auth import Caller
from assistant.http.shared import caller_scope, current_assistant


def _document_dict(d) -> dict:
    return {
        "id": d.id, "title": d.title, "publisher": d.publisher, "author": d.author, "date": d.date, "url": d.url, "reference": d.reference,
        "collection": d.collection, "paragraphs": d.paragraph_count,
    }


def _visible_document(assistant, document_id: str, caller: Caller):
    document = assistant.index.document(document_id)
    if document is None or not caller.allows(document.collection):
        # the same answer for "does not exist" and "not yours": existence is not leaked
        raise StarletteHTTPException(404, f"no document {document_id!r}")
    return document


def router() -> APIRouter:
    routes = APIRouter(tags=["sources"])

    @routes.get("/api/sources", summary="The documents the caller may see")
    def list_sources(caller: Caller = Depends(caller_scope), assistant=Depends(current_assistant)):
        return [_document_dict(d) for d in assistant.index.documents(caller.restrict(None))]

    @routes.get("/api/sources/{document_id}", summary="One document and its paragraphs")
    def get_source(document_id: str, request: Request, caller: Caller = Depends(caller_scope),
                   assistant=Depends(current_assistant)):
        document = _visible_document(assistant, document_id, caller)
        root_path = request.app.state.config.root_path.rstrip("/")
        data = _document_dict(document)
        data["paragraphs"] = [
            {
                "id": p.id, "number": p.number, "text": p.text, "section": p.section, "kind": p.kind,
                "comment": p.comment.__dict__ if p.comment else None, "pages": p.pages,
                "view": f"{root_path}/sources/{document.id}#p{p.number}",
            }
            for p in assistant.index.paragraphs_of(document.id)
        ]
        return data

    @routes.get("/sources/{document_id}", response_class=HTMLResponse,
                summary="The source view (HTML); #p<N> highlights paragraph N")
    def source_view(document_id: str, request: Request, caller: Caller = Depends(caller_scope),
                    assistant=Depends(current_assistant)):
        from assistant.ui import source_page

        document = _visible_document(assistant, document_id, caller)
        page = source_page(document, assistant.index.paragraphs_of(document.id), request.scope.get("root_path", ""))
        csp = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
            f"form-action 'none'; frame-ancestors {request.app.state.frame_ancestors}"
        )
        return HTMLResponse(page, headers={"Content-Security-Policy": csp})

    @routes.get("/sources/{document_id}/original", summary="The original PDF of a document (PDF documents only)",
                response_class=FileResponse)
    def original_file(document_id: str, caller: Caller = Depends(caller_scope), assistant=Depends(current_assistant)):
        document = _visible_document(assistant, document_id, caller)
        path = Path(document.path)
        # Only PDFs are served: they are what citations open at a page; other formats have the source view.
        if path.suffix.lower() != ".pdf" or not path.is_file():
            raise StarletteHTTPException(404, f"no original PDF for {document_id!r}")
        # inline: the browser's own viewer opens it and honours #page=N. In server mode the file is where the
        # ingest job read it: a replica without that folder answers 404 (docs/deploy.md).
        return FileResponse(path, media_type="application/pdf", content_disposition_type="inline",
                            filename=f"{document.id}.pdf", headers={"X-Content-Type-Options": "nosniff"})

    return routes
