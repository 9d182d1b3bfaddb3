// Stores in temporary directories, for tests only: TempStore (a value, for a
// test function) and TempStoreTest (a gtest fixture whose tests each start
// with an empty store). The store is closed before its directory is removed.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "base/io.h"
#include "store/store.h"

namespace cfs::testing {

// Opens (creating when absent) the store at root, with `o` but its root.
Result<std::unique_ptr<Store>> OpenStoreAt(const std::string& root, StoreOptions o = {});

// A fresh directory /tmp/<prefix>XXXXXX and a store in its subdirectory
// `store_dir`; both go with the object.
struct TempStore {
  static Result<TempStore> Create(const std::string& prefix, const std::string& store_dir = "store",
                                  StoreOptions o = {});
  // dir.path() + "/" + rel.
  std::string Path(const std::string& rel) const { return dir.path() + "/" + rel; }

  TempDir dir;
  std::unique_ptr<Store> store;  // declared after dir: destroyed first
};

// A fixture: before each test, tmp_ is a fresh directory and store_ the store
// opened in tmp_/store_dir (none when store_dir is empty). A derived fixture
// with its own SetUp() starts it with
// ASSERT_NO_FATAL_FAILURE(TempStoreTest::SetUp()).
class TempStoreTest : public ::testing::Test {
 protected:
  explicit TempStoreTest(std::string store_dir = "root") : store_dir_(std::move(store_dir)) {}
  void SetUp() override;

  // tmp_.path() + "/" + rel.
  std::string Path(const std::string& rel) const { return tmp_.path() + "/" + rel; }
  // The store at tmp_/dir (another, or store_'s again once it is reset);
  // nullptr, with the test failed, when it does not open.
  std::unique_ptr<Store> OpenStore(const std::string& dir, StoreOptions o = {});

  TempDir tmp_;
  std::unique_ptr<Store> store_;  // declared after tmp_: destroyed first

 private:
  std::string store_dir_;
};

}  // namespace cfs::testing
