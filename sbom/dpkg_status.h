// The Debian packages a rootfs holds, read from dpkg's database:
// var/lib/dpkg/status (one paragraph per package dpkg knows of) and, in
// images without dpkg (distroless), one file per package under
// var/lib/dpkg/status.d/.
//
// The format is Debian Policy §5.1 ("control files and their fields"):
// paragraphs separated by blank lines (empty or only spaces and tabs);
// each field "Name: value" on one line, continued by lines that start with
// a space or a tab; field names are case-insensitive; lines starting with
// '#' (unindented) are comments. A package counts as installed when its
// Status field is "install ok installed" or "hold ok installed" (a held
// package is installed too); status.d files carry no Status field.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cfs::sbom {

struct DebPackage {
  std::string name;            // Package
  std::string version;         // Version
  std::string architecture;    // Architecture ("amd64", "all", ...)
  std::string source;          // Source's name, "" when the same as name
  std::string source_version;  // Source's "(version)", "" when the same as version

  bool operator==(const DebPackage&) const = default;
};

// The installed packages of one status file (or status.d entry), in file
// order. require_status: false for status.d, whose files have no Status
// field. Errors are one line "FILE:LINE: reason" (file as given): a line
// that is neither a field nor a continuation, a continuation before any
// field, a field given twice in one paragraph, a paragraph without Package
// or (when installed) Version.
Result<std::vector<DebPackage>> ParseDpkgStatus(std::string_view text, const std::string& file,
                                                bool require_status = true);

}  // namespace cfs::sbom
