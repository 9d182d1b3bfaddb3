#include "profile_recorder.h"

#include <gtest/gtest.h>

#include <thread>

namespace cfs::mount {
namespace {

using Range = ReadProfile::Range;

TEST(ProfileRecorder, RangesInFirstReadOrderOutOfOrderReadsMerged) {
  ProfileRecorder rec;
  rec.Note("etc/a", 0, 100);
  rec.Note("big", 131072, 131072);  // read-ahead served before the start
  rec.Note("etc/b", 0, 10);
  rec.Note("big", 0, 131072);       // touches the range above: one range
  rec.Note("big", 393216, 1000);    // a gap: a range of its own, for now
  rec.Note("etc/a", 50, 100);       // overlaps: grows the first range
  rec.Note("big", 262144, 131072);  // fills the gap: the two merge
  rec.Note("etc/b", 0, 0);          // nothing read
  ReadProfile p = rec.Snapshot();
  EXPECT_EQ(p.ranges, (std::vector<Range>{{"etc/a", 0, 150}, {"big", 0, 394216}, {"etc/b", 0, 10}}));
}

TEST(ProfileRecorder, ConcurrentNotes) {
  ProfileRecorder rec;
  std::vector<std::thread> t;
  for (int k = 0; k < 4; k++)
    t.emplace_back([&rec, k] {
      for (uint64_t i = k; i < 400; i += 4) rec.Note("f", i * 4096, 4096);
    });
  for (auto& th : t) th.join();
  EXPECT_EQ(rec.Snapshot().ranges, (std::vector<Range>{{"f", 0, 400 * 4096}}));
}

TEST(ReadProfile, TextAndAnnotationRoundTrip) {
  ReadProfile p;
  p.ranges = {{"usr/bin/sh", 0, 4096}, {"etc/name with \"quotes\"\n", 7, 1}};
  auto text = ReadProfile::ParseText(p.ToText(), "f");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(text->ranges, p.ranges);
  auto ann = ReadProfile::FromAnnotation(p.ToAnnotation());
  ASSERT_TRUE(ann.ok()) << ann.status().ToString();
  EXPECT_EQ(ann->ranges, p.ranges);
  auto bad = ReadProfile::ParseText("{\"path\":\"a\",\"offset\":0,\"length\":1}\n{\"path\":\"b\"}\n", "prof");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("prof:2"), std::string::npos) << bad.status().message();
  EXPECT_FALSE(ReadProfile::FromAnnotation("not base64!").ok());
}

}  // namespace
}  // namespace cfs::mount
