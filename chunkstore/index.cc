#include "chunkstore/chunk_store.h"

#include <rocksdb/env.h>

#include <rocksdb/db.h>
#include <rocksdb/metadata.h>
#include <sys/stat.h>
#include <rocksdb/cache.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include "rocks_env.h"

namespace cfs {

namespace {
Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  // RocksDB's own text without its code prefixes ("Corruption: ..."), which
  // our codes already carry.
  std::string msg = s.getState() ? s.getState() : s.ToString();
  if (s.IsCorruption()) return Status::Corruption(what + ": damaged: " + msg);
  if (s.IsNotFound()) return Status::NotFound(what + ": " + msg);
  if (s.IsNoSpace() || s.subcode() == rocksdb::Status::kNoSpace)
    return Status::IOError(what + ": no space left on the device", ENOSPC);
  return Status::IOError(what + ": " + msg, EIO);
}

// RocksDB writes its info LOG through a WritableFileWriter, which (Debian
// builds keep assertions) aborts the process when used again after a failed
// write: on a full disk every command, even `cimg images`, died. This logger
// writes with plain write(2) and drops what does not fit; fd -1 logs nowhere
// (readers: nothing of theirs is written under ROOT).
class TolerantLogger : public rocksdb::Logger {
 public:
  explicit TolerantLogger(int fd) : rocksdb::Logger(rocksdb::WARN_LEVEL), fd_(fd) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    if (!fd_.valid()) return;
    char buf[1024];
    int n = std::vsnprintf(buf, sizeof buf - 1, format, ap);
    if (n < 0) return;
    size_t len = std::min(static_cast<size_t>(n), sizeof buf - 2);
    buf[len++] = '\n';
    (void)!::write(fd_.get(), buf, len);
  }

 private:
  UniqueFd fd_;
};

// The writer's log: DIR/LOG, restarted when over 1 MiB.
std::shared_ptr<rocksdb::Logger> WriterLogger(const std::string& dir) {
  int fd = ::open((dir + "/LOG").c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  struct stat st;
  if (fd >= 0 && ::fstat(fd, &st) == 0 && st.st_size > (1 << 20)) (void)!::ftruncate(fd, 0);
  return std::make_shared<TolerantLogger>(fd);
}

rocksdb::Options BaseOptions() {
  rocksdb::Options o;
  o.create_if_missing = false;  // only Index::Create makes a database
  o.paranoid_checks = true;
  o.max_open_files = -1;  // secondaries must keep every table open
  o.keep_log_file_num = 2;
  o.max_log_file_size = 1 << 20;
  o.compression = rocksdb::kNoCompression;  // TOCs and splits are zstd already
  o.info_log_level = rocksdb::WARN_LEVEL;
  return o;
}

// RocksDB's Env for the store's env: none (its own) for the default one.
// Through another Env (tests), a failed write is final: RocksDB does not
// retry it in the background (a second later) before the session closes.
std::unique_ptr<rocksdb::Env> RocksEnvFor(Env* env, rocksdb::Options* o) {
  if (env == Env::Default()) return nullptr;
  auto rocks = NewRocksEnv(env);
  o->env = rocks.get();
  o->max_bgerror_resume_count = 0;
  return rocks;
}
}  // namespace

Index::~Index() {
  // A writer session leaves its writes in SST files rather than only in the
  // WAL, so the secondaries of long-lived readers (mounts) do not replay
  // them into memtables of their own.
  if (db_ && writer()) (void)db_->Flush(rocksdb::FlushOptions());
  db_.reset();
  secondary_owner_.Release();
  if (!secondary_dir_.empty()) (void)RemoveTree(secondary_dir_);
}

namespace {
Status IndexMissing(const std::string& root) {
  return Status::Corruption("store " + root + ": its index (" + root +
                            "/index) is missing or incomplete; refusing to use the store "
                            "(its packs are kept untouched)");
}
}  // namespace

// Every table file the database names must be there, whole: a secondary
// instance opens without looking, and would then read a damaged index as
// an empty one.
static Status CheckLiveFilesOnce(rocksdb::DB* db, const std::string& dir) {
  std::vector<rocksdb::LiveFileMetaData> files;
  db->GetLiveFilesMetaData(&files);
  for (const auto& f : files) {
    std::string path = (f.directory.empty() ? dir : f.directory) + "/" + f.relative_filename;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) != f.size)
      return Status::Corruption("index " + dir + ": table file " + f.relative_filename +
                                (::stat(path.c_str(), &st) != 0 ? " is missing" : " has the wrong size") +
                                "; refusing to read a damaged index");
  }
  return Status::Ok();
}

// Every table file a secondary (db) lists exists with its size. A writer's
// compaction can delete a table between the secondary's open and this check:
// then the secondary catches up with the writer and looks again. Only a file
// that a caught-up view still lists and that is not there is damage (a
// deleted file stays missing at every try).
static Status CheckLiveFiles(rocksdb::DB* db, const std::string& dir) {
  Status st;
  for (int attempt = 0; attempt < 8; attempt++) {
    st = CheckLiveFilesOnce(db, dir);
    if (st.ok() || !db->TryCatchUpWithPrimary().ok()) return st;
  }
  return st;
}

Status Index::Create(const std::string& root, Env* env) {
  ASSIGN_OR_RETURN(FileLock lock,
                   FileLock::Acquire(root + "/index.lock", FileLock::Mode::kExclusive));
  if (PathExists(root + "/index/CURRENT")) return Status::Ok();
  rocksdb::Options o = BaseOptions();
  o.create_if_missing = true;
  o.error_if_exists = true;
  auto rocks_env = RocksEnvFor(env, &o);
  rocksdb::DB* db = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(o, root + "/index", &db),
                            "create index " + root + "/index"));
  delete db;
  return Status::Ok();
}

Status Index::RestoreCurrent(const std::string& root, Env* env) {
  std::string dir = root + "/index";
  ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(root + "/index.lock", FileLock::Mode::kExclusive));
  if (PathExists(dir + "/CURRENT")) return Status::Ok();
  auto names = ListDir(dir);
  std::string newest;
  uint64_t newest_no = 0;
  if (names.ok())
    for (const auto& n : *names) {
      if (n.rfind("MANIFEST-", 0) != 0 || n.size() == 9 ||
          n.find_first_not_of("0123456789", 9) != std::string::npos)
        continue;
      uint64_t no = std::stoull(n.substr(9));
      if (newest.empty() || no > newest_no) newest = n, newest_no = no;
    }
  if (newest.empty()) return Status::NotFound(dir + ": no MANIFEST file to restore CURRENT from");
  return WriteFileAtomic(env, dir + "/CURRENT", newest + "\n");
}

Result<std::unique_ptr<Index>> Index::OpenWriter(const std::string& root, Env* env) {
  std::unique_ptr<Index> ix(new Index());
  ASSIGN_OR_RETURN(ix->lock_, FileLock::Acquire(root + "/index.lock", FileLock::Mode::kExclusive));
  if (!PathExists(root + "/index/CURRENT")) return IndexMissing(root);
  rocksdb::DB* db = nullptr;
  rocksdb::Options o = BaseOptions();
  o.info_log = WriterLogger(root + "/index");
  ix->rocks_env_ = RocksEnvFor(env, &o);
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(o, root + "/index", &db),
                            "open index " + root + "/index"));
  ix->db_.reset(db);
  return ix;
}

Result<std::unique_ptr<Index>> Index::OpenReader(const std::string& root, Env* env) {
  std::string path = root + "/index";
  if (!PathExists(path + "/CURRENT")) return IndexMissing(root);
  rocksdb::Options o = BaseOptions();
  o.create_if_missing = false;
  o.info_log = std::make_shared<TolerantLogger>(-1);
  // Readers look up a few keys each (mounts: chunk locations); a small
  // block cache keeps a long-lived mount's memory down.
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = rocksdb::NewLRUCache(4 << 20);
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  // When a secondary cannot be set up (no room under ROOT/tmp, or a WAL
  // tail only a primary could recover on a full disk), a read-only open
  // writes nothing and still sees every committed write. RocksDB promises
  // less for it beside a live writer than for a secondary, hence only then;
  // on a full disk no writer gets far.
  auto read_only = [&](const Status& why) -> Result<std::unique_ptr<Index>> {
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::OpenForReadOnly(o, path, &db);
    if (!s.ok()) return why;
    std::unique_ptr<Index> ix(new Index());
    ix->db_.reset(db);
    return ix;
  };
  for (int attempt = 0;; attempt++) {
    std::unique_ptr<Index> ix(new Index());
    auto sec = TempDir::Create(root + "/tmp", "secondary-");
    if (!sec.ok()) return read_only(sec.status());
    auto owner = FileLock::Acquire(sec->path() + "/" + kScratchOwnerLock,
                                   FileLock::Mode::kExclusive);
    if (!owner.ok()) return read_only(owner.status());
    ix->secondary_owner_ = std::move(*owner);
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::OpenAsSecondary(o, path, sec->path(), &db);
    if (!s.ok() && attempt == 0 && !s.IsNoSpace()) {
      // A writer killed mid-write can leave a WAL tail a secondary will not
      // read; one primary open recovers it (under the writer lock).
      auto w = OpenWriter(root, env);
      if (w.ok()) continue;
      return read_only(w.status());
    }
    if (!s.ok()) return read_only(FromRocks(s, "open index " + path));
    ix->db_.reset(db);
    RETURN_IF_ERROR(CheckLiveFiles(db, path));
    ix->secondary_dir_ = sec->Release();  // the Index removes it on close
    return ix;
  }
}

Status Index::Refresh() {
  // A read-only reader (no secondary dir) keeps the state it opened with.
  if (writer() || secondary_dir_.empty()) return Status::Ok();
  return FromRocks(db_->TryCatchUpWithPrimary(), "refresh index");
}

Status Index::VerifyTables(const std::string& root) {
  std::string path = root + "/index";
  if (!PathExists(path + "/CURRENT")) return IndexMissing(root);
  rocksdb::Options o = BaseOptions();
  o.info_log = std::make_shared<TolerantLogger>(-1);
  rocksdb::DB* db = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::OpenForReadOnly(o, path, &db), "open index " + path));
  std::unique_ptr<rocksdb::DB> owned(db);
  return FromRocks(db->VerifyChecksum(), "index " + path);
}

Result<std::optional<std::string>> Index::Get(const std::string& k) {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), k, &v);
  if (s.IsNotFound()) return std::optional<std::string>();
  RETURN_IF_ERROR(FromRocks(s, "index read"));
  return std::optional<std::string>(std::move(v));
}

Result<std::vector<std::optional<std::string>>> Index::MultiGet(
    const std::vector<std::string>& keys) {
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<std::string> values;
  std::vector<rocksdb::Status> st = db_->MultiGet(rocksdb::ReadOptions(), slices, &values);
  std::vector<std::optional<std::string>> out(keys.size());
  for (size_t i = 0; i < keys.size(); i++) {
    if (st[i].IsNotFound()) continue;
    RETURN_IF_ERROR(FromRocks(st[i], "index read"));
    out[i] = std::move(values[i]);
  }
  return out;
}

Status Index::Scan(const std::string& prefix,
                   const std::function<bool(std::string_view, std::string_view)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (!fn(std::string_view(it->key().data(), it->key().size()),
            std::string_view(it->value().data(), it->value().size())))
      break;
  }
  return FromRocks(it->status(), "index scan");
}

Index::Batch::Batch() : rep_(std::make_unique<rocksdb::WriteBatch>()) {}
Index::Batch::~Batch() = default;
void Index::Batch::Put(const std::string& k, std::string_view v) {
  rep_->Put(k, rocksdb::Slice(v.data(), v.size()));
}
void Index::Batch::Delete(const std::string& k) { rep_->Delete(k); }
size_t Index::Batch::Count() const { return static_cast<size_t>(rep_->Count()); }

Status Index::Write(Batch& b) {
  if (!writer()) return Status::Invalid("index opened read-only");
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Write(wo, b.rep()), "index write " + db_->GetName());
}

}  // namespace cfs
