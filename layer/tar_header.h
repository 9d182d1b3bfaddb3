// The tar header block: where its fields are and how their values read,
// shared by the tar reader (import) and the zstd:chunked writer (which
// re-reads stored headers as Go's archive/tar does).
//
//   name[100]@0 mode[8]@100 uid[8]@108 gid[8]@116 size[12]@124 mtime[12]@136
//   chksum[8]@148 typeflag@156 linkname[100]@157 magic[6]@257 version[2]@263
//   uname[32]@265 gname[32]@297 devmajor[8]@329 devminor[8]@337
//   prefix[155]@345 (ustar; GNU keeps atime[12]@345 and ctime[12]@357 there)
//   PAX record: "<decimal length of the whole record> <key>=<value>\n".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cfs {

constexpr size_t kTarBlock = 512;

struct TarField {
  size_t off, len;
};

namespace tar {
constexpr TarField kName{0, 100}, kMode{100, 8}, kUid{108, 8}, kGid{116, 8};
constexpr TarField kSize{124, 12}, kMtime{136, 12}, kChksum{148, 8};
constexpr size_t kTypeflag = 156;
constexpr TarField kLinkname{157, 100}, kMagic{257, 6}, kVersion{263, 2};
constexpr TarField kUname{265, 32}, kGname{297, 32}, kDevMajor{329, 8}, kDevMinor{337, 8};
constexpr TarField kPrefix{345, 155}, kGnuAtime{345, 12}, kGnuCtime{357, 12};
}  // namespace tar

// A string field up to its first NUL (it may fill the field with none).
std::string_view TarString(const char* blk, TarField f);

// How the octal text of a numeric field is delimited (base-256 reads the same).
enum class TarOctal {
  kGnu,  // leading spaces, digits, then the end, a space or a NUL (GNU tar)
  kGo,   // NULs and spaces trimmed at both ends, then only digits (Go's archive/tar)
};
// A numeric field: octal text, or base-256 (the first byte's top bit set;
// bit 6 set means negative, two's complement). nullopt when malformed.
std::optional<int64_t> ParseTarNumber(const char* blk, TarField f, TarOctal syntax);

// The unsigned sum (POSIX) or the signed one (old Sun/GNU tars), as GNU tar
// accepts; the checksum field itself counts as eight spaces.
bool TarChecksumOk(const char* blk);

// Decimal digits only, no sign; nullopt on overflow or anything else.
std::optional<uint64_t> ParseTarDecimal(std::string_view s);

// A PAX time "[+|-]SECONDS[.FRACTION]", the fraction cut to nanoseconds; a
// negative time counts its fraction away from zero ("-1.5" is 1.5 s before
// the epoch).
bool ParsePaxTime(std::string_view s, int64_t* sec, uint32_t* nsec);

using PaxRecords = std::vector<std::pair<std::string, std::string>>;
// Appends the records of an extended header's data to *out, in order.
// Trailing NULs (some writers pad the data) are tolerated; anything else
// malformed returns false.
bool ParsePaxRecords(std::string_view data, PaxRecords* out);

// True when all n bytes at p are zero.
bool AllZero(const char* p, size_t n);

}  // namespace cfs
