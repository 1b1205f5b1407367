"""The passage cache's two tiers on their own: bytes in, the same bytes out, or nothing.

The states here are plain bytes; tests/models/test_passage_cache.py stores real llama.cpp states.
"""

from __future__ import annotations

import logging
import os

import pytest

from rag.models.kv_store import KV_FOLDER, KVStore, disk_usage, drop_all, drop_groups, group_folder

TOKENS = [101, 7, 42]
STATE = bytes(range(256)) * 40


def store(folder, *, memory=1 << 20, disk=1 << 20, namespace="ns") -> KVStore:
    return KVStore(folder, namespace, memory_bytes=memory, disk_bytes=disk)


def entry_file(folder, key="k", group="doc", namespace="ns"):
    return folder / KV_FOLDER / namespace / group_folder(group) / f"{key}.kv"


def test_an_entry_comes_back_from_memory_then_from_disk(tmp_path):
    first = store(tmp_path)
    first.put("k", "doc", TOKENS, STATE)
    assert first.get("k", "doc", TOKENS) == STATE
    assert first.stats.memory_hits == 1
    second = store(tmp_path)  # a new process: memory is empty, the disk tier is not
    assert second.get("k", "doc", TOKENS) == STATE
    assert (second.stats.disk_hits, second.stats.misses) == (1, 0)


@pytest.mark.parametrize("damage", ["truncate", "flip", "version", "empty"])
def test_a_damaged_or_stale_file_is_deleted_and_reported_missing(tmp_path, damage, caplog):
    store(tmp_path).put("k", "doc", TOKENS, STATE)
    path = entry_file(tmp_path)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[:len(data) // 2]
    elif damage == "flip":
        data[-5] ^= 0xFF
    elif damage == "version":
        data[6] += 1  # the format version, right after the magic
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    fresh = store(tmp_path)
    with caplog.at_level(logging.WARNING):
        assert fresh.get("k", "doc", TOKENS) is None
    assert fresh.stats.damaged == 1 and not path.exists()
    assert "recomputing" in caplog.text


def test_an_entry_is_used_only_for_the_tokens_it_was_made_from(tmp_path):
    store(tmp_path).put("k", "doc", TOKENS, STATE)
    assert store(tmp_path).get("k", "doc", TOKENS[:-1] + [43]) is None


def test_another_namespace_does_not_see_the_entry(tmp_path):
    store(tmp_path).put("k", "doc", TOKENS, STATE)
    assert store(tmp_path, namespace="other-model").get("k", "doc", TOKENS) is None


def test_memory_keeps_the_most_recently_used_within_its_cap(tmp_path):
    cache = store(None, memory=2 * len(STATE))
    for key in "abc":
        cache.put(key, "doc", TOKENS, STATE)
    assert cache.get("a", "doc", TOKENS) is None  # the oldest went first
    assert cache.get("c", "doc", TOKENS) == STATE
    assert cache.stats.memory_bytes == 2 * len(STATE)


def test_disk_stays_under_its_cap_dropping_the_least_recently_used(tmp_path):
    size = entry_size(tmp_path)
    cache = store(tmp_path, memory=0, disk=3 * size)
    for i, key in enumerate("abc"):
        cache.put(key, "doc", TOKENS, STATE)
        os.utime(entry_file(tmp_path, key), (1000 + i, 1000 + i))
    assert cache.get("a", "doc", TOKENS) == STATE  # read: now the most recently used
    cache.put("d", "doc", TOKENS, STATE)
    assert not entry_file(tmp_path, "b").exists()
    assert all(entry_file(tmp_path, k).exists() for k in "acd")
    assert disk_usage(tmp_path)[1] <= 3 * size


def entry_size(tmp_path) -> int:
    probe = tmp_path / "probe"
    store(probe).put("k", "doc", TOKENS, STATE)
    return disk_usage(probe)[1]


def test_a_folder_it_cannot_write_costs_a_warning_not_the_answer(tmp_path, caplog):
    blocker = tmp_path / "index"
    blocker.write_text("a file where the index folder should be")
    cache = store(blocker)
    with caplog.at_level(logging.WARNING):
        cache.put("k", "doc", TOKENS, STATE)
        cache.put("k2", "doc", TOKENS, STATE)
    assert cache.get("k", "doc", TOKENS) == STATE  # still served from memory
    assert caplog.text.count("cannot write") == 1


def test_dropping_an_article_removes_its_entries_in_every_namespace(tmp_path):
    for namespace in ("one", "two"):
        cache = store(tmp_path, namespace=namespace)
        cache.put("k", "changed", TOKENS, STATE)
        cache.put("k", "kept", TOKENS, STATE)
    assert drop_groups(tmp_path, ["changed"]) == 2
    assert disk_usage(tmp_path)[0] == 2
    assert store(tmp_path, namespace="one").get("k", "kept", TOKENS) == STATE
    drop_all(tmp_path)
    assert disk_usage(tmp_path) == (0, 0)
