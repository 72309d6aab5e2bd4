// The serving engine's KV block manager, with no weights: allocation, chained-hash prefix hits,
// refcounts, LRU eviction of cached blocks, and no leaks over many random requests.
#include <numeric>
#include <random>

#include <gtest/gtest.h>

#include "engine/block_manager.h"

namespace wedlm {
namespace {

std::vector<int32_t> iota_tokens(int n, int32_t first = 100) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), first);
  return t;
}

TEST(BlockManager, GrowIsAllOrNothingAndReleaseReturnsEveryBlock) {
  BlockManager bm(4, 16);
  BlockTable a, b;
  EXPECT_EQ(bm.blocks_needed(a, 33), 3);
  ASSERT_TRUE(bm.grow(a, 33));
  EXPECT_EQ(a.blocks.size(), 3u);
  EXPECT_TRUE(bm.grow(a, 48));  // already held
  EXPECT_EQ(bm.n_available(), 1);
  EXPECT_FALSE(bm.grow(b, 17));  // needs 2, 1 left: nothing taken
  EXPECT_TRUE(b.blocks.empty());
  EXPECT_EQ(bm.n_available(), 1);
  bm.release(a);
  EXPECT_EQ(bm.n_available(), 4);
  EXPECT_TRUE(a.blocks.empty());
}

TEST(BlockManager, SecondRequestReusesTheFullBlocksOfTheFirst) {
  BlockManager bm(8, 16);
  const auto tokens = iota_tokens(40);
  BlockTable a;
  EXPECT_EQ(bm.acquire_prefix(tokens, 40, a), 0);  // cold
  ASSERT_TRUE(bm.grow(a, 40 + 32));
  bm.register_full_blocks(a, tokens);  // 2 full blocks of 16; the 8 left over are not hashed
  EXPECT_EQ(bm.n_cached(), 2);
  const std::vector<int32_t> first_two(a.blocks.begin(), a.blocks.begin() + 2);
  bm.release(a);
  EXPECT_EQ(bm.n_available(), 8);  // cached blocks are still available to allocations

  auto turn2 = iota_tokens(40);
  turn2.push_back(7);  // the same conversation, one token longer
  BlockTable b;
  EXPECT_EQ(bm.acquire_prefix(turn2, int64_t(turn2.size()), b), 32);
  EXPECT_EQ(b.blocks, first_two);
  EXPECT_EQ(bm.refcount(first_two[0]), 1);
  EXPECT_EQ(bm.n_available(), 6);  // in use again: not evictable
  EXPECT_EQ(bm.stats().prefix_hit_blocks, 2);
}

TEST(BlockManager, HitsStopAtTheFirstDifferenceAndFollowTheChain) {
  BlockManager bm(8, 4);
  const auto tokens = iota_tokens(12);
  BlockTable a;
  ASSERT_TRUE(bm.grow(a, 12));
  bm.register_full_blocks(a, tokens);
  EXPECT_EQ(bm.n_cached(), 3);

  auto second_differs = tokens;
  second_differs[5] = 0;
  BlockTable b;
  EXPECT_EQ(bm.acquire_prefix(second_differs, 12, b), 4);
  bm.release(b);
  auto first_differs = tokens;  // blocks 2 and 3 equal, but their chain differs
  first_differs[0] = 0;
  EXPECT_EQ(bm.acquire_prefix(first_differs, 12, b), 0);
  EXPECT_EQ(bm.acquire_prefix(tokens, 11, b = {}), 8) << "max_tokens caps the hit";
  EXPECT_EQ(bm.refcount(a.blocks[0]), 2) << "shared by a and b";
  bm.release(a);
  EXPECT_EQ(bm.refcount(b.blocks[0]), 1);
  EXPECT_NE(BlockManager::chain_hash(0, std::vector<int32_t>{1, 2}),
            BlockManager::chain_hash(1, std::vector<int32_t>{1, 2}));
}

TEST(BlockManager, CachedBlocksAreEvictedLeastRecentlyReleasedFirst) {
  BlockManager bm(3, 2);
  const std::vector<int32_t> x = {1, 2}, y = {3, 4}, z = {5, 6};
  for (const auto* t : {&x, &y}) {
    BlockTable s;
    ASSERT_TRUE(bm.grow(s, 2));
    bm.register_full_blocks(s, *t);
    bm.release(s);  // x released first, then y
  }
  BlockTable big;
  ASSERT_TRUE(bm.grow(big, 4));  // the never-used block, then the oldest cached one (x)
  EXPECT_EQ(bm.stats().evictions, 1);
  BlockTable probe;
  EXPECT_EQ(bm.acquire_prefix(x, 2, probe), 0);
  EXPECT_EQ(bm.acquire_prefix(y, 2, probe), 2);
  bm.release(probe);
  bm.release(big);
  BlockTable s;
  ASSERT_TRUE(bm.grow(s, 2));
  bm.register_full_blocks(s, z);
  EXPECT_EQ(bm.n_cached(), 2);
}

TEST(BlockManager, AnEqualBlockComputedTwiceIsCachedOnce) {
  BlockManager bm(4, 2);
  const std::vector<int32_t> t = {9, 9};
  BlockTable a, b;
  ASSERT_TRUE(bm.grow(a, 2) && bm.grow(b, 2));
  bm.register_full_blocks(a, t);
  bm.register_full_blocks(b, t);
  EXPECT_EQ(bm.n_cached(), 1);
  bm.release(a);
  bm.release(b);
  EXPECT_EQ(bm.n_available(), 4);
  BlockTable c;
  EXPECT_EQ(bm.acquire_prefix(t, 2, c), 2);
  EXPECT_EQ(c.blocks[0], 0) << "the copy registered first";
}

// 1000 requests of random prompts from a few shared prefixes, growing as they decode and
// released in random order: no block leaks, refcounts return to zero, the cache stays bounded.
TEST(BlockManager, NoLeakAfterAThousandRandomRequests) {
  BlockManager bm(64, 4);
  std::mt19937 rng(3);
  std::vector<std::pair<BlockTable, std::vector<int32_t>>> live;
  int64_t hits = 0;
  for (int r = 0; r < 1000; ++r) {
    std::vector<int32_t> toks = iota_tokens(int(rng() % 12), int32_t(rng() % 3) * 1000);
    for (int k = int(rng() % 10); k > 0; --k) toks.push_back(int32_t(rng() % 50));
    BlockTable t;
    hits += bm.acquire_prefix(toks, int64_t(toks.size()), t);
    if (!bm.grow(t, int64_t(toks.size()) + 8)) {  // overloaded: the request would wait
      bm.release(t);
    } else {
      bm.register_full_blocks(t, toks);
      live.emplace_back(std::move(t), std::move(toks));
    }
    while (!live.empty() && (live.size() > 6 || rng() % 3 == 0)) {
      const size_t i = rng() % live.size();
      bm.release(live[i].first);
      live.erase(live.begin() + long(i));
    }
  }
  for (auto& [t, toks] : live) bm.release(t);
  EXPECT_EQ(bm.n_available(), 64);
  for (int32_t b = 0; b < 64; ++b) EXPECT_EQ(bm.refcount(b), 0);
  EXPECT_LE(bm.n_cached(), 64);
  EXPECT_GT(hits, 0);
}

}  // namespace
}  // namespace wedlm
