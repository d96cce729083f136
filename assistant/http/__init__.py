"""The HTTP service, one module per concern, assembled by `app.create_app`:

    shared.py        what every router needs: the shared Assistant, the caller, JSON errors, SSE, chat messages
    schema.py        the OpenAPI models of the Answer JSON, generated from assistant/answer.py
    answers.py       POST /api/ask, /api/ask/stream, /api/chat
    openai.py        GET /v1/models, POST /v1/chat/completions
    sources.py       GET /api/sources, /api/sources/{id}, /sources/{id}
    verify.py        POST /api/verify (claims against passages)
    auth_routes.py   GET|POST /login, GET /logout
    middleware.py    auth, body-size limit and security headers (pure ASGI)
    app.py           create_app: error handlers, health, docs, the routers, batch, middlewares, the chat

`assistant.server` is the public entry point (`create_app`, `assistant serve`).
"""
