#include "transport/archive_member.h"

#include "transport/archive_handles.h"

namespace cfs {

namespace {

Result<std::string> ReadData(struct archive* a, struct archive_entry* e, const std::string& what,
                             size_t max_size) {
  if (archive_entry_filetype(e) != AE_IFREG) return Status::Invalid(what + ": not a regular file");
  if (archive_entry_size(e) < 0 || static_cast<uint64_t>(archive_entry_size(e)) > max_size)
    return Status::Invalid(what + ": larger than " + std::to_string(max_size) + " bytes");
  std::string out(static_cast<size_t>(archive_entry_size(e)), '\0');
  la_ssize_t n = out.empty() ? 0 : archive_read_data(a, out.data(), out.size());
  if (n < 0 || static_cast<size_t>(n) != out.size()) return Status::Corruption(what + ": " + ArchiveError(a));
  return out;
}

}  // namespace

Result<std::optional<std::string>> ReadArchiveMember(const std::string& file, const std::string& name,
                                                     size_t max_size) {
  const std::string what = "archive " + file + ": " + name;
  ArchiveReader a(archive_read_new());
  if (!a) return Status::IOError("archive_read_new", ENOMEM);
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), file.c_str(), 1 << 16) != ARCHIVE_OK) {
    if (archive_errno(a.get()) == ENOENT) return Status::NotFound(file + ": no such file");
    return Status::Invalid("archive " + file + ": " + ArchiveError(a.get()));
  }
  for (;;) {
    struct archive_entry* e = nullptr;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) return std::optional<std::string>();
    if (r < ARCHIVE_WARN) return Status::Invalid("archive " + file + ": " + ArchiveError(a.get()));
    std::string member = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    if (member.rfind("./", 0) == 0) member.erase(0, 2);
    while (member.size() > 1 && member.back() == '/') member.pop_back();
    if (member != name) continue;  // the next header skips its data
    ASSIGN_OR_RETURN(std::string data, ReadData(a.get(), e, what, max_size));
    return std::optional<std::string>(std::move(data));
  }
}

}  // namespace cfs
