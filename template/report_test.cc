#include "template/report.h"

#include <gtest/gtest.h>

namespace cfs::tmpl {
namespace {

const std::vector<std::string> kFields = {"ID", "Value", "CreatedAt", "Names"};

std::vector<Value> Rows() {
  return {Value::Map{{"ID", "c061a0839e"}, {"Value", "one"}, {"CreatedAt", "x"},
                     {"Names", Value::List{"a", "b"}}},
          Value::Map{{"ID", "1eb6fab5aa8f4b5cbfd3e66aa35e9b2a"}, {"Value", "<none>"},
                     {"CreatedAt", "y"}, {"Names", Value::List{}}}};
}

std::string Render(std::string_view format, std::string_view def = "table {{.ID}}") {
  auto r = Report::Parse(format, def, kFields, {{"ID", "IDENTITY"}});
  if (!r.ok()) return "error: " + r.status().message();
  auto out = r->Render(Rows());
  return out.ok() ? *out : "error: " + out.status().message();
}

TEST(ReportTest, TemplatePerRowWithEscapesAndNewline) {
  EXPECT_EQ(Render("{{.ID}}"), "c061a0839e\n1eb6fab5aa8f4b5cbfd3e66aa35e9b2a\n");
  EXPECT_EQ(Render("{{.ID}}\\t{{.Value}}"), "c061a0839e\tone\n1eb6fab5aa8f4b5cbfd3e66aa35e9b2a\t<none>\n");
  EXPECT_EQ(Render("{{.Value}}\n"), "one\n<none>\n");  // no second newline
  EXPECT_EQ(Render("{{.Value}}\\n"), "one\n<none>\n");
}

TEST(ReportTest, TableHasHeaderAndAlignedColumns) {
  // podman's own expectation for this data (containers/common formatter_test).
  EXPECT_EQ(Render("table {{.ID}}\\t{{.Value}}"),
            "IDENTITY                          VALUE\n"
            "c061a0839e                        one\n"
            "1eb6fab5aa8f4b5cbfd3e66aa35e9b2a  <none>\n");
  // A space of a table format is a column break too; headers split camel case.
  EXPECT_EQ(Render("table {{.Value}} {{.CreatedAt}}"),
            "VALUE       CREATED AT\none         x\n<none>      y\n");
  // "table" alone is the command's default table.
  EXPECT_EQ(Render("table", "table {{.Value}}"), "VALUE\none\n<none>\n");
}

TEST(ReportTest, PodmanFunctions) {
  EXPECT_EQ(Render("{{json .Names}} {{json .Value}}"), "[\"a\",\"b\"] \"one\"\n[] \"<none>\"\n");
  EXPECT_EQ(Render("{{join .Names \",\"}}|{{truncate .ID 4}}|{{pad .Value 1 2}}|"),
            "a,b|c061| one  |\n|1eb6| <none>  |\n");
  EXPECT_EQ(Render("{{range split .CreatedAt \"\"}}[{{.}}]{{end}}"), "[x]\n[y]\n");
  EXPECT_EQ(Render("{{json .}}"),
            "{\"CreatedAt\":\"x\",\"ID\":\"c061a0839e\",\"Names\":[\"a\",\"b\"],\"Value\":\"one\"}\n"
            "{\"CreatedAt\":\"y\",\"ID\":\"1eb6fab5aa8f4b5cbfd3e66aa35e9b2a\",\"Names\":[],"
            "\"Value\":\"<none>\"}\n");
}

TEST(ReportTest, ErrorsAreOneLineWithTheColumn) {
  EXPECT_EQ(Render("{{.ID}"), "error: format:1:6: unrecognized character in action: U+007D");
  std::string e = Render("{{.Nope}}");
  EXPECT_NE(e.find("format:1:3"), std::string::npos) << e;
  EXPECT_NE(e.find("map has no entry for key \"Nope\""), std::string::npos) << e;
  // In a table the header row already names the missing field.
  EXPECT_NE(Render("table {{.Nope}}").find("\"Nope\""), std::string::npos);
  EXPECT_NE(Render("{{nosuch .ID}}").find("function \"nosuch\" not defined"), std::string::npos);
  EXPECT_EQ(Render("a\nb{{.ID}").find('\n'), std::string::npos);
}

TEST(ReportTest, JsonFormatAndHeaders) {
  EXPECT_TRUE(IsJsonFormat("json"));
  EXPECT_TRUE(IsJsonFormat("  json\n"));
  EXPECT_FALSE(IsJsonFormat("{{json .}}"));
  EXPECT_FALSE(IsJsonFormat("jsonx"));
  EXPECT_EQ(HeaderOf("CreatedAt"), "CREATED AT");
  EXPECT_EQ(HeaderOf("ID"), "ID");
  EXPECT_EQ(HeaderOf("IDMap"), "ID MAP");
  EXPECT_EQ(HeaderOf("Repository"), "REPOSITORY");
}

TEST(ReportTest, JsonKeepsOwnEscapes) {
  auto r = Report::Parse("{{json .ID}}", "", kFields);
  ASSERT_TRUE(r.ok());
  auto out = r->Render({Value::Map{{"ID", "a\\u003cb<&>\"\n"}}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out, "\"a\\\\u003cb<&>\\\"\\n\"\n");
}

TEST(ReportTest, AlignColumnsWidensToWidestCell) {
  EXPECT_EQ(AlignColumns("a\tb\tc\nlonger-than-twelve\tx\ty"),
            "a                   b           c\nlonger-than-twelve  x           y\n");
}

TEST(ReportTest, FuncsGivenToParseOverrideBuiltins) {
  auto t = Template::Parse("{{upper .}}", "t",
                           {{"upper", 1, 1, [](const std::vector<Value>&) -> Result<Value> {
                               return Value("overridden");
                             }}});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->Execute(Value("x")).value(), "overridden");
  // Without them, sprig's upper.
  EXPECT_EQ(Render("{{upper .Value}}"), "ONE\n<NONE>\n");
}

}  // namespace
}  // namespace cfs::tmpl
