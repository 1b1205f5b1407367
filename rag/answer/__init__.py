"""From a question to a checked, cited answer: the path the CLI, the UI, the API and the eval share.

- `assistant.Assistant`: loads the parts once and runs the steps (retrieve, read, draft, check,
  cite), yielding the `events` a reader is shown as they happen.
- `retrieval`: dense and BM25 searches fused by reciprocal rank; `condense` optionally keeps the
  sentences that bear on the question; `prompting` fits passages into the model's context;
  `drafting` streams the model's reply.
"""
