// Paged KV block manager of the serving engine. It hands out the block ids of one KV pool,
// refcounts blocks that several sequences share, and remembers full blocks by the chained hash of
// their tokens (xxh64 of the parent hash and the block's token ids, as spec §5) so that a later
// request starting with the same tokens reuses them instead of recomputing them: prefix caching.
// A block whose last user leaves stays cached but evictable; eviction is least recently used.
//
// Only committed tokens are ever hashed: their K/V is AR-exact (spec §4), window slots past them
// are scratch. A full block is registered against its own table entry (the Tencent engine records
// it against the last pre-allocated block instead: spec §5, not copied).
//
// Not thread-safe: the engine loop owns it.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace wedlm {

// One sequence's blocks, in logical order, and the hashes of its registered full blocks.
struct BlockTable {
  std::vector<int32_t> blocks;
  std::vector<uint64_t> hashes;  // hashes[i] for blocks[i], i < hashes.size()
};

struct BlockStats {
  int64_t prefix_queries = 0, prefix_hit_blocks = 0, evictions = 0;
};

class BlockManager {
 public:
  BlockManager(int64_t n_blocks, int64_t block_size);

  int64_t block_size() const { return block_size_; }
  int64_t n_blocks() const { return n_blocks_; }
  // Blocks that an allocation can take now: never used or freed, plus cached ones not in use.
  int64_t n_available() const { return int64_t(free_.size() + lru_.size()); }
  int64_t n_cached() const { return int64_t(cached_.size()); }  // registered full blocks
  const BlockStats& stats() const { return stats_; }
  int32_t refcount(int32_t block) const { return ref_[size_t(block)]; }

  // Starts `table` (empty) with the longest run of cached full blocks that begins `tokens`, at
  // most `max_tokens` of them; takes a reference on each. Returns the tokens they hold.
  int64_t acquire_prefix(std::span<const int32_t> tokens, int64_t max_tokens, BlockTable& table);
  // Blocks needed so that `table` holds `n_slots` token slots (0 if it already does).
  int64_t blocks_needed(const BlockTable& table, int64_t n_slots) const;
  // Grows `table` to hold `n_slots` slots with fresh blocks (evicting cached ones if it must).
  // All or nothing: false, and `table` unchanged, when not enough blocks are available.
  bool grow(BlockTable& table, int64_t n_slots);
  // Registers every full block of `committed` (the sequence's tokens whose K/V is final) that is
  // not registered yet. When an equal block is already cached, `table` keeps its own copy.
  void register_full_blocks(BlockTable& table, std::span<const int32_t> committed);
  // Drops `table`'s references; blocks nobody uses become free (or evictable when cached).
  void release(BlockTable& table);

  // The chained block hash: xxh64 over the parent hash and the block's ids, each 8 bytes LE.
  static uint64_t chain_hash(uint64_t parent, std::span<const int32_t> block_tokens);

 private:
  struct Cached {
    int32_t block;
    uint64_t parent;
    std::vector<int32_t> tokens;
  };
  std::optional<int32_t> take_block();
  void evict(int32_t block);

  int64_t n_blocks_, block_size_;
  std::vector<int32_t> ref_;   // users of each block
  std::vector<int32_t> free_;  // unused and holding nothing cached (a stack)
  std::list<int32_t> lru_;     // unused but cached, least recently released first
  std::vector<std::list<int32_t>::iterator> lru_at_;
  std::vector<std::optional<uint64_t>> hash_of_;  // block -> its registered hash
  std::unordered_map<uint64_t, Cached> cached_;   // hash -> cached block
  BlockStats stats_;
};

}  // namespace wedlm
