"""A prompt assembled from saved KV states: the fixed head, then the passage blocks, so
llama.cpp computes only the question's own tokens (Prompt Cache, Gim et al. 2024). Two ways:

- chained (exact): a block is computed where the prompt has it, after the head and the blocks
  before it, and saved under a key naming that whole chain. A prompt reuses the blocks of the
  longest chain it shares with earlier prompts and computes the rest in place, so its KV cache
  holds what a prefill in the same pieces would: every token attends to what it does when the
  prompt is read whole, only the batches end elsewhere (and round differently, docs/speed.md).
- parallel: a block is computed once right after the head (it sees the head, not the other
  blocks) and reused wherever it goes, moved to its position with `llama_memory_seq_add`
  (llama.cpp re-rotates the keys, its "K-shift"). Every passage is read once, but a block that
  does not see the ones before it changes the answers (docs/speed.md has the measured cost).

A block's cells are copied from sequence 0 to sequence 1 and saved from there; restored into
sequence 1, then copied into sequence 0. Computing a block and reading it back give the same
bytes, so an answer is the same whether its passages were cached or not. Built on
llama-cpp-python's low-level API.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

from rag.models.kv_segments import Segments
from rag.models.kv_store import KVStore, digest
from rag.types import Block

_HEAD_GROUP = "\x00head"  # the head belongs to no article


@dataclass
class SpliceReport:
    cached: int = 0  # blocks read from the store
    computed: int = 0  # blocks the model read now, and stored
    head_cached: bool = False


class Splicer:
    """Fills and reads the store for one llama.cpp context made with two sequences."""

    def __init__(self, llm, store: KVStore, *, chained: bool = True, blend: int = 0) -> None:
        import llama_cpp  # loaded with the model, not with the CLI

        self.lib = llama_cpp
        self.llm = llm
        self.store = store
        self.chained = chained
        self.blend = 0 if chained else blend  # a chained block already sees the ones before it

    def splice(self, segments: Segments) -> SpliceReport:
        """Leave the head and blocks in the KV cache, the model's own bookkeeping matching."""
        for _ in range(2):  # a state llama.cpp refuses is dropped and computed again, once
            report = SpliceReport()
            head = self._head(segments, report)
            if self.chained:
                done = self._splice_chain(segments, head, report)
            else:
                states = [self._block(segments, block, tokens, head, report)
                          for block, tokens in zip(segments.blocks, segments.block_tokens)]
                done = self._assemble(segments, head, states)
            if done:
                return report
        raise RuntimeError("llama.cpp refused freshly computed KV states")

    def warm(self, segments: Segments) -> SpliceReport:
        """Compute and store the blocks the store lacks; the KV cache is left empty."""
        report = SpliceReport()
        head = self._head(segments, report)
        if self.chained:
            if not self._splice_chain(segments, head, report):
                self._splice_chain(segments, head, SpliceReport())
        else:
            for block, tokens in zip(segments.blocks, segments.block_tokens):
                if self.store.has(self.block_key(segments, block), block.group):
                    report.cached += 1
                else:
                    self._block(segments, block, tokens, head, report)
        self._forget_cells()
        return report

    def head_key(self, segments: Segments) -> str:
        return digest("head", segments.head)

    def block_key(self, segments: Segments, block: Block) -> str:
        """A parallel block's key; also the first block's in a chain, where the two agree."""
        return digest("block", self.head_key(segments), block.text)

    def chain_keys(self, segments: Segments) -> list[str]:
        """Each block's key in a chain: it names the head and every block up to this one."""
        keys = [self.block_key(segments, segments.blocks[0])]
        for block in segments.blocks[1:]:
            keys.append(digest("chain", keys[-1], block.text))
        return keys

    # -- chained -------------------------------------------------------------------------------

    def _splice_chain(self, segments: Segments, head: bytes, report: SpliceReport) -> bool:
        """Restore the longest stored chain of this prompt's blocks, then compute and store
        the others in place, after it."""
        keys = self.chain_keys(segments)
        parts = list(zip(segments.blocks, segments.block_tokens, keys))
        states = []
        for block, tokens, key in parts:
            state = self.store.get(key, block.group, tokens)
            if state is None:
                break
            states.append(state)
        h = len(segments.head_tokens)
        self._forget_cells()
        if not self._restore(head, 0, 0, h):
            self.store.discard(self.head_key(segments), _HEAD_GROUP)
            return False
        position = h
        for (block, tokens, key), state in zip(parts, states):
            if not self._restore(state, 1, position, position + len(tokens)):
                self.store.discard(key, block.group)
                return False
            self.lib.llama_memory_seq_cp(self._memory(), 1, 0, -1, -1)
            self.lib.llama_memory_seq_rm(self._memory(), 1, -1, -1)
            position += len(tokens)
        report.cached += len(states)
        self.llm.input_ids[:position] = segments.spliced_tokens[:position]
        self.llm.n_tokens = position
        for block, tokens, key in parts[len(states):]:
            self.llm.eval(tokens)
            self.store.put(key, block.group, tokens, self._copy_out(position, len(tokens)))
            report.computed += 1
            position += len(tokens)
        self.llm._requires_eval = True  # the next logits come from decoding the tail
        return True

    def _copy_out(self, first: int, n: int) -> bytes:
        """The saved state of sequence 0's cells first..first+n-1 (left in place)."""
        mem = self._memory()
        self.lib.llama_memory_seq_cp(mem, 0, 1, first, first + n)
        state = self._save(1)
        self.lib.llama_memory_seq_rm(mem, 1, -1, -1)
        return state

    # -- the head; parallel blocks -------------------------------------------------------------

    def _head(self, segments: Segments, report: SpliceReport) -> bytes:
        key = self.head_key(segments)
        head = self.store.get(key, _HEAD_GROUP, segments.head_tokens)
        report.head_cached = head is not None
        if head is None:
            self._forget_cells()
            self.llm.eval(segments.head_tokens)
            head = self._save(0)
            self.store.put(key, _HEAD_GROUP, segments.head_tokens, head)
            self._forget_cells()
        return head

    def _block(self, segments: Segments, block: Block, tokens: list[int], head: bytes,
               report: SpliceReport) -> bytes:
        key = self.block_key(segments, block)
        state = self.store.get(key, block.group, tokens)
        if state is not None:
            report.cached += 1
            return state
        if self.llm.n_tokens != len(segments.head_tokens) or not self._head_in_place(segments):
            self._restore_head(head, segments)
        state = self._compute_block(segments, tokens)
        self.store.put(key, block.group, tokens, state)
        report.computed += 1
        return state

    def _head_in_place(self, segments: Segments) -> bool:
        h = len(segments.head_tokens)
        return (list(self.llm.input_ids[:h]) == segments.head_tokens
                and self.lib.llama_memory_seq_pos_min(self._memory(), 0) == 0)

    def _compute_block(self, segments: Segments, tokens: list[int]) -> bytes:
        """The block's cells as they are after the head: evaluated in sequence 0, saved from 1.
        The head is in sequence 0 and stays there."""
        self.llm.eval(tokens)
        state = self._copy_out(len(segments.head_tokens), len(tokens))
        self.llm.n_tokens = len(segments.head_tokens)  # the next eval drops this block's cells
        return state

    # -- parallel: reading ---------------------------------------------------------------------

    def _assemble(self, segments: Segments, head: bytes, blocks: list[bytes]) -> bool:
        h = len(segments.head_tokens)
        self._forget_cells()
        if not self._restore(head, 0, 0, h):
            self.store.discard(self.head_key(segments), _HEAD_GROUP)
            return False
        mem = self._memory()
        position = h
        for block, tokens, state in zip(segments.blocks, segments.block_tokens, blocks):
            if not self._restore(state, 1, h, h + len(tokens)):
                self.store.discard(self.block_key(segments, block), block.group)
                return False
            if position != h:
                self.lib.llama_memory_seq_add(mem, 1, -1, -1, position - h)
            self.lib.llama_memory_seq_cp(mem, 1, 0, -1, -1)
            self.lib.llama_memory_seq_rm(mem, 1, -1, -1)
            position += len(tokens)
        if self.blend:
            self._recompute_boundaries(segments)
        spliced = segments.spliced_tokens
        self.llm.input_ids[:len(spliced)] = spliced
        self.llm.n_tokens = len(spliced)
        self.llm._requires_eval = True  # the next logits come from decoding the tail
        return True

    def _recompute_boundaries(self, segments: Segments) -> None:
        """Compute again the `blend` tokens on each side of every seam between two blocks, now
        with the blocks before them in view (a training-free repair in the spirit of APE and
        CacheBlend): each span is decoded in sequence 1 over sequence 0's earlier cells, then
        replaces its cells in sequence 0. The first block sees only the head, as in a full
        prefill, and is left exact."""
        mem = self._memory()
        tokens = segments.spliced_tokens
        seam = len(segments.head_tokens)
        spans = []
        for before, after in zip(segments.block_tokens, segments.block_tokens[1:]):
            seam += len(before)
            spans.append((seam - min(self.blend, len(before) - 1),
                          seam + min(self.blend, len(after))))
        for start, end in spans:
            self.lib.llama_memory_seq_cp(mem, 0, 1, 0, start)
            self._decode(tokens[start:end], start, seq=1)
            self.lib.llama_memory_seq_rm(mem, 0, start, end)
            self.lib.llama_memory_seq_cp(mem, 1, 0, start, end)
            self.lib.llama_memory_seq_rm(mem, 1, -1, -1)

    def _decode(self, tokens: list[int], first: int, seq: int) -> None:
        batch = self.llm._batch.batch
        for i, token in enumerate(tokens):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, first + i, 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = i == len(tokens) - 1
        batch.n_tokens = len(tokens)
        self.llm._ctx.decode(self.llm._batch)

    def _restore_head(self, head: bytes, segments: Segments) -> None:
        h = len(segments.head_tokens)
        self._forget_cells()
        if not self._restore(head, 0, 0, h):
            self.llm.eval(segments.head_tokens)  # a head llama.cpp refused: read it again
        self.llm.input_ids[:h] = segments.head_tokens
        self.llm.n_tokens = h

    def _restore(self, state: bytes, seq: int, first: int, end: int) -> bool:
        """Restore a saved sequence and check it holds positions first..end-1."""
        if not state:
            return False
        buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if self.lib.llama_state_seq_set_data(self._ctx(), buffer, len(state), seq) == 0:
            return False
        mem = self._memory()
        ok = (self.lib.llama_memory_seq_pos_min(mem, seq) == first
              and self.lib.llama_memory_seq_pos_max(mem, seq) == end - 1)
        if not ok:
            self.lib.llama_memory_seq_rm(mem, seq, -1, -1)
        return ok

    def _save(self, seq: int) -> bytes:
        ctx = self._ctx()
        size = self.lib.llama_state_seq_get_size(ctx, seq)
        buffer = (ctypes.c_uint8 * size)()
        written = self.lib.llama_state_seq_get_data(ctx, buffer, size, seq)
        return ctypes.string_at(buffer, written)

    def _forget_cells(self) -> None:
        self.lib.llama_memory_clear(self._memory(), True)
        self.llm.n_tokens = 0

    def _ctx(self):
        return self.llm._ctx.ctx

    def _memory(self):
        return self.lib.llama_get_memory(self._ctx())
