// --format for listings, as podman and docker read it (containers/common
// pkg/report): a Go template run once per row, or a table with a header row
// and aligned columns.
//
// FORMAT is one of
//   "table"            the command's default table (its default_table)
//   "table TEMPLATE"   TEMPLATE's columns under a header row
//   TEMPLATE           TEMPLATE once per row, no header
// The two characters \t and \n mean a tab and a newline (shells pass them
// on unescaped); each row's output gets a newline unless the template ends
// with one. In a table a tab separates columns, and so does every space of
// the format (podman's rule: "table {{.A}} {{.B}}" is two columns). Columns
// are aligned as podman's tabwriter does: each cell padded to the widest of
// its column plus two spaces, at least 12; the last cell of a line is not
// padded.
//
// The header row is the template executed on a map from every field to its
// header: the field's name in capitals, camel case split at word starts
// (CreatedAt -> CREATED AT), unless `headers` names it otherwise.
//
// Functions: the engine's (template.h), with podman's replacing sprig's of
// the same name: json (compact JSON of any value), join LIST SEP,
// split S SEP, truncate S N (the first N bytes), pad S PREFIX SUFFIX (S with
// that many spaces before and after).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "template/template.h"
#include "template/value.h"

namespace cfs::tmpl {

class Report {
 public:
  // Parses FORMAT for rows whose fields are `fields`. Errors are the
  // template's (one line, "format:LINE:COL: reason"), also for a table whose
  // header row fails (e.g. a field no row has: `map has no entry for key`).
  [[nodiscard]] static Result<Report> Parse(std::string_view format, std::string_view default_table,
                                            const std::vector<std::string>& fields,
                                            const std::map<std::string, std::string>& headers = {});

  bool table() const { return table_; }

  // The output for `rows` (each a map of the fields): the header row first
  // in a table, then one execution per row, aligned in a table.
  [[nodiscard]] Result<std::string> Render(const std::vector<Value>& rows) const;

 private:
  Report(Template t, bool table, std::string header)
      : tmpl_(std::move(t)), table_(table), header_(std::move(header)) {}
  Template tmpl_;
  bool table_;
  std::string header_;  // the rendered header row (table only)
};

// True for the formats that mean "the whole listing as a JSON document":
// "json" (any surrounding spaces).
bool IsJsonFormat(std::string_view format);

// A field's default header: "CreatedAt" -> "CREATED AT", "ID" -> "ID".
std::string HeaderOf(std::string_view field);

// Text columns split by tabs, aligned as described above.
std::string AlignColumns(std::string_view text);

// The functions Report adds (json, join, split, truncate, pad), for
// templates that are not listings (e.g. inspect --format).
std::vector<Func> PodmanFuncs();

}  // namespace cfs::tmpl
