// The Kubefile: sealer's build file. Parsing only (builder/builder.h runs it).
//
//   FROM image|scratch            first instruction
//   ARG name[=default]            ${name} / $name in later instructions; --build-arg
//   ENV k=v [k=v...] | ENV k v    image environment (also seen by RUN)
//   LABEL k=v [k=v...]            image labels
//   MAINTAINER text
//   COPY src... dest              from the build context (or http(s) URLs) into the rootfs
//   RUN cmd | RUN ["exe","arg"]   on the build host, in the merged rootfs
//   CMD cmd                       repeatable: run at deploy on the first master, in
//                                 order, after the parent image's CMDs
//   CMDS ["cmd", ...]             the commands run at deploy; the last CMDS wins, the
//                                 parent image's are not inherited
//   LAUNCH ["app", ...]           the applications launched at deploy; the last LAUNCH
//                                 wins, the parent image's are not inherited
// CMDS and LAUNCH exclude each other (sealer's rule): a Kubefile with both is
// Invalid at the later of the two. (The labels they become: builder/builder.h.) Keywords are case-insensitive; a trailing
// '\' continues a line; '#' starts a comment line. Errors are
// Invalid("FILE:LINE: reason").
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace cfs::builder {

struct Instruction {
  std::string keyword;  // upper case: "FROM", "RUN", ...
  std::string raw;      // the arguments as written (continuations joined)
  // Parsed arguments: COPY sources+dest, JSON-form RUN/CMDS/LAUNCH items,
  // ENV/LABEL as alternating key, value; ARG as name (and default).
  std::vector<std::string> args;
  bool json_form = false;  // RUN/CMDS/LAUNCH given as a JSON array
  bool arg_has_default = false;
  int line = 0;  // first line of the instruction (1-based)
};

struct Kubefile {
  std::string path;  // for messages
  std::vector<Instruction> instructions;
};

// Parses text; path names it in messages.
Result<Kubefile> ParseKubefile(const std::string& text, const std::string& path);

// Expands $name and ${name} (and ${name:-default}) from vars; "\$" keeps a
// literal '$'; an unknown name expands to "". Quotes are left alone.
std::string Expand(const std::string& s, const std::vector<std::pair<std::string, std::string>>& vars);

// Splits shell-like words: whitespace separates, "..." and '...' group,
// backslash escapes. Invalid for an unterminated quote.
Result<std::vector<std::string>> SplitWords(const std::string& s);

}  // namespace cfs::builder
