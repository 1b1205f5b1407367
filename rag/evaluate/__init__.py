"""Measuring the assistant: `rag eval`.

- `data`: eval sets (questions, support pairs, conversations) and thresholds, read and split.
- `scoring`: each answer scored against its labels, and the metrics over a run.
- `run`: a run through the same assistant users get; `rgb` builds the RGB suite; `report`
  writes records, metrics, a Markdown report and a chart.
"""
