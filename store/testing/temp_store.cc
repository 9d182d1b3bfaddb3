#include "store/testing/temp_store.h"

namespace cfs::testing {

Result<std::unique_ptr<Store>> OpenStoreAt(const std::string& root, StoreOptions o) {
  o.root = root;
  return Store::Open(o);
}

Result<TempStore> TempStore::Create(const std::string& prefix, const std::string& store_dir,
                                    StoreOptions o) {
  TempStore t;
  ASSIGN_OR_RETURN(t.dir, TempDir::Create("/tmp", prefix));
  ASSIGN_OR_RETURN(t.store, OpenStoreAt(t.Path(store_dir), std::move(o)));
  return t;
}

void TempStoreTest::SetUp() {
  auto t = TempDir::Create("/tmp", "cfs-store-test-");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  tmp_ = std::move(*t);
  if (!store_dir_.empty()) {
    store_ = OpenStore(store_dir_);
    ASSERT_NE(store_, nullptr);
  }
}

std::unique_ptr<Store> TempStoreTest::OpenStore(const std::string& dir, StoreOptions o) {
  auto s = OpenStoreAt(Path(dir), std::move(o));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

}  // namespace cfs::testing
