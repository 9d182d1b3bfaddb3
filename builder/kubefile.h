// The Kubefile: sealer's build file. Parsing only (builder/builder.h runs it).
//
//   FROM [--platform=os/arch[/variant]] image|scratch   first instruction
//   ARG name[=default]            ${name} / $name in later instructions; --build-arg
//   ENV k=v [k=v...] | ENV k v    image environment (also seen by RUN)
//   LABEL k=v [k=v...]            image labels
//   MAINTAINER text
//   COPY src... dest              from the build context (or http(s) URLs) into the rootfs
//   ADD src... dest               COPY, except that a local tar archive (plain,
//                                 gzip, bzip2, xz, zstd) is unpacked into dest,
//                                 as buildah does for sealer (builder/archive.h)
//   RUN cmd | RUN ["exe","arg"]   on the build host, in the merged rootfs
//   CMD cmd                       repeatable: run at deploy on the first master, in
//                                 order, after the parent image's CMDs
//   CMDS ["cmd", ...] | CMDS a b  the commands run at deploy (the parent image's
//                                 are not inherited); unbracketed, as sealer:
//                                 every blank-separated word is one command
//   APP name src...               sealer's application: each src local://PATH (in the
//                                 context) or http(s)://URL, copied into
//                                 application/apps/NAME/ (a directory's contents)
//   CNI name src... | CSI name src...   an APP that is also labelled as the
//                                 cluster's CNI / CSI plugin
//   APPCMDS name ["cmd", ...]     the app's launch commands (instead of its type's)
//   APPENV name K=V...            the app's env (entries without '=' are ignored,
//                                 as sealer does)
//   LAUNCH ["app", ...] | LAUNCH app...   the apps launched at deploy
//   KUBEVERSION constraint        label app.alpha.sealer.io/supported-kube-version
// sealer's rules (build/kubefile/parser/kubefile.go): at most one CMDS and
// one LAUNCH, each the last instruction of the Kubefile (so never both), and
// no CMD with a LAUNCH. That an app named by APPCMDS, APPENV or LAUNCH exists
// (in this Kubefile or the FROM image) is checked by the build. Keywords are
// case-insensitive; a trailing '\' continues a line; '#' starts a comment
// line. Errors are Invalid("FILE:LINE: reason").
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
  // APP/CNI/CSI: name, then sources; APPCMDS: name, then commands; APPENV:
  // name, then alternating key, value; KUBEVERSION: the value.
  bool json_form = false;  // RUN/CMDS/LAUNCH/APPCMDS given as a JSON array
  std::string platform;    // FROM --platform= (as written, "" = none)
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

// True for a name sealer's app directories can take: one path component of
// letters, digits, '.', '_' and '-', not starting with '.' or '-'.
bool ValidAppName(const std::string& name);

}  // namespace cfs::builder
