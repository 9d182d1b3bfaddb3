// Kubefile parsing (ParseKubefile), variable expansion (Expand) and word
// splitting (SplitWords): builder/kubefile.h.
#include "builder/kubefile.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace cfs::builder {
namespace {

using Strings = std::vector<std::string>;
using Vars = std::vector<std::pair<std::string, std::string>>;

Kubefile MustParse(const std::string& text) {
  auto r = ParseKubefile(text, "Kubefile");
  EXPECT_TRUE(r.ok()) << "rejected:\n" << text << "\n-> " << r.status().ToString();
  return r.ok() ? *r : Kubefile{};
}

// Parses "FROM scratch\n" + body and returns the instruction(s) after FROM.
std::vector<Instruction> Body(const std::string& body) {
  Kubefile kf = MustParse("FROM scratch\n" + body);
  if (kf.instructions.empty()) return {};
  return {kf.instructions.begin() + 1, kf.instructions.end()};
}

// Expects text to be rejected as Invalid with "Kubefile:LINE: " and `why` in
// the message; returns the message.
std::string ExpectError(const std::string& text, int line, const std::string& why) {
  auto r = ParseKubefile(text, "Kubefile");
  EXPECT_FALSE(r.ok()) << "accepted:\n" << text;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << r.status().message();
  const std::string& m = r.status().message();
  const std::string where = "Kubefile:" + std::to_string(line) + ": ";
  EXPECT_EQ(m.rfind(where, 0), 0u) << "message does not start \"" << where << "\": " << m;
  EXPECT_NE(m.find(why), std::string::npos) << "message lacks \"" << why << "\": " << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << "not one line: " << m;
  return m;
}

// ----------------------------------------------------------------- structure

TEST(ParseKubefile, MinimalFromScratch) {
  Kubefile kf = MustParse("FROM scratch\n");
  ASSERT_EQ(kf.instructions.size(), 1u);
  EXPECT_EQ(kf.path, "Kubefile");
  EXPECT_EQ(kf.instructions[0].keyword, "FROM");
  EXPECT_EQ(kf.instructions[0].args, Strings{"scratch"});
  EXPECT_EQ(kf.instructions[0].raw, "scratch");
  EXPECT_EQ(kf.instructions[0].line, 1);
}

TEST(ParseKubefile, NoTrailingNewline) {
  Kubefile kf = MustParse("FROM scratch\nRUN echo hi");
  ASSERT_EQ(kf.instructions.size(), 2u);
  EXPECT_EQ(kf.instructions[1].raw, "echo hi");
}

TEST(ParseKubefile, PathIsUsedInMessages) {
  auto r = ParseKubefile("FROM scratch\nBOGUS x\n", "ctx/My.kubefile");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("ctx/My.kubefile:2: ", 0), 0u) << r.status().message();
}

TEST(ParseKubefile, KeywordsAreCaseInsensitive) {
  Kubefile kf = MustParse(
      "from scratch\n"
      "Arg A=1\n"
      "eNv E=2\n"
      "label L=3\n"
      "maintainer me\n"
      "cOpY a b\n"
      "run echo\n"
      "Cmd kubectl get nodes\n"
      "cmds [\"x\"]\n");
  ASSERT_EQ(kf.instructions.size(), 9u);
  Strings kws;
  for (const auto& in : kf.instructions) kws.push_back(in.keyword);
  EXPECT_EQ(kws,
            (Strings{"FROM", "ARG", "ENV", "LABEL", "MAINTAINER", "COPY", "RUN", "CMD", "CMDS"}));
  // arguments keep their case
  EXPECT_EQ(kf.instructions[7].raw, "kubectl get nodes");
  // LAUNCH may not share a Kubefile with CMDS: on its own
  auto launch = Body("Launch [\"app\"]\n");
  ASSERT_EQ(launch.size(), 1u);
  EXPECT_EQ(launch[0].keyword, "LAUNCH");
}

TEST(ParseKubefile, CommentsAndBlankLinesAreSkippedAndLinesCounted) {
  Kubefile kf = MustParse(
      "# a comment before FROM\n"  // 1
      "\n"                         // 2
      "FROM scratch\n"             // 3
      "   # an indented comment\n" // 4
      "  \t \n"                    // 5
      "\n"                         // 6
      "RUN echo one\n"             // 7
      "#RUN echo commented out\n"  // 8
      "  RUN   echo two  \n");     // 9
  ASSERT_EQ(kf.instructions.size(), 3u);
  EXPECT_EQ(kf.instructions[0].line, 3);
  EXPECT_EQ(kf.instructions[1].line, 7);
  EXPECT_EQ(kf.instructions[1].raw, "echo one");
  EXPECT_EQ(kf.instructions[2].line, 9);
  EXPECT_EQ(kf.instructions[2].raw, "echo two");  // trimmed both ends
}

TEST(ParseKubefile, HashInsideAnInstructionIsNotAComment) {
  auto in = Body("RUN echo a # not a comment\n");
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].raw, "echo a # not a comment");
  EXPECT_EQ(in[0].args, Strings{"echo a # not a comment"});
}

TEST(ParseKubefile, CrLfLineEndings) {
  Kubefile kf = MustParse("FROM scratch\r\nRUN echo hi\r\nCMD a \\\r\n  b\r\n");
  ASSERT_EQ(kf.instructions.size(), 3u);
  EXPECT_EQ(kf.instructions[1].raw, "echo hi");
  EXPECT_EQ(kf.instructions[2].raw.find('\r'), std::string::npos) << kf.instructions[2].raw;
  auto w = SplitWords(kf.instructions[2].raw);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, (Strings{"a", "b"}));
}

TEST(ParseKubefile, LineContinuations) {
  Kubefile kf = MustParse(
      "FROM scratch\n"   // 1
      "RUN echo a \\\n"  // 2
      "    b \\\n"       // 3
      "    c\n"          // 4
      "ENV X=1\n");      // 5
  ASSERT_EQ(kf.instructions.size(), 3u);
  const Instruction& run = kf.instructions[1];
  EXPECT_EQ(run.keyword, "RUN");
  EXPECT_EQ(run.line, 2);  // the first line of the instruction
  EXPECT_EQ(run.raw.find('\\'), std::string::npos) << run.raw;
  EXPECT_EQ(run.raw.find('\n'), std::string::npos) << run.raw;
  // the words survive, in order, separated by whitespace
  auto w = SplitWords(run.raw);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, (Strings{"echo", "a", "b", "c"}));
  EXPECT_EQ(kf.instructions[2].keyword, "ENV");
  EXPECT_EQ(kf.instructions[2].line, 5);
}

TEST(ParseKubefile, ContinuationWithCommentLinesInside) {
  Kubefile kf = MustParse(
      "FROM scratch\n"           // 1
      "RUN echo a \\\n"          // 2
      "# a comment inside\n"     // 3
      "    # another, indented\n"// 4
      "    b\n"                  // 5
      "CMD x\n");                // 6
  ASSERT_EQ(kf.instructions.size(), 3u);
  const Instruction& run = kf.instructions[1];
  EXPECT_EQ(run.line, 2);
  EXPECT_EQ(run.raw.find("comment"), std::string::npos) << run.raw;
  EXPECT_EQ(run.raw.find("another"), std::string::npos) << run.raw;
  auto w = SplitWords(run.raw);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, (Strings{"echo", "a", "b"}));
  EXPECT_EQ(kf.instructions[2].keyword, "CMD");
  EXPECT_EQ(kf.instructions[2].line, 6);
}

TEST(ParseKubefile, ContinuationAtEndOfFile) {
  Kubefile kf = MustParse("FROM scratch\nRUN echo a \\\n");
  ASSERT_EQ(kf.instructions.size(), 2u);
  EXPECT_EQ(kf.instructions[1].raw, "echo a");
}

TEST(ParseKubefile, LineNumbersAfterContinuationsInErrors) {
  // line 5 is the bad one: the continuation joined lines 2-4
  ExpectError(
      "FROM scratch\n"
      "RUN echo a \\\n"
      "  b \\\n"
      "  c\n"
      "NOPE x\n",
      5, "NOPE");
}

TEST(ParseKubefile, EmptyFileIsAnError) {
  for (const std::string& text : {std::string(""), std::string("\n\n"), std::string("# only\n# comments\n")}) {
    auto r = ParseKubefile(text, "Kubefile");
    ASSERT_FALSE(r.ok()) << "accepted: \"" << text << "\"";
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("Kubefile"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("FROM"), std::string::npos) << r.status().message();
  }
}

// ----------------------------------------------------------------------- FROM

TEST(ParseKubefile, FromMustBeFirst) {
  std::string m = ExpectError(
      "# header\n"
      "\n"
      "RUN echo hi\n"
      "FROM scratch\n",
      3, "FROM must be the first instruction");
  EXPECT_NE(m.find("RUN"), std::string::npos) << m;
}

TEST(ParseKubefile, FromMustBeFirstEvenForConfigInstructions) {
  ExpectError("ENV A=1\nFROM scratch\n", 1, "FROM must be the first");
  ExpectError("ARG V=1\nFROM base:$V\n", 1, "FROM must be the first");
}

TEST(ParseKubefile, FromOnlyOnce) {
  ExpectError(
      "FROM scratch\n"
      "RUN echo\n"
      "\n"
      "from other\n",
      4, "FROM may appear only once");
}

TEST(ParseKubefile, FromTakesOneName) {
  ExpectError("FROM a b\n", 1, "FROM takes one image name");
  ExpectError("FROM\n", 1, "FROM needs an argument");
  ExpectError("FROM   \n", 1, "needs an argument");
}

TEST(ParseKubefile, FromImageName) {
  Kubefile kf = MustParse("FROM registry.example.com:5000/ns/base:v1.2@sha256:abc\n");
  ASSERT_EQ(kf.instructions.size(), 1u);
  EXPECT_EQ(kf.instructions[0].args, Strings{"registry.example.com:5000/ns/base:v1.2@sha256:abc"});
}

// --------------------------------------------------------- unknown keywords

TEST(ParseKubefile, UnknownInstructionNamedWithItsLine) {
  std::string m = ExpectError(
      "FROM scratch\n"
      "RUN echo\n"
      "\n"
      "# comment\n"
      "WORKDIR /tmp\n",
      5, "unknown instruction");
  EXPECT_NE(m.find("WORKDIR"), std::string::npos) << m;
}

TEST(ParseKubefile, UnknownInstructionKeepsItsSpelling) {
  std::string m = ExpectError("FROM scratch\nexpose 80\n", 2, "unknown instruction");
  EXPECT_NE(m.find("expose"), std::string::npos) << m;
}

TEST(ParseKubefile, UnknownInstructionAsTheFirstLine) {
  ExpectError("FORM scratch\n", 1, "unknown instruction \"FORM\"");
}

TEST(ParseKubefile, DockerOnlyInstructionsAreUnknown) {
  for (const char* kw : {"WORKDIR", "USER", "ENTRYPOINT", "EXPOSE", "VOLUME", "SHELL",
                         "HEALTHCHECK", "ONBUILD", "STOPSIGNAL"}) {
    std::string m = ExpectError(std::string("FROM scratch\n") + kw + " x\n", 2, "unknown instruction");
    EXPECT_NE(m.find(kw), std::string::npos) << m;
  }
}

TEST(ParseKubefile, InstructionsNeedArguments) {
  for (const char* kw : {"ARG", "ENV", "LABEL", "COPY", "ADD", "RUN", "CMDS", "LAUNCH",
                         "MAINTAINER", "APP", "APPCMDS", "APPENV", "CNI", "CSI", "KUBEVERSION"})
    ExpectError(std::string("FROM scratch\n") + kw + "\n", 2, kw);
}

// ------------------------------------------------------------------------ ARG

TEST(ParseKubefile, ArgNameOnly) {
  auto in = Body("ARG Version\n");
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].args, Strings{"Version"});
  EXPECT_FALSE(in[0].arg_has_default);
}

TEST(ParseKubefile, ArgWithDefault) {
  auto in = Body(
      "ARG Version=v1.2.3\n"
      "ARG _under_score9=x\n"
      "ARG Empty=\n"
      "ARG Quoted=\"a b\"\n"
      "ARG Ref=${Version}-rc\n");
  ASSERT_EQ(in.size(), 5u);
  EXPECT_EQ(in[0].args, (Strings{"Version", "v1.2.3"}));
  EXPECT_TRUE(in[0].arg_has_default);
  EXPECT_EQ(in[1].args, (Strings{"_under_score9", "x"}));
  EXPECT_EQ(in[2].args, (Strings{"Empty", ""}));
  EXPECT_TRUE(in[2].arg_has_default);  // "=" with nothing: a default of ""
  EXPECT_EQ(in[3].args, (Strings{"Quoted", "a b"}));
  EXPECT_EQ(in[4].args, (Strings{"Ref", "${Version}-rc"}));  // expanded at build time
}

TEST(ParseKubefile, ArgBadNames) {
  for (const char* bad : {"ARG 1abc=x", "ARG a-b=x", "ARG =x", "ARG a.b", "ARG a b", "ARG $x=1"}) {
    std::string m = ExpectError(std::string("FROM scratch\n\n") + bad + "\n", 3, "ARG");
    EXPECT_NE(m.find("bad name"), std::string::npos) << bad << ": " << m;
  }
}

TEST(ParseKubefile, ArgOnePerLine) {
  ExpectError("FROM scratch\nARG a=1 b=2\n", 2, "one name");
}

TEST(ParseKubefile, ArgUnterminatedQuote) {
  ExpectError("FROM scratch\nARG a=\"x\n", 2, "unterminated");
}

// ------------------------------------------------------------------ ENV/LABEL

TEST(ParseKubefile, EnvKeyValuePairs) {
  auto in = Body("ENV k=v k2=\"v 2\" k3='single q' K4=\n");
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].keyword, "ENV");
  EXPECT_EQ(in[0].args, (Strings{"k", "v", "k2", "v 2", "k3", "single q", "K4", ""}));
}

TEST(ParseKubefile, EnvValueWithEquals) {
  auto in = Body("ENV OPTS=a=b,c=d\n");
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].args, (Strings{"OPTS", "a=b,c=d"}));
}

TEST(ParseKubefile, EnvLegacyForm) {
  auto in = Body("ENV k v\nENV PATH /usr/local/bin:/usr/bin   and more words\n");
  ASSERT_EQ(in.size(), 2u);
  EXPECT_EQ(in[0].args, (Strings{"k", "v"}));
  // the value is the rest of the line
  EXPECT_EQ(in[1].args, (Strings{"PATH", "/usr/local/bin:/usr/bin   and more words"}));
}

TEST(ParseKubefile, EnvErrors) {
  ExpectError("FROM scratch\nENV lonely\n", 2, "ENV");
  ExpectError("FROM scratch\nENV a=1 =2\n", 2, "not key=value");
  ExpectError("FROM scratch\nENV a=1 b\n", 2, "not key=value");
  ExpectError("FROM scratch\nENV bad-name=1\n", 2, "bad name");
  ExpectError("FROM scratch\nENV 9x=1\n", 2, "bad name");
  ExpectError("FROM scratch\nENV a=\"open\n", 2, "unterminated");
}

TEST(ParseKubefile, Label) {
  auto in = Body(
      "LABEL io.cimg.version=1.0 \"maintainer name\"=\"A B\" empty=\n"
      "LABEL legacy some value\n");
  ASSERT_EQ(in.size(), 2u);
  EXPECT_EQ(in[0].keyword, "LABEL");
  // label keys need not be identifiers (dots, spaces)
  EXPECT_EQ(in[0].args, (Strings{"io.cimg.version", "1.0", "maintainer name", "A B", "empty", ""}));
  EXPECT_EQ(in[1].args, (Strings{"legacy", "some value"}));
  ExpectError("FROM scratch\nLABEL a=1 =2\n", 2, "not key=value");
  ExpectError("FROM scratch\nLABEL onlykey\n", 2, "LABEL");
}

TEST(ParseKubefile, Maintainer) {
  auto in = Body("MAINTAINER Jane Doe <jane@example.com>\n");
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].args, Strings{"Jane Doe <jane@example.com>"});
}

// ----------------------------------------------------------------------- COPY

TEST(ParseKubefile, CopySeveralSources) {
  auto in = Body("COPY a b/c \"with space\" dest/\n");
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].args, (Strings{"a", "b/c", "with space", "dest/"}));
  EXPECT_FALSE(in[0].json_form);
}

TEST(ParseKubefile, CopyDotDot) {
  auto in = Body("COPY . .\n");
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].args, (Strings{".", "."}));
}

TEST(ParseKubefile, CopyJsonForm) {
  auto in = Body("COPY [\"a b\", \"c\", \"/dest dir/\"]\n");
  ASSERT_EQ(in.size(), 1u);
  EXPECT_TRUE(in[0].json_form);
  EXPECT_EQ(in[0].args, (Strings{"a b", "c", "/dest dir/"}));
}

TEST(ParseKubefile, CopyOptionsRefused) {
  std::string m = ExpectError("FROM scratch\nRUN x\nCOPY --chown=1000:1000 a b\n", 3, "--chown");
  EXPECT_NE(m.find("not supported"), std::string::npos) << m;
  ExpectError("FROM scratch\nCOPY --from=builder /a /b\n", 2, "--from");
  ExpectError("FROM scratch\nCOPY [\"--chmod=644\", \"a\", \"b\"]\n", 2, "--chmod");
}

TEST(ParseKubefile, CopyNeedsSourceAndDestination) {
  ExpectError("FROM scratch\nCOPY onlyone\n", 2, "COPY needs a source and a destination");
  ExpectError("FROM scratch\nCOPY [\"onlyone\"]\n", 2, "COPY needs a source and a destination");
  ExpectError("FROM scratch\nCOPY \"a b\n", 2, "unterminated");
}

// ------------------------------------------------------------------------ RUN

TEST(ParseKubefile, RunShellForm) {
  auto in = Body("RUN echo \"$Version\" > /x && rm -rf 'a b'\n");
  ASSERT_EQ(in.size(), 1u);
  EXPECT_FALSE(in[0].json_form);
  // the shell gets the text as written (quotes, $ and all)
  EXPECT_EQ(in[0].args, Strings{"echo \"$Version\" > /x && rm -rf 'a b'"});
}

TEST(ParseKubefile, RunJsonForm) {
  auto in = Body("RUN [\"/bin/sh\", \"-c\", \"echo hi > out\"]\n");
  ASSERT_EQ(in.size(), 1u);
  EXPECT_TRUE(in[0].json_form);
  EXPECT_EQ(in[0].args, (Strings{"/bin/sh", "-c", "echo hi > out"}));
}

TEST(ParseKubefile, RunBracketsThatAreNotJsonAreShellForm) {
  auto in = Body("RUN [ -f /etc/x ] && echo yes\nRUN [1, 2]\n");
  ASSERT_EQ(in.size(), 2u);
  EXPECT_FALSE(in[0].json_form);
  EXPECT_EQ(in[0].args, Strings{"[ -f /etc/x ] && echo yes"});
  EXPECT_FALSE(in[1].json_form);  // not a list of strings
  EXPECT_EQ(in[1].args, Strings{"[1, 2]"});
}

TEST(ParseKubefile, RunEmptyJsonList) {
  ExpectError("FROM scratch\nRUN []\n", 2, "empty list");
}

// ------------------------------------------------------------ CMD/CMDS/LAUNCH

TEST(ParseKubefile, CmdRepeatedInOrder) {
  auto in = Body(
      "CMD kubectl apply -f manifests/a.yaml\n"
      "CMD [\"kubectl\", \"get\", \"nodes\"]\n"
      "CMD helm install x\n");
  ASSERT_EQ(in.size(), 3u);
  EXPECT_EQ(in[0].args, Strings{"kubectl apply -f manifests/a.yaml"});
  EXPECT_FALSE(in[0].json_form);
  EXPECT_EQ(in[1].args, Strings{"[\"kubectl\", \"get\", \"nodes\"]"});
  EXPECT_TRUE(in[1].json_form);
  EXPECT_EQ(in[2].args, Strings{"helm install x"});
  for (const auto& i : in) EXPECT_EQ(i.keyword, "CMD");
}

TEST(ParseKubefile, CmdNeedsACommand) {
  ExpectError("FROM scratch\nCMD\n", 2, "CMD");
  ExpectError("FROM scratch\nCMD    \n", 2, "CMD");
}

TEST(ParseKubefile, CmdsAndLaunchJsonLists) {
  auto cmds = Body("CMDS [\"kubectl apply -f a.yaml\", \"kubectl apply -f b.yaml\"]\n");
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].keyword, "CMDS");
  EXPECT_TRUE(cmds[0].json_form);
  EXPECT_EQ(cmds[0].args, (Strings{"kubectl apply -f a.yaml", "kubectl apply -f b.yaml"}));
  auto launch = Body("LAUNCH [\"calico\", \"app\"]\n");
  ASSERT_EQ(launch.size(), 1u);
  EXPECT_EQ(launch[0].keyword, "LAUNCH");
  EXPECT_TRUE(launch[0].json_form);
  EXPECT_EQ(launch[0].args, (Strings{"calico", "app"}));
}

// sealer (build/kubefile/parser/kubefile.go): one CMDS and one LAUNCH at
// most, each the last instruction.
TEST(ParseKubefile, CmdsOrLaunchOnceAndLast) {
  for (const char* kw : {"CMDS", "LAUNCH"}) {
    std::string k = kw;
    std::string m = ExpectError("FROM scratch\n" + k + " [\"a\"]\n" + k + " [\"b\", \"c\"]\n", 3,
                                "only one " + k);
    EXPECT_NE(m.find("line 2"), std::string::npos) << m;
    m = ExpectError("FROM scratch\n" + k + " [\"a\"]\n# c\n\nRUN true\n", 5,
                    k + " must be the last instruction");
    EXPECT_NE(m.find("line 2"), std::string::npos) << m;
    ExpectError("FROM scratch\n" + k + " [\"a\"]\nCMD x\n", 3, "must be the last");
  }
  auto in = Body("CMD a\nCMD b\nCMDS [\"c\"]\n");
  ASSERT_EQ(in.size(), 3u);
  EXPECT_EQ(in[2].args, Strings{"c"});
}

// CMD goes with CMDS, not with LAUNCH.
TEST(ParseKubefile, CmdWithCmdsNotLaunch) {
  EXPECT_EQ(Body("CMD a\nCMDS [\"b\"]\n").size(), 2u);
  std::string m = ExpectError("FROM scratch\nCMD a\nAPP app local://x\nLAUNCH [\"app\"]\n", 4,
                              "CMD and LAUNCH cannot be used together");
  EXPECT_NE(m.find("CMD is on line 2"), std::string::npos) << m;
}

// sealer: CMDS and LAUNCH exclude each other; the error names the later one.
TEST(ParseKubefile, CmdsAndLaunchTogetherRefused) {
  std::string m = ExpectError("FROM scratch\nCMDS [\"a\"]\nLAUNCH [\"app\"]\n", 3,
                              "CMDS and LAUNCH cannot be used together");
  EXPECT_NE(m.find("CMDS is on line 2"), std::string::npos) << m;
  m = ExpectError("FROM scratch\nLAUNCH [\"app\"]\nCMDS [\"a\"]\n", 3,
                  "CMDS and LAUNCH cannot be used together");
  EXPECT_NE(m.find("LAUNCH is on line 2"), std::string::npos) << m;
  // lines counted across comments, blank lines and continuations; keywords in any case
  ExpectError(
      "FROM scratch\n"         // 1
      "cmds [\"a\", \\\n"      // 2
      "      \"b\"]\n"          // 3
      "# a comment\n"          // 4
      "\n"                     // 5
      "Launch [\"app\"]\n",    // 6
      6, "CMDS and LAUNCH cannot be used together");
  // a bad list is reported as such, not as the pair
  ExpectError("FROM scratch\nCMDS [\"a\"]\nLAUNCH [1]\n", 3, "JSON");
}

// sealer (parseMaybeJSONToList): unbracketed, every blank-separated word is
// a command of its own, quotes not special; a bracketed list must be JSON
// strings.
TEST(ParseKubefile, CmdsShellFormIsOneCommandAWord) {
  auto in = Body("CMDS kubectl\t apply  \"-f x\"\n");
  ASSERT_EQ(in.size(), 1u);
  EXPECT_FALSE(in[0].json_form);
  EXPECT_EQ(in[0].args, (Strings{"kubectl", "apply", "\"-f", "x\""}));
  in = Body("CMDS {\"a\": \"b\"}\n");  // not a list: words too
  EXPECT_EQ(in[0].args, (Strings{"{\"a\":", "\"b\"}"}));
  for (const char* kw : {"CMDS", "LAUNCH"}) {
    std::string k = kw;
    ExpectError("FROM scratch\n\n" + k + " [\"unterminated\"\n", 3, "JSON");
    ExpectError("FROM scratch\n" + k + " [1, 2]\n", 2, "JSON");  // not strings
    ExpectError("FROM scratch\n" + k + " []\n", 2, "empty list");
  }
}

// sealer's fixture build_with_launch: "LAUNCH myapp" (plain words).
TEST(ParseKubefile, LaunchWords) {
  auto in = Body("APP myapp local://app.yaml\nLAUNCH myapp other\n");
  ASSERT_EQ(in.size(), 2u);
  EXPECT_EQ(in[1].keyword, "LAUNCH");
  EXPECT_FALSE(in[1].json_form);
  EXPECT_EQ(in[1].args, (Strings{"myapp", "other"}));
  ExpectError("FROM scratch\nLAUNCH ../etc\n", 2, "bad app name");
  ExpectError("FROM scratch\nLAUNCH [\"a/b\"]\n", 2, "bad app name");
}

// ------------------------------------------------------- sealer's app instructions

// sealer's fixture build_with_appcmds, line for line.
TEST(ParseKubefile, SealerAppFixture) {
  auto in = Body(
      "APP yamlapp local://yamlcontext\n"
      "APP shellapp local://shellcontext\n"
      "APP mixedapp local://install.sh local://mixedcontext\n"
      "APPCMDS mixedapp [\"kubectl apply -f app.yaml\"]\n"
      "LAUNCH [\"mixedapp\",\"shellapp\"]\n");
  ASSERT_EQ(in.size(), 5u);
  EXPECT_EQ(in[0].keyword, "APP");
  EXPECT_EQ(in[0].args, (Strings{"yamlapp", "local://yamlcontext"}));
  EXPECT_EQ(in[2].args, (Strings{"mixedapp", "local://install.sh", "local://mixedcontext"}));
  EXPECT_EQ(in[3].keyword, "APPCMDS");
  EXPECT_EQ(in[3].args, (Strings{"mixedapp", "kubectl apply -f app.yaml"}));
  EXPECT_EQ(in[4].args, (Strings{"mixedapp", "shellapp"}));
}

TEST(ParseKubefile, AppSources) {
  auto in = Body("app web local://a.yaml https://example.com/b.yaml http://x/c.sh\n"
                 "CNI calico local://calico\nCSI [\"openebs\", \"local://openebs\"]\n");
  ASSERT_EQ(in.size(), 3u);
  EXPECT_EQ(in[0].args.size(), 4u);
  EXPECT_EQ(in[1].keyword, "CNI");
  EXPECT_EQ(in[1].args, (Strings{"calico", "local://calico"}));
  EXPECT_EQ(in[2].keyword, "CSI");
  EXPECT_EQ(in[2].args, (Strings{"openebs", "local://openebs"}));
  for (const char* kw : {"APP", "CNI", "CSI"}) {
    std::string k = kw;
    ExpectError("FROM scratch\n" + k + " web\n", 2, "needs a name and at least one source");
    ExpectError("FROM scratch\n" + k + " web a.yaml\n", 2, "must start with local://");
    ExpectError("FROM scratch\n" + k + " web ftp://x/a\n", 2, "must start with local://");
    ExpectError("FROM scratch\n" + k + " web local://\n", 2, "empty local:// path");
    ExpectError("FROM scratch\n" + k + " ../web local://a\n", 2, "bad app name");
    ExpectError("FROM scratch\n" + k + " .hidden local://a\n", 2, "bad app name");
  }
}

TEST(ParseKubefile, AppCmds) {
  auto in = Body("APPCMDS web [\"kubectl apply -f a.yaml\", \"echo done\"]\n");
  ASSERT_EQ(in.size(), 1u);
  EXPECT_TRUE(in[0].json_form);
  EXPECT_EQ(in[0].args, (Strings{"web", "kubectl apply -f a.yaml", "echo done"}));
  ExpectError("FROM scratch\nAPPCMDS web kubectl apply\n", 2, "JSON list");
  ExpectError("FROM scratch\nAPPCMDS web\n", 2, "JSON list");
  ExpectError("FROM scratch\nAPPCMDS [\"a\"]\n", 2, "bad app name");
  ExpectError("FROM scratch\nAPPCMDS web []\n", 2, "empty list");
  ExpectError("FROM scratch\nAPPCMDS web [1]\n", 2, "JSON list");
}

TEST(ParseKubefile, AppEnv) {
  auto in = Body("APPENV web A=1 B=\"x y\" ignored C=\n");
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].args, (Strings{"web", "A", "1", "B", "x y", "C", ""}));
  ExpectError("FROM scratch\nAPPENV web 1A=x\n", 2, "bad name \"1A\"");
  ExpectError("FROM scratch\nAPPENV web A-B=x\n", 2, "bad name");
  ExpectError("FROM scratch\nAPPENV a/b A=1\n", 2, "bad app name");
  ExpectError("FROM scratch\nAPPENV web A=\"x\n", 2, "unterminated");
}

TEST(ParseKubefile, KubeVersion) {
  auto in = Body("KUBEVERSION >=v1.22.0 <v1.26\n");
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].args, Strings{">=v1.22.0 <v1.26"});
}

TEST(ParseKubefile, AddIsCopy) {
  auto in = Body("ADD a b /dst/\nadd [\"x y\", \"z\"]\n");
  ASSERT_EQ(in.size(), 2u);
  EXPECT_EQ(in[0].keyword, "ADD");
  EXPECT_EQ(in[0].args, (Strings{"a", "b", "/dst/"}));
  EXPECT_TRUE(in[1].json_form);
  ExpectError("FROM scratch\nADD a\n", 2, "ADD needs a source and a destination");
  ExpectError("FROM scratch\nADD --chown=1 a b\n", 2, "ADD: options");
}

TEST(ParseKubefile, FromPlatform) {
  Kubefile kf = MustParse("FROM --platform=linux/arm64 base:1\nRUN true\n");
  ASSERT_EQ(kf.instructions.size(), 2u);
  EXPECT_EQ(kf.instructions[0].platform, "linux/arm64");
  EXPECT_EQ(kf.instructions[0].args, Strings{"base:1"});
  EXPECT_EQ(MustParse("FROM base:1 --platform=${P}\n").instructions[0].platform, "${P}");
  EXPECT_EQ(MustParse("FROM scratch\n").instructions[0].platform, "");
  ExpectError("FROM --arch=arm64 base\n", 1, "only --platform");
  ExpectError("FROM --platform= base\n", 1, "not supported");
  ExpectError("FROM --platform=linux/arm64\n", 1, "one image name");
}

// --------------------------------------------------------------------- Expand

TEST(Expand, Forms) {
  Vars v = {{"x", "1"}, {"name", "world"}};
  EXPECT_EQ(Expand("$x", v), "1");
  EXPECT_EQ(Expand("${x}", v), "1");
  EXPECT_EQ(Expand("a$x.b", v), "a1.b");  // a name ends at a non-name char
  EXPECT_EQ(Expand("${x}y", v), "1y");
  EXPECT_EQ(Expand("hello $name and ${name}!", v), "hello world and world!");
  EXPECT_EQ(Expand("no vars here", v), "no vars here");
  EXPECT_EQ(Expand("", v), "");
}

TEST(Expand, LongestNameIsTaken) {
  Vars v = {{"x", "1"}, {"xy", "2"}};
  EXPECT_EQ(Expand("$xy", v), "2");
  EXPECT_EQ(Expand("$xyz", v), "");  // "xyz" is unknown; not "$x" + "yz"
  EXPECT_EQ(Expand("${x}yz", v), "1yz");
}

TEST(Expand, Default) {
  Vars v = {{"set", "val"}, {"empty", ""}};
  EXPECT_EQ(Expand("${unset:-def}", v), "def");
  EXPECT_EQ(Expand("${empty:-def}", v), "def");  // ":-" also covers set-but-empty
  EXPECT_EQ(Expand("${set:-def}", v), "val");
  EXPECT_EQ(Expand("${unset:-}", v), "");
  EXPECT_EQ(Expand("${unset:-a b/c}-x", v), "a b/c-x");
}

TEST(Expand, EscapedDollarIsLiteral) {
  Vars v = {{"x", "1"}};
  EXPECT_EQ(Expand("\\$x", v), "$x");
  EXPECT_EQ(Expand("\\${x}", v), "${x}");
  EXPECT_EQ(Expand("cost \\$5 and $x", v), "cost $5 and 1");
  // a backslash before anything else stays
  EXPECT_EQ(Expand("a\\nb", v), "a\\nb");
}

TEST(Expand, UnknownIsEmpty) {
  Vars v = {{"x", "1"}};
  EXPECT_EQ(Expand("[$nope]", v), "[]");
  EXPECT_EQ(Expand("[${nope}]", v), "[]");
  EXPECT_EQ(Expand("$X", v), "");  // names are case-sensitive
}

TEST(Expand, LastDefinitionWins) {
  Vars v = {{"x", "first"}, {"y", "why"}, {"x", "second"}};
  EXPECT_EQ(Expand("$x", v), "second");
  EXPECT_EQ(Expand("${x}", v), "second");
  EXPECT_EQ(Expand("${x:-d}", v), "second");
  // an empty last definition still wins (and then the default applies)
  Vars e = {{"x", "first"}, {"x", ""}};
  EXPECT_EQ(Expand("[$x]", e), "[]");
  EXPECT_EQ(Expand("${x:-d}", e), "d");
}

TEST(Expand, NotAVariable) {
  Vars v = {{"x", "1"}};
  EXPECT_EQ(Expand("$", v), "$");
  EXPECT_EQ(Expand("a$", v), "a$");
  EXPECT_EQ(Expand("$1", v), "$1");    // names do not start with a digit
  EXPECT_EQ(Expand("$-x", v), "$-x");
  EXPECT_EQ(Expand("100$ ", v), "100$ ");
  EXPECT_EQ(Expand("${x", v), "${x");  // unterminated brace: literal
}

TEST(Expand, QuotesAreLeftAlone) {
  Vars v = {{"x", "1"}};
  EXPECT_EQ(Expand("'$x' \"${x}\"", v), "'1' \"1\"");
}

TEST(Expand, ValuesAreNotReExpanded) {
  Vars v = {{"a", "$b"}, {"b", "bee"}};
  EXPECT_EQ(Expand("$a", v), "$b");
}

// ----------------------------------------------------------------- SplitWords

Strings MustSplit(const std::string& s) {
  auto r = SplitWords(s);
  EXPECT_TRUE(r.ok()) << s << ": " << r.status().ToString();
  return r.ok() ? *r : Strings{"<error>"};
}

TEST(SplitWords, Whitespace) {
  EXPECT_EQ(MustSplit("a b"), (Strings{"a", "b"}));
  EXPECT_EQ(MustSplit("  a \t\tb  c\n"), (Strings{"a", "b", "c"}));
  EXPECT_EQ(MustSplit(""), Strings{});
  EXPECT_EQ(MustSplit("   "), Strings{});
}

TEST(SplitWords, Quotes) {
  EXPECT_EQ(MustSplit("\"a b\" 'c  d'"), (Strings{"a b", "c  d"}));
  EXPECT_EQ(MustSplit("x\"a b\"y 'p'q"), (Strings{"xa by", "pq"}));  // quotes join a word
  EXPECT_EQ(MustSplit("k=\"v 2\""), Strings{"k=v 2"});
  EXPECT_EQ(MustSplit("\"it's\" 'say \"hi\"'"), (Strings{"it's", "say \"hi\""}));
}

TEST(SplitWords, EmptyQuotedWordIsKept) {
  EXPECT_EQ(MustSplit("a \"\" b ''"), (Strings{"a", "", "b", ""}));
}

TEST(SplitWords, Escapes) {
  EXPECT_EQ(MustSplit("a\\ b c"), (Strings{"a b", "c"}));
  EXPECT_EQ(MustSplit("\\\"x"), Strings{"\"x"});
  EXPECT_EQ(MustSplit("\"a\\\"b\""), Strings{"a\"b"});    // \" inside "..."
  EXPECT_EQ(MustSplit("\"a\\\\b\""), Strings{"a\\b"});    // \\ inside "..."
  EXPECT_EQ(MustSplit("\"a\\nb\""), Strings{"a\\nb"});    // other escapes stay in "..."
  EXPECT_EQ(MustSplit("'a\\b'"), Strings{"a\\b"});        // no escapes in '...'
  EXPECT_EQ(MustSplit("'a\\'"), Strings{"a\\"});
  EXPECT_EQ(MustSplit("end\\"), Strings{"end\\"});        // a trailing backslash stays
}

TEST(SplitWords, UnterminatedQuote) {
  for (const char* s : {"\"abc", "'abc", "a \"b c", "ok 'x", "\"a\\\"", "'"}) {
    auto r = SplitWords(s);
    ASSERT_FALSE(r.ok()) << "accepted [" << s << "]";
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << s;
    EXPECT_NE(r.status().message().find("unterminated"), std::string::npos) << r.status().message();
  }
}

TEST(ParseKubefile, NulByteIsRefusedWithItsLine) {
  using namespace std::string_literals;
  // Without the check, "RUN echo a" would silently lose "; rm -rf x".
  ExpectError("FROM scratch\nRUN echo a\0; rm -rf x\n"s, 2, "NUL byte");
  ExpectError("FROM scratch\n# comment\0\n"s, 2, "NUL byte");
  ExpectError("\0FROM scratch\n"s, 1, "NUL byte");
}

}  // namespace
}  // namespace cfs::builder
