// The libarchive handles and the error text (transport/archive_handles.h).
#include "transport/archive_handles.h"

#include <gtest/gtest.h>

namespace cfs {
namespace {

TEST(ArchiveHandles, ErrorTextIsLibarchivesOrSaysThereIsNone) {
  ArchiveReader a(archive_read_new());
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(ArchiveError(a.get()), "unknown libarchive error");
  archive_read_support_format_tar(a.get());
  ASSERT_NE(archive_read_open_filename(a.get(), "/nonexistent/archive.tar", 10240), ARCHIVE_OK);
  EXPECT_NE(ArchiveError(a.get()).find("/nonexistent/archive.tar"), std::string::npos)
      << ArchiveError(a.get());
}

TEST(ArchiveHandles, WriterAndEntryAreOwned) {
  ArchiveWriter w(archive_write_new());
  ArchiveEntry e(archive_entry_new());
  ASSERT_NE(w, nullptr);
  ASSERT_NE(e, nullptr);
  archive_entry_set_pathname(e.get(), "etc/hosts");
  EXPECT_STREQ(archive_entry_pathname(e.get()), "etc/hosts");
  ArchiveEntry moved = std::move(e);
  EXPECT_EQ(e, nullptr);
  EXPECT_STREQ(archive_entry_pathname(moved.get()), "etc/hosts");
}

}  // namespace
}  // namespace cfs
