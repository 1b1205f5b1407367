"""From files, web pages and feeds to indexed chunks: read, clean, chunk, embed, write.

- `sources`: finds article files and reads them into `Article`s (text, Markdown, HTML);
  `cleaning` strips site furniture and finds the title and date; `documents` reads PDF (with
  where each page starts) and Word .docx files.
- `fetching`: the HTTP client (timeouts, size cap, redirect limit, content types, `deadline` for
  the whole fetch) and the guard against addresses on this machine or a private network; `web`
  reads a page; `feeds` reads an RSS/Atom feed and asks it again with conditional requests,
  `feed_registry` keeps the followed ones; `by_url` fetches what URLs name, then writes it.
- `watch`: a folder kept in step with the index as files arrive, change and go (`watch_events`:
  the file system's side: events, settling, the folder checks).
- `copies`: near-copies of one story from several outlets, linked into a group (MinHash LSH).
- `chunking`: overlapping chunks that keep their character span in the clean text.
- `indexer`: plans what is new, changed or gone, embeds it and writes it in one transaction
  (`ingest`, `ingest_articles`, `remove_articles`); `ray_workers` parses and embeds on Ray instead.
"""
