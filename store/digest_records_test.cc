// The build digest cache records of the store ("f" + key): written in one
// batch, read many at once, pruned by gc by their last use (the value's first
// 8 bytes), the rest of the value being the builder's.
#include <gtest/gtest.h>

#include <atomic>

#include "base/coding.h"
#include "store/store.h"
#include "store/testing/temp_store.h"

namespace cfs {
namespace {

// The real Env with its clock moved by offset_us (it still runs: RocksDB
// reads it too).
class ClockEnv : public EnvWrapper {
 public:
  ClockEnv() : EnvWrapper(Env::Default()) {}
  uint64_t NowMicros() override { return target()->NowMicros() + offset_us.load(); }
  std::atomic<uint64_t> offset_us{0};
};

std::string Used(uint64_t unix_s, const std::string& rest) {
  std::string v;
  PutFixed64(&v, unix_s);
  return v + rest;
}

class DigestRecordsTest : public testing::TempStoreTest {};

TEST_F(DigestRecordsTest, PutThenGetMany) {
  ASSERT_TRUE(store_->PutDigestRecords({{"/ctx/a", Used(1, "A")}, {"/ctx/b", Used(2, "B")}}).ok());
  auto v = store_->GetDigestRecords({"/ctx/b", "/ctx/none", "/ctx/a"});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->size(), 3u);
  EXPECT_EQ((*v)[0], Used(2, "B"));
  EXPECT_FALSE((*v)[1].has_value());
  EXPECT_EQ((*v)[2], Used(1, "A"));
  ASSERT_TRUE(store_->PutDigestRecords({{"/ctx/a", Used(3, "A2")}}).ok());
  EXPECT_EQ((*store_->GetDigestRecords({"/ctx/a"}))[0], Used(3, "A2")) << "the last write wins";
  EXPECT_TRUE(store_->PutDigestRecords({}).ok());
  EXPECT_TRUE(store_->GetDigestRecords({})->empty());
}

TEST_F(DigestRecordsTest, GcPrunesUnusedAndShortRecordsOnly) {
  ClockEnv clock;
  clock.offset_us = uint64_t{365} * 86400 * 1'000'000;  // a year ahead: no record from now is old
  store_.reset();
  StoreOptions o;
  o.env = &clock;
  store_ = OpenStore("root", o);
  ASSERT_NE(store_, nullptr);
  const uint64_t max_age = uint64_t{86400} * Store::kDigestRecordMaxAgeDays;
  const uint64_t now_s = clock.NowMicros() / 1'000'000;
  ASSERT_TRUE(store_
                  ->PutDigestRecords({{"/old", Used(now_s - max_age - 1, "x")},
                                      {"/recent", Used(now_s - max_age + 3600, "x")},
                                      {"/fresh", Used(now_s, "x")},
                                      {"/short", "1234567"}})
                  .ok());
  auto g = store_->Gc();
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->digest_records_removed, 2u);
  auto v = store_->GetDigestRecords({"/old", "/recent", "/fresh", "/short"});
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE((*v)[0].has_value());
  EXPECT_TRUE((*v)[1].has_value());
  EXPECT_TRUE((*v)[2].has_value());
  EXPECT_FALSE((*v)[3].has_value());
}

}  // namespace
}  // namespace cfs
