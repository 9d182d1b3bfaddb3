#include "deploy/profile_record.h"

#include <algorithm>
#include <charconv>

#include "deploy/host_script.h"

namespace cfs::deploy {

namespace {

struct ReadFile {
  uint64_t sec = 0, nsec = 0;
  uint64_t size = 0;
  std::string path;
};

bool ParseU64(std::string_view s, uint64_t* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// "1733500000.1234567890" (GNU find's %A@ prints ten digits after the
// point; digits past nanoseconds are dropped, fewer are tenths, ...).
bool ParseTime(std::string_view s, ReadFile* f) {
  size_t dot = s.find('.');
  std::string_view frac = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  if (!ParseU64(s.substr(0, dot), &f->sec)) return false;
  uint64_t all_digits;
  if (!frac.empty() && (frac.size() > 19 || !ParseU64(frac, &all_digits))) return false;
  std::string digits(frac.substr(0, 9));
  digits.resize(9, '0');
  return ParseU64(digits, &f->nsec);
}

Result<ReadFile> ParseRecord(std::string_view rec, const std::string& host) {
  size_t t1 = rec.find('\t'), t2 = t1 == std::string_view::npos ? t1 : rec.find('\t', t1 + 1);
  ReadFile f;
  if (t2 == std::string_view::npos || !ParseTime(rec.substr(0, t1), &f) ||
      !ParseU64(rec.substr(t1 + 1, t2 - t1 - 1), &f.size)) {
    return Status::Corruption("host " + host + ": unreadable profile record \"" +
                              std::string(rec.substr(0, 80)) + "\"");
  }
  f.path = std::string(rec.substr(t2 + 1));
  if (f.path.empty()) return Status::Corruption("host " + host + ": profile record without a path");
  return f;
}

}  // namespace

Result<ReadProfile> ParseProfileRecords(std::string_view out, const std::string& host) {
  std::vector<ReadFile> files;
  while (!out.empty()) {
    size_t end = out.find('\0');
    if (end == std::string_view::npos) {
      return Status::Corruption("host " + host + ": profile records cut short");
    }
    ASSIGN_OR_RETURN(ReadFile f, ParseRecord(out.substr(0, end), host));
    if (f.size > 0) files.push_back(std::move(f));
    out.remove_prefix(end + 1);
  }
  std::sort(files.begin(), files.end(), [](const ReadFile& a, const ReadFile& b) {
    return std::tie(a.sec, a.nsec, a.path) < std::tie(b.sec, b.nsec, b.path);
  });
  ReadProfile p;
  for (auto& f : files) p.ranges.push_back({std::move(f.path), 0, f.size});
  return p;
}

Status MarkProfileStart(HostRunner& run, HostCtx& m0) {
  run.Log(m0.host.ip + ": recording a bring-up profile (file access times in the rootfs)");
  return run.Run(m0, "marking the rootfs for a profile",
                 HostCommand(host_scripts::kProfileMark, {run.Rootfs()}));
}

Result<ReadProfile> CollectProfile(HostRunner& run, HostCtx& m0) {
  ExecResult r;
  RETURN_IF_ERROR(run.Run(m0, "reading the profile",
                          HostCommand(host_scripts::kProfileCollect, {run.Rootfs()}), "", &r));
  ASSIGN_OR_RETURN(ReadProfile p, ParseProfileRecords(r.out, m0.host.ip));
  run.Log(m0.host.ip + ": profile: " + std::to_string(p.ranges.size()) + " files read");
  return p;
}

}  // namespace cfs::deploy
