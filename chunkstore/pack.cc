#include "pack.h"

#include <setjmp.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "base/coding.h"

namespace cfs {

namespace {
constexpr char kPackMagicV1[8] = {'C', 'F', 'S', 'P', 'A', 'C', 'K', '1'};
constexpr char kPackMagic[8] = {'C', 'F', 'S', 'P', 'A', 'C', 'K', '2'};

// The check of a v2 header over its first 16 bytes.
uint64_t HeaderCheck(const char* hdr16) {
  Digest d = Digest::Of(hdr16, 16);
  return DecodeFixed64(reinterpret_cast<const char*>(d.bytes.data()));
}

uint64_t RandomId() {
  uint64_t id = 0;
  std::string h = RandomHex(8);
  for (char c : h) id = id << 4 | static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  return id ? id : 1;
}
}  // namespace

std::string ChunkLoc::Encode() const {
  std::string s(24, '\0');
  EncodeFixed64(s.data(), pack_id);
  EncodeFixed64(s.data() + 8, offset);
  EncodeFixed32(s.data() + 16, clen);
  EncodeFixed32(s.data() + 20, ulen);
  return s;
}

Result<ChunkLoc> ChunkLoc::Decode(std::string_view v) {
  if (v.size() != 24) return Status::Corruption("chunk index entry has bad length");
  ChunkLoc l;
  l.pack_id = DecodeFixed64(v.data());
  l.offset = DecodeFixed64(v.data() + 8);
  l.clen = DecodeFixed32(v.data() + 16);
  l.ulen = DecodeFixed32(v.data() + 20);
  return l;
}

Result<uint64_t> PackIdFromFileName(std::string_view name) {
  constexpr std::string_view kExt = ".pack";
  if (name.size() != 16 + kExt.size() || name.substr(16) != kExt)
    return Status::Invalid("not a pack file name: " + std::string(name));
  uint64_t id = 0;
  for (char c : name.substr(0, 16)) {
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return Status::Invalid("not a pack file name: " + std::string(name));
    id = id << 4 | static_cast<uint64_t>(v);
  }
  return id;
}

std::string PackPath(const std::string& dir, uint64_t id) {
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.pack", static_cast<unsigned long long>(id));
  return dir + "/" + name;
}

PackWriter::~PackWriter() = default;

Status PackWriter::StartPack() {
  if (cur_.file) finished_.push_back(std::move(cur_.file));
  for (int tries = 0; tries < 16; tries++) {
    uint64_t id = RandomId();
    std::string path = PackPath(dir_, id);
    auto file = env_->OpenWritable(path, Env::OpenMode::kCreateNew);
    if (!file.ok()) {
      if (file.status().err() == EEXIST) continue;
      return file.status();
    }
    created_.push_back(id);
    // gc skips packs whose writer is alive: they hold this lock.
    if (::flock((*file)->fd(), LOCK_EX | LOCK_NB) != 0) return Status::IOError("flock " + path);
    char hdr[kPackHeaderSize];
    std::memcpy(hdr, kPackMagic, 8);
    EncodeFixed64(hdr + 8, id);
    EncodeFixed64(hdr + 16, HeaderCheck(hdr));
    RETURN_IF_ERROR((*file)->WriteAt(0, std::string_view(hdr, sizeof hdr)).Prefix(path));
    cur_.id = id;
    cur_.file = std::move(*file);
    cur_.size = kPackHeaderSize;
    return Status::Ok();
  }
  return Status::IOError("cannot create a pack file in " + dir_, EEXIST);
}

void EncodeRecordHeader(char* hdr, const Digest& d, uint32_t clen, uint32_t ulen) {
  std::memset(hdr, 0, kRecordHeaderSize);
  EncodeFixed32(hdr, kRecordMagic);
  EncodeFixed32(hdr + 4, clen);
  EncodeFixed32(hdr + 8, ulen);
  std::memcpy(hdr + 16, d.bytes.data(), 32);
}

Result<ChunkLoc> PackWriter::AppendRecords(std::string_view records) {
  MutexLock l(&mu_);
  if (!cur_.file || cur_.size + records.size() > max_size_) RETURN_IF_ERROR(StartPack());
  ChunkLoc loc{cur_.id, cur_.size, 0, 0};
  Status s = cur_.file->WriteAt(cur_.size, records);
  if (!s.ok()) {
    return Status::IOError("write pack " + PackPath(dir_, cur_.id), s.err() ? s.err() : EIO);
  }
  cur_.size += records.size();
  return loc;
}

Result<ChunkLoc> PackWriter::Append(const Digest& d, std::string_view frame, uint32_t ulen) {
  char hdr[kRecordHeaderSize];
  EncodeRecordHeader(hdr, d, static_cast<uint32_t>(frame.size()), ulen);
  MutexLock l(&mu_);
  if (!cur_.file || cur_.size + kRecordHeaderSize + frame.size() > max_size_)
    RETURN_IF_ERROR(StartPack());
  ChunkLoc loc{cur_.id, cur_.size, static_cast<uint32_t>(frame.size()), ulen};
  Status s = cur_.file->WriteAt(cur_.size, {std::string_view(hdr, sizeof hdr), frame});
  if (!s.ok()) {
    // A 0-byte write means the disk is full (the Env reports ENOSPC then).
    return Status::IOError("write pack " + PackPath(dir_, cur_.id), s.err() ? s.err() : EIO);
  }
  cur_.size += sizeof hdr + frame.size();
  return loc;
}

std::vector<uint64_t> PackWriter::created() const {
  MutexLock l(&mu_);
  return created_;
}

void PackWriter::RemoveCreated() {
  MutexLock l(&mu_);
  for (uint64_t id : created_) (void)env_->RemoveFile(PackPath(dir_, id));
}

Status PackWriter::Sync() {
  MutexLock l(&mu_);
  // Rolled packs stay open (and flock'ed) until the writer goes: their
  // records are indexed only after this Sync, and gc must not take them for
  // garbage in between.
  for (; finished_synced_ < finished_.size(); finished_synced_++)
    RETURN_IF_ERROR(finished_[finished_synced_]->Sync());
  if (cur_.file) RETURN_IF_ERROR(cur_.file->Sync());
  // The packs' names: a pack created since the last Sync is durable only now.
  return env_->SyncDir(dir_);
}

// --- reading ------------------------------------------------------------------
//
// Frames are decompressed straight out of a read-only shared mapping of the
// pack. Should the file shrink under a mapping, touching the lost pages
// raises SIGBUS; the handler below turns that into a failed read when the
// faulting thread is inside a guarded copy (and otherwise behaves as before).
namespace {
thread_local sigjmp_buf* t_bus_jump = nullptr;
struct sigaction g_prev_bus;

void OnSigbus(int sig, siginfo_t* info, void* uctx) {
  if (t_bus_jump) siglongjmp(*t_bus_jump, 1);
  if (g_prev_bus.sa_flags & SA_SIGINFO) {
    if (g_prev_bus.sa_sigaction) return g_prev_bus.sa_sigaction(sig, info, uctx);
  } else if (g_prev_bus.sa_handler != SIG_DFL && g_prev_bus.sa_handler != SIG_IGN) {
    return g_prev_bus.sa_handler(sig);
  }
  // Not ours: the default action, which the faulting access raises again.
  ::signal(SIGBUS, SIG_DFL);
}

void InstallSigbusHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa = {};
    sa.sa_sigaction = OnSigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, &g_prev_bus);
  });
}

// Copies the record header at rec and decompresses the clen bytes after it
// into out. Only plain C calls between sigsetjmp and the end of the guard:
// a SIGBUS jumps back here and skips no destructor. Returns false on SIGBUS.
bool GuardedDecompress(const char* rec, char* hdr, ZSTD_DCtx* dctx, char* out, size_t ulen,
                       size_t clen, size_t* result) {
  sigjmp_buf jump;
  if (sigsetjmp(jump, 1) != 0) {
    t_bus_jump = nullptr;
    return false;
  }
  t_bus_jump = &jump;
  std::memcpy(hdr, rec, kRecordHeaderSize);
  if (DecodeFixed32(hdr + 4) == clen)
    *result = ZSTD_decompressDCtx(dctx, out, ulen, rec + kRecordHeaderSize, clen);
  t_bus_jump = nullptr;
  return true;
}

// Bytes of a pack mapped into this process between two drops of its mapped
// pages. A fault maps up to 64 KiB around the faulting page (the kernel's
// fault-around), so every read counts at least that much.
constexpr uint64_t kDropEvery = 8 << 20;
constexpr uint64_t kFaultAround = 64 << 10;

// The checks every read makes, one message each.
Status CheckRecordHeader(const char* hdr, const Digest& d, const ChunkLoc& loc,
                         const std::string& pack) {
  if (DecodeFixed32(hdr) != kRecordMagic || DecodeFixed32(hdr + 4) != loc.clen || DecodeFixed32(hdr + 8) != loc.ulen ||
      std::memcmp(hdr + 16, d.bytes.data(), 32) != 0)
    return Status::Corruption("chunk " + d.ToString() + ": pack record header does not match " +
                              pack + " at " + std::to_string(loc.offset));
  return Status::Ok();
}

}  // namespace

PackReader::~PackReader() {
  for (auto& [id, p] : packs_)
    for (const Map& m : p.maps) ::munmap(const_cast<char*>(m.base), m.size);
}

Result<PackReader::Pack*> PackReader::OpenLocked(uint64_t id) {
  Pack& p = packs_[id];
  if (!p.fd.valid()) {
    std::string path = PackPath(dir_, id);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      packs_.erase(id);
      return Status::IOError(path);
    }
    p.fd = UniqueFd(fd);
  }
  return &p;
}

Result<PackReader::Map> PackReader::Mapping(uint64_t id, uint64_t end, uint64_t bytes) {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(Pack * p, OpenLocked(id));
  if (p->maps.empty() || p->maps.back().size < end) {
    struct stat st;
    if (::fstat(p->fd.get(), &st) != 0) return Status::IOError(PackPath(dir_, id));
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size < end)
      return Status::Corruption("pack " + PackPath(dir_, id) + " ends at " + std::to_string(size) +
                                ", before a record ending at " + std::to_string(end));
    InstallSigbusHandler();
    void* base = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, p->fd.get(), 0);
    if (base == MAP_FAILED) return Status::IOError("mmap " + PackPath(dir_, id));
    p->maps.push_back(Map{static_cast<const char*>(base), size});
  }
  p->touched += bytes + kFaultAround;
  if (p->touched >= kDropEvery) {
    p->touched = 0;
    // Drop the pages this process has mapped (the page cache keeps them) so
    // they do not add up in its RSS; a reader still on them faults them in.
    for (const Map& old : p->maps) ::madvise(const_cast<char*>(old.base), old.size, MADV_DONTNEED);
  }
  return p->maps.back();
}

Result<std::string> PackReader::ReadFrame(const Digest& d, const ChunkLoc& loc) {
  int fd;
  {
    MutexLock l(&mu_);
    ASSIGN_OR_RETURN(Pack * p, OpenLocked(loc.pack_id));
    fd = p->fd.get();
  }
  std::string buf(kRecordHeaderSize + loc.clen, '\0');
  Status s = PreadAll(fd, buf.data(), buf.size(), loc.offset);
  if (!s.ok()) return s.Prefix("chunk " + d.ToString());
  RETURN_IF_ERROR(CheckRecordHeader(buf.data(), d, loc, PackPath(dir_, loc.pack_id)));
  buf.erase(0, kRecordHeaderSize);
  return buf;
}

Status PackReader::ReadChunkInto(const Digest& d, const ChunkLoc& loc, char* out) {
  // Straight from the mapping: header check, decompression, digest.
  ASSIGN_OR_RETURN(Map m, Mapping(loc.pack_id, loc.offset + kRecordHeaderSize + loc.clen, loc.clen));
  char hdr[kRecordHeaderSize];
  size_t r = 0;
  if (!GuardedDecompress(m.base + loc.offset, hdr, ThreadZstdDCtx(), out, loc.ulen, loc.clen, &r))
    return Status::IOError("chunk " + d.ToString() + ": " + PackPath(dir_, loc.pack_id) +
                           " was truncated while mapped", EIO);
  RETURN_IF_ERROR(CheckRecordHeader(hdr, d, loc, PackPath(dir_, loc.pack_id)));
  return CheckDecodedChunk(d, r, out, loc.ulen);
}

Result<std::string> PackReader::ReadChunk(const Digest& d, const ChunkLoc& loc) {
  std::string out(loc.ulen, '\0');
  RETURN_IF_ERROR(ReadChunkInto(d, loc, out.data()));
  return out;
}

namespace {
// Checks the header at the start of a pack file; returns its size, or 0 for
// a v2 header cut short (a writer died creating the pack).
Result<size_t> CheckPackHeader(int fd, uint64_t size, const std::string& path) {
  char hdr[kPackHeaderSize];
  size_t n = std::min<uint64_t>(size, kPackHeaderSize);
  RETURN_IF_ERROR(PreadAll(fd, hdr, n, 0).Prefix(path));
  size_t hsize = 0;
  if (n >= kPackHeaderSizeV1 && std::memcmp(hdr, kPackMagicV1, 8) == 0) {
    hsize = kPackHeaderSizeV1;
  } else if (std::memcmp(hdr, kPackMagic, 8) == 0) {
    if (n < kPackHeaderSize) return size_t{0};
    if (DecodeFixed64(hdr + 16) != HeaderCheck(hdr))
      return Status::Corruption(path + ": pack header fails its check (damaged)");
    hsize = kPackHeaderSize;
  } else {
    return Status::Corruption(path + ": pack header damaged (unknown magic)");
  }
  auto want = PackIdFromFileName(path.substr(path.rfind('/') + 1));
  if (want.ok() && *want != DecodeFixed64(hdr + 8))
    return Status::Corruption(path + ": pack header names pack " + std::to_string(DecodeFixed64(hdr + 8)) +
                              ", not the one in its file name (damaged)");
  return hsize;
}
}  // namespace

Result<PackScan> ScanPack(const std::string& path,
                          const std::function<Status(const PackRecord&)>& fn) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(path);
  UniqueFd ufd(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::IOError(path);
  PackScan scan;
  scan.size = static_cast<uint64_t>(st.st_size);
  if (scan.size < kPackHeaderSizeV1) return scan;  // torn at creation
  ASSIGN_OR_RETURN(size_t hsize, CheckPackHeader(fd, scan.size, path));
  if (hsize == 0) return scan;
  char hdr[kRecordHeaderSize];
  RETURN_IF_ERROR(PreadAll(fd, hdr, 16, 0).Prefix(path));
  scan.pack_id = DecodeFixed64(hdr + 8);
  uint64_t off = hsize;
  scan.valid_end = off;
  while (off + kRecordHeaderSize <= scan.size) {
    RETURN_IF_ERROR(PreadAll(fd, hdr, kRecordHeaderSize, off).Prefix(path));
    if (DecodeFixed32(hdr) != kRecordMagic) break;  // torn tail (or damage: see PackScan)
    PackRecord rec;
    rec.loc = {scan.pack_id, off, DecodeFixed32(hdr + 4), DecodeFixed32(hdr + 8)};
    if (off + kRecordHeaderSize + rec.loc.clen > scan.size) break;
    rec.digest = Digest::FromRaw(std::string_view(hdr + 16, 32));
    rec.reclaimed = DecodeFixed32(hdr + 12) & kRecordReclaimed;
    RETURN_IF_ERROR(fn(rec));
    off += kRecordHeaderSize + rec.loc.clen;
    scan.valid_end = off;
  }
  return scan;
}

Status RestoreRecordHeader(Env* env, const std::string& packs_dir, const Digest& d,
                           const ChunkLoc& loc) {
  std::string path = PackPath(packs_dir, loc.pack_id);
  ASSIGN_OR_RETURN(auto file, env->OpenWritable(path, Env::OpenMode::kExisting));
  std::string frame(loc.clen, '\0');
  RETURN_IF_ERROR(
      PreadAll(file->fd(), frame.data(), frame.size(), loc.offset + kRecordHeaderSize).Prefix(path));
  if (!DecompressVerified(d, frame, loc.ulen).ok())
    return Status::NotFound("chunk " + d.ToString() + ": its frame is damaged too");
  char hdr[kRecordHeaderSize] = {};
  EncodeFixed32(hdr, kRecordMagic);
  EncodeFixed32(hdr + 4, loc.clen);
  EncodeFixed32(hdr + 8, loc.ulen);
  std::memcpy(hdr + 16, d.bytes.data(), 32);
  RETURN_IF_ERROR(file->WriteAt(loc.offset, std::string_view(hdr, sizeof hdr)));
  return file->Sync();
}

Status RestorePackHeader(Env* env, const std::string& path) {
  ASSIGN_OR_RETURN(uint64_t id, PackIdFromFileName(path.substr(path.rfind('/') + 1)));
  ASSIGN_OR_RETURN(auto file, env->OpenWritable(path, Env::OpenMode::kExisting));
  const int fd = file->fd();
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::IOError(path);
  if (CheckPackHeader(fd, static_cast<uint64_t>(st.st_size), path).ok()) return Status::Ok();
  char rec[4];
  char hdr[kPackHeaderSize];
  size_t hsize = 0;
  for (size_t at : {kPackHeaderSize, kPackHeaderSizeV1})
    if (PreadAll(fd, rec, 4, at).ok() && DecodeFixed32(rec) == kRecordMagic) {
      hsize = at;
      break;
    }
  if (hsize == 0) return Status::NotFound(path + ": no record where a header would end");
  std::memcpy(hdr, hsize == kPackHeaderSize ? kPackMagic : kPackMagicV1, 8);
  EncodeFixed64(hdr + 8, id);
  EncodeFixed64(hdr + 16, HeaderCheck(hdr));
  RETURN_IF_ERROR(file->WriteAt(0, std::string_view(hdr, hsize)));
  return file->Sync();
}

}  // namespace cfs
