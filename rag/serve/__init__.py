"""`rag serve`'s HTTP side: the OpenAI-compatible API and the shelf of uploaded articles.

- `api.create_api`: the FastAPI app the Gradio UI mounts on (`ui/server.py`), composed of:
  - `chat`: `/v1/models` and `/v1/chat/completions` (request, conversation, answer views, SSE);
  - `articles`: `/v1/articles` (list, upload, delete) and `/health`;
  - `auth`: the bearer token or HTTP Basic credentials every API route asks for, when set;
  - `limits`: the request body size limit (413 before anything parses the body);
  - `errors`: `ApiError` and the handlers that answer every failure in OpenAI's error shape.
- `shelf.Shelf`: uploads checked, saved and ingested, or rolled back when the ingest refuses.
"""
