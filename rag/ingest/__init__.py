"""From files to indexed chunks: read, clean, chunk, embed, write.

- `sources`: finds article files and reads them into `Article`s (text, Markdown, HTML);
  `cleaning` strips site furniture and finds the title and date.
- `chunking`: overlapping chunks that keep their character span in the clean text.
- `indexer`: plans what is new, changed or gone, embeds it and writes it in one transaction
  (`ingest`, `remove_articles`); `ray_workers` parses and embeds on Ray instead.
"""
