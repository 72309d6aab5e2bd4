#include "engine/block_manager.h"

#include <xxhash.h>

#include <algorithm>

#include "core/check.h"

namespace wedlm {

BlockManager::BlockManager(int64_t n_blocks, int64_t block_size)
    : n_blocks_(n_blocks),
      block_size_(block_size),
      ref_(size_t(n_blocks), 0),
      lru_at_(size_t(n_blocks)),
      hash_of_(size_t(n_blocks)) {
  WEDLM_CHECK(n_blocks > 0 && block_size > 0, "a KV pool needs blocks");
  for (int64_t b = n_blocks - 1; b >= 0; --b) free_.push_back(int32_t(b));  // block 0 first
}

uint64_t BlockManager::chain_hash(uint64_t parent, std::span<const int32_t> block_tokens) {
  std::vector<uint8_t> bytes(8 * (block_tokens.size() + 1));
  const auto put = [&](size_t at, uint64_t v) {
    for (int k = 0; k < 8; ++k) bytes[at * 8 + size_t(k)] = uint8_t(v >> (8 * k));
  };
  put(0, parent);
  for (size_t i = 0; i < block_tokens.size(); ++i) put(i + 1, uint64_t(int64_t(block_tokens[i])));
  return XXH64(bytes.data(), bytes.size(), 0);
}

int64_t BlockManager::acquire_prefix(std::span<const int32_t> tokens, int64_t max_tokens,
                                     BlockTable& table) {
  WEDLM_CHECK(table.blocks.empty(), "acquire_prefix starts a table");
  ++stats_.prefix_queries;
  const int64_t limit = std::min<int64_t>(max_tokens, int64_t(tokens.size()));
  uint64_t parent = 0;
  for (int64_t at = 0; at + block_size_ <= limit; at += block_size_) {
    const auto block = tokens.subspan(size_t(at), size_t(block_size_));
    const uint64_t h = chain_hash(parent, block);
    const auto it = cached_.find(h);
    if (it == cached_.end() || it->second.parent != parent ||
        !std::equal(block.begin(), block.end(), it->second.tokens.begin()))
      break;
    const int32_t b = it->second.block;
    if (ref_[size_t(b)]++ == 0) lru_.erase(lru_at_[size_t(b)]);
    table.blocks.push_back(b);
    table.hashes.push_back(h);
    parent = h;
    ++stats_.prefix_hit_blocks;
  }
  return int64_t(table.blocks.size()) * block_size_;
}

int64_t BlockManager::blocks_needed(const BlockTable& table, int64_t n_slots) const {
  const int64_t want = (n_slots + block_size_ - 1) / block_size_;
  return std::max<int64_t>(0, want - int64_t(table.blocks.size()));
}

bool BlockManager::grow(BlockTable& table, int64_t n_slots) {
  const int64_t need = blocks_needed(table, n_slots);
  if (need > n_available()) return false;
  for (int64_t i = 0; i < need; ++i) table.blocks.push_back(*take_block());
  return true;
}

std::optional<int32_t> BlockManager::take_block() {
  int32_t b;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else if (!lru_.empty()) {
    b = lru_.front();
    evict(b);
  } else {
    return std::nullopt;
  }
  ref_[size_t(b)] = 1;
  return b;
}

void BlockManager::evict(int32_t b) {
  lru_.erase(lru_at_[size_t(b)]);
  cached_.erase(*hash_of_[size_t(b)]);
  hash_of_[size_t(b)].reset();
  ++stats_.evictions;
}

void BlockManager::register_full_blocks(BlockTable& table, std::span<const int32_t> committed) {
  for (size_t i = table.hashes.size();
       int64_t(i + 1) * block_size_ <= int64_t(committed.size()) && i < table.blocks.size(); ++i) {
    const uint64_t parent = i == 0 ? 0 : table.hashes[i - 1];
    const auto block = committed.subspan(i * size_t(block_size_), size_t(block_size_));
    const uint64_t h = chain_hash(parent, block);
    table.hashes.push_back(h);
    const int32_t b = table.blocks[i];
    if (cached_.count(h) || hash_of_[size_t(b)]) continue;  // an equal block is cached already
    cached_.emplace(h, Cached{b, parent, std::vector<int32_t>(block.begin(), block.end())});
    hash_of_[size_t(b)] = h;
  }
}

void BlockManager::release(BlockTable& table) {
  for (const int32_t b : table.blocks) {
    WEDLM_CHECK(ref_[size_t(b)] > 0, "block released more often than taken");
    if (--ref_[size_t(b)] > 0) continue;
    if (hash_of_[size_t(b)])
      lru_at_[size_t(b)] = lru_.insert(lru_.end(), b);
    else
      free_.push_back(b);
  }
  table.blocks.clear();
  table.hashes.clear();
}

}  // namespace wedlm
