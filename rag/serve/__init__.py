"""`rag serve`'s HTTP side: the OpenAI-compatible API and the shelf of articles it manages.

- `api.create_api`: the FastAPI app the Gradio UI mounts on (`ui/server.py`), composed of:
  - `chat`: `/v1/models` and `/v1/chat/completions` (request, conversation, answer views, SSE);
  - `articles`: `/v1/articles` (list, read one whole, upload, delete) and `/health`;
  - `feeds`: `/v1/articles/urls` (pages and feeds by URL), `/v1/feeds`, `/v1/feeds/refresh`;
  - `auth`: the bearer token or HTTP Basic credentials every API route asks for, when set;
  - `limits`: the request body size limit (413 before anything parses the body);
  - `errors`: `ApiError` and the handlers that answer every failure in OpenAI's error shape.
- `shelf.Shelf`: the one writer of a running server: uploads (checked by `uploads`), URLs and
  feed updates, taking turns, each picked up by the assistant at once.
- `refresh.Refresher`: the background feed refresh of `rag serve --refresh MINUTES`, started and
  stopped by the app's lifespan.
"""
