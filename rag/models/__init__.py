"""The models: sentence embeddings, and the generation model that answers and checks.

- `embedding.Embedder`: all-MiniLM-L6-v2 (bundled) or a local sentence-transformers folder.
- `chat.ChatModel`: what answering needs from a generation model; `factory.make_generator`
  picks `llama.Generator` (llama.cpp in this process, the GGUF from `gguf`) or
  `remote.RemoteGenerator` (any OpenAI-compatible server) from the settings.
"""
