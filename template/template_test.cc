// Rows of {template, expected output} or {template, expected error}, run on
// one data map. Expected outputs are Go's (the text/template and sprig
// documentation's examples, and what Go prints for the rest); expected
// errors carry NAME:LINE:COL ("t" is the name every row parses under).
#include "template/template.h"

#include <gtest/gtest.h>

#include <thread>

namespace cfs::tmpl {
namespace {

Value Data() {
  Value::Map m{
      {"name", "world"},
      {"n", 3},
      {"zero", 0},
      {"f", 1.5},
      {"t", true},
      {"empty", ""},
      {"list", Value::List{"a", "b", "c"}},
      {"nums", Value::List{1, 2, 3}},
      {"nolist", Value::List{}},
      {"m", Value::Map{{"b", 2}, {"a", 1}, {"c", 3}}},
      {"nested", Value::Map{{"x", Value::Map{{"y", "deep"}}}}},
      {"nil", Value()},
  };
  return Value(std::move(m));
}

struct Row {
  const char* tmpl;
  const char* want;           // the output, when err is null
  const char* err = nullptr;  // else a part of the error message
};

const Row kRows[] = {
    // Text and actions.
    {"hello", "hello"},
    {"{{.name}}", "world"},
    {"{{ .name }}!", "world!"},
    {"{{.n}} {{.f}} {{.t}} {{.zero}}", "3 1.5 true 0"},
    {"{{.list}} {{.nums}} {{.nolist}}", "[a b c] [1 2 3] []"},
    {"{{.m}}", "map[a:1 b:2 c:3]"},
    {"{{.nested.x.y}}", "deep"},
    {"{{.nil}}", "<no value>"},
    {"{{$.name}} {{$.nested.x.y}}", "world deep"},
    {"{{ print\n  \"multi\" \"line\" }}", "multiline"},
    // Comments.
    {"a{{/* comment */}}b", "ab"},
    {"a {{- /* c */ -}} b", "ab"},
    {"a{{/* multi\nline */}}b", "ab"},
    // Trimming: the doc's example, then both sides and newlines.
    {"{{23 -}} < {{- 45}}", "23<45"},
    {"a  \n\t{{- .name}}", "aworld"},
    {"{{.name -}}  \n  x", "worldx"},
    {"x {{- 3 -}} y", "x3y"},
    {"{{-3}}", "-3"},
    {"{{if .t -}}\n  yes\n{{- end}}", "yes"},
    // Literals.
    {"{{\"a\\tb\"}}", "a\tb"},
    {"{{`raw\\n`}}", "raw\\n"},
    {"{{\"\\u00e9\\x41\\101\"}}",
     "\xC3\xA9"
     "AA"},
    {"{{'a'}} {{'\\n'}}", "97 10"},
    {"{{0x1F}} {{0o17}} {{017}} {{0b101}} {{1_000}}", "31 15 15 5 1000"},
    {"{{1e3}} {{1.0}} {{2.50}} {{-2}}", "1000 1 2.5 -2"},
    {"{{0.000001}} {{1234567.0}} {{123456.0}}", "1e-06 1.234567e+06 123456"},
    {"{{true}} {{false}}", "true false"},
    // The doc's examples, all printing "output" quoted.
    {"{{\"\\\"output\\\"\"}}", "\"output\""},
    {"{{`\"output\"`}}", "\"output\""},
    {"{{printf \"%q\" \"output\"}}", "\"output\""},
    {"{{\"output\" | printf \"%q\"}}", "\"output\""},
    {"{{printf \"%q\" (print \"out\" \"put\")}}", "\"output\""},
    {"{{\"put\" | printf \"%s%s\" \"out\" | printf \"%q\"}}", "\"output\""},
    {"{{\"output\" | printf \"%s\" | printf \"%q\"}}", "\"output\""},
    {"{{with \"output\"}}{{printf \"%q\" .}}{{end}}", "\"output\""},
    {"{{with $x := \"output\" | printf \"%q\"}}{{$x}}{{end}}", "\"output\""},
    {"{{with $x := \"output\"}}{{printf \"%q\" $x}}{{end}}", "\"output\""},
    {"{{with $x := \"output\"}}{{$x | printf \"%q\"}}{{end}}", "\"output\""},
    // Pipelines and parentheses.
    {"{{.name | upper | printf \"<%s>\"}}", "<WORLD>"},
    {"{{printf \"%d\" (len .list)}}", "3"},
    {"{{(index .list 1)}}", "b"},
    {"{{(.nested).x.y}}", "deep"},
    // Variables and their scope.
    {"{{$x := .name}}{{$x}}", "world"},
    {"{{$x := 1}}{{$x = 2}}{{$x}}", "2"},
    {"{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}", "21"},
    {"{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "2"},
    {"{{with $x := .name}}{{$x}}{{end}}", "world"},
    {"{{if $x := .zero}}{{else}}{{$x}}{{end}}", "0"},
    {"{{if true}}{{$y := 1}}{{end}}{{$y}}", nullptr, "t:1:32: undefined variable \"$y\""},
    {"{{$x = 1}}", nullptr, "t:1:3: undefined variable \"$x\""},
    {"{{$x, $y := 1}}", nullptr, "too many declarations in command"},
    // range.
    {"{{range $i, $v := .list}}{{$i}}={{$v}} {{end}}", "0=a 1=b 2=c "},
    {"{{range $v := .list}}{{$v}}{{end}}", "abc"},
    {"{{range $k, $v := .m}}{{$k}}{{$v}}{{end}}", "a1b2c3"},
    {"{{range .m}}{{.}}{{end}}", "123"},
    {"{{range .nolist}}x{{else}}none{{end}}", "none"},
    {"{{range .nil}}x{{else}}nil{{end}}", "nil"},
    {"{{range .list}}{{if eq . \"b\"}}{{break}}{{end}}{{.}}{{end}}", "a"},
    {"{{range .list}}{{if eq . \"b\"}}{{continue}}{{end}}{{.}}{{end}}", "ac"},
    {"{{range $.list}}{{$.name}}{{end}}", "worldworldworld"},
    {"{{range .list}}{{$x := .}}{{$x}}{{end}}", "abc"},
    {"{{range 3}}{{.}}{{end}}", "012"},
    {"{{range .name}}{{end}}", nullptr,
     "t:1:9: executing \"t\" at <.name>: range can't iterate over world"},
    {"{{break}}", nullptr, "t:1:3: {{break}} outside {{range}}"},
    // if.
    {"{{if .t}}yes{{end}}", "yes"},
    {"{{if .zero}}yes{{else}}no{{end}}", "no"},
    {"{{if .empty}}a{{else if .n}}b{{else}}c{{end}}", "b"},
    {"{{if .empty}}a{{else if .zero}}b{{else}}c{{end}}", "c"},
    {"{{if .nolist}}a{{else}}b{{end}}{{if .nil}}a{{else}}b{{end}}{{if .f}}c{{end}}", "bbc"},
    {"{{if and .t .n}}a{{end}}", "a"},
    // with.
    {"{{with .nested.x}}{{.y}}{{end}}", "deep"},
    {"{{with .empty}}a{{else}}b{{end}}", "b"},
    {"{{with .empty}}a{{else with .name}}{{.}}{{end}}", "world"},
    {"{{with .zero}}a{{else with .empty}}b{{else}}c{{end}}", "c"},
    // define, template, block.
    {"{{define \"T1\"}}ONE{{end}}{{define \"T2\"}}TWO{{end}}"
     "{{define \"T3\"}}{{template \"T1\"}} {{template \"T2\"}}{{end}}{{template \"T3\"}}",
     "ONE TWO"},
    {"{{define \"x\"}}[{{.}}]{{end}}{{template \"x\" .name}}", "[world]"},
    {"{{define \"x\"}}{{.}}{{end}}{{range .list}}{{template \"x\" .}}{{end}}", "abc"},
    {"{{block \"b\" .name}}<{{.}}>{{end}}", "<world>"},
    {"{{define \"x\"}}{{$}}{{end}}{{template \"x\" 5}}", "5"},
    {"{{define \"x\"}}{{.}}{{end}}{{template \"x\"}}", "<no value>"},
    {"{{define \"r\"}}{{if .}}{{.}}{{template \"r\" (slice . 1)}}{{end}}{{end}}{{template \"r\" "
     "\"abc\"}}",
     "abcbcc"},
    {"{{define \"x\"}}{{.missing}}{{end}}{{template \"x\" .}}", nullptr,
     "t:1:17: executing \"x\" at <.missing>: map has no entry for key \"missing\""},
    {"{{template \"nope\"}}", nullptr, "t:1:3: executing \"t\": template \"nope\" not defined"},
    {"{{template \"r\"}}{{define \"r\"}}{{template \"r\"}}{{end}}", nullptr,
     "exceeded maximum template depth (1000)"},
    {"{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}", nullptr,
     "t:1:25: template: multiple definition of template \"a\""},
    {"{{if 1}}{{define \"x\"}}{{end}}{{end}}", nullptr,
     "t:1:11: {{define}} is allowed only at the top level"},
    // Go's builtins.
    {"{{and 1 0 2}} {{and 1 2}} {{or 0 \"\" \"x\"}} {{or 0 \"\"}}|", "0 2 x |"},
    {"{{and false .missing}} {{or true .missing}}", "false true"},
    {"{{not 0}} {{not \"a\"}}", "true false"},
    {"{{len .name}} {{len .list}} {{len .m}}", "5 3 3"},
    {"{{index .list 2}} {{index .m \"b\"}} {{index .nested \"x\" \"y\"}}", "c 2 deep"},
    {"{{index .m \"zz\"}}", "<no value>"},
    {"{{slice .name 1 3}} {{slice .list 1}} {{slice .list}}", "or [b c] [a b c]"},
    {"{{print \"a\" 1 2 \"b\"}}", "a1 2b"},
    {"{{println \"a\" 1}}", "a 1\n"},
    {"{{printf \"%5d|%-5s|%05.2f|%x|%X|%q|%v|%t\" 42 \"ab\" 3.14159 255 \"hi\" \"q\" .list true}}",
     "   42|ab   |03.14|ff|6869|\"q\"|[a b c]|true"},
    {"{{printf \"%d %s\" 1}}", "1 %!s(MISSING)"},
    {"{{printf \"%d\" \"x\"}}", "%!d(string=x)"},
    {"{{printf \"%s\" 1 2}}", "%!s(int=1)%!(EXTRA int=2)"},
    {"{{printf \"%v %v %v\" 1.5 1e21 .m}}", "1.5 1e+21 map[a:1 b:2 c:3]"},
    {"{{printf \"%.3f %e %g %6.2f%%\" 2.0 1234.5678 0.00001 12.5}}",
     "2.000 1.234568e+03 1e-05  12.50%"},
    {"{{eq 1 1}} {{eq \"a\" \"b\" \"a\"}} {{ne 1 2}}", "true true true"},
    {"{{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge \"b\" \"a\"}} {{lt 1.5 2.5}}",
     "true true false true true"},
    {"{{html \"<a href='x'>&\\\"</a>\"}}", "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;"},
    {"{{js \"it's <b> \\\"q\\\" \\\\ =\\n\"}}",
     "it\\'s \\u003Cb\\u003E \\\"q\\\" \\\\ \\u003D\\u000A"},
    {"{{urlquery \"a b&c=d/\\u00e9\"}}", "a+b%26c%3Dd%2F%C3%A9"},
    {"{{html 1 2}}", "1 2"},
    {"{{index .list 5}}", nullptr,
     "t:1:3: executing \"t\" at <index>: error calling index: index out of range: 5"},
    {"{{eq 1 \"a\"}}", nullptr,
     "error calling eq: incompatible types for comparison: int and string"},
    {"{{lt true false}}", nullptr, "error calling lt: invalid type for comparison"},
    {"{{eq .list .list}}", nullptr, "non-comparable type [a b c]: []interface {}"},
    {"{{eq .nil nil}} {{eq .nil \"a\"}} {{eq \"a\" .nil}}", "true false false"},
    {"{{len 3}}", nullptr, "error calling len: len of type int"},
    {"{{printf}}", nullptr, "wrong number of args for printf: want at least 1 got 0"},
    // sprig.
    {"{{.name | b64enc}} {{\"d29ybGQ=\" | b64dec}}", "d29ybGQ= world"},
    {"{{b64dec \"!!\"}}", nullptr, "error calling b64dec"},
    {"{{quote \"a\\\"b\" 1}} {{squote \"a\"}}", "\"a\\\"b\" \"1\" 'a'"},
    {"{{.empty | default \"foo\"}} {{.name | default \"foo\"}} {{index . \"absent\" | default "
     "\"d\"}}",
     "foo world d"},
    {"{{empty .nolist}} {{empty .n}} {{coalesce .empty .zero \"x\"}}", "true false x"},
    {"{{required \"name is required\" .name}}", "world"},
    {"{{required \"need it\" .empty}}", nullptr,
     "t:1:3: executing \"t\" at <required>: error calling required: need it"},
    {"{{ternary \"yes\" \"no\" .t}} {{true | ternary \"a\" \"b\"}}", "yes a"},
    {"{{upper \"abc\"}} {{lower \"ABC\"}} {{title \"hello world\"}}", "ABC abc Hello World"},
    {"{{trim \"  x  \"}}|{{trimAll \"$\" \"$5.00$\"}}|{{trimPrefix \"-\" \"-x\"}}|{{trimSuffix "
     "\".tmpl\" \"a.yml.tmpl\"}}",
     "x|5.00|x|a.yml"},
    {"{{replace \" \" \"-\" \"I Am Henry VIII\"}}", "I-Am-Henry-VIII"},
    {"{{contains \"cat\" \"catch\"}} {{hasPrefix \"cat\" \"catch\"}} {{hasSuffix \"ch\" "
     "\"catch\"}}",
     "true true true"},
    {"{{$a := split \"$\" \"foo$bar$baz\"}}{{$a._0}}{{$a._2}}", "foobaz"},
    {"{{splitList \",\" \"a,b,c\"}} {{splitList \",\" \"a,b\" | join \"+\"}}", "[a b c] a+b"},
    {"{{join \",\" .list}} {{join \"-\" (list 1 nil \"x\")}}", "a,b,c 1-x"},
    {"{{\"a\\nb\" | indent 2}}", "  a\n  b"},
    {"x:{{\"a\\nb\" | nindent 2}}", "x:\n  a\n  b"},
    {"{{repeat 3 \"ab\"}}", "ababab"},
    {"{{toJson .m}} {{toJson (list \"<x>\" 1.5 nil true)}}",
     "{\"a\":1,\"b\":2,\"c\":3} [\"\\u003cx\\u003e\",1.5,null,true]"},
    {"{{toString 5 | printf \"%q\"}} {{atoi \"42\"}} {{atoi \"x\"}}", "\"5\" 42 0"},
    {"{{int \"12\"}} {{int 3.9}} {{int \"0x10\"}}", "12 3 16"},
    {"{{list 1 \"a\"}} {{$d := dict \"k\" \"v\" \"n\" 1}}{{$d.k}}{{$d.n}}", "[1 a] v1"},
    {"{{hasKey . \"name\"}} {{hasKey . \"nope\"}}", "true false"},
    {"{{first .list}}{{last .list}} {{until 3}}", "ac [0 1 2]"},
    {"{{cat \"hello\" \"beautiful\" \"world\"}}|{{cat \"a\" nil 1}}", "hello beautiful world|a 1"},
    {"{{slice .list 1 2 3 4}}", nullptr, "wrong number of args for slice: want 1 to 4 got 5"},
    {"{{required \"two\\nlines\" .empty}}", nullptr, "error calling required: two\\nlines"},
    {"{{ (print\n  .missing) }}", nullptr,
     "t:2:3: executing \"t\" at <.missing>: map has no entry"},
    {"{{ (print\n \"a\") 1 }}", nullptr,
     "t:1:4: executing \"t\" at <(print\\n \"a\")>: can't give argument"},
    {"{{upper 5}}", nullptr, "error calling upper: wrong type for value; expected string; got int"},
    {"{{upper \"a\" \"b\"}}", nullptr,
     "t:1:3: executing \"t\" at <upper>: wrong number of args for upper: want 1 got 2"},
    // Execution errors, with where.
    {"{{ .missing }}", nullptr,
     "t:1:4: executing \"t\" at <.missing>: map has no entry for key \"missing\""},
    {"line1\n  {{ .nested.x.zz }}", nullptr,
     "t:2:6: executing \"t\" at <.nested.x.zz>: map has no entry for key \"zz\""},
    {"{{ .missing | default \"x\" }}", nullptr, "map has no entry for key \"missing\""},
    {"{{ if .missing }}{{ end }}", nullptr,
     "t:1:7: executing \"t\" at <.missing>: map has no entry"},
    {"{{ nil }}", nullptr, "t:1:4: executing \"t\" at <nil>: nil is not a command"},
    {"{{ .name 1 }}", nullptr, "name is not a method but has arguments"},
    {"{{ $x := 1 }}{{ $x 2 }}", nullptr,
     "t:1:17: executing \"t\" at <$x>: can't give argument to non-function $x"},
    {"{{ 1 2 }}", nullptr, "can't give argument to non-function 1"},
    {"{{ .name.x }}", nullptr, "can't evaluate field x in type string"},
    {"{{ .nil.x }}", nullptr, "nil data; no entry for key \"x\""},
    // Parse errors, with where; an unknown function fails even where it
    // would never run.
    {"{{ foo }}", nullptr, "t:1:4: function \"foo\" not defined"},
    {"a\n{{ if .t }}x{{ foo 1 }}{{end}}", nullptr, "t:2:16: function \"foo\" not defined"},
    {"{{ if false }}{{ sha1sum . }}{{ end }}", nullptr, "t:1:18: function \"sha1sum\" not defined"},
    {"{{define \"x\"}}{{ nope }}{{end}}ok", nullptr, "function \"nope\" not defined"},
    {"ab\n{{ .name ", nullptr, "t:2:1: unclosed action"},
    {"{{end}}", nullptr, "t:1:3: unexpected {{end}}"},
    {"{{else}}", nullptr, "t:1:3: unexpected {{else}}"},
    {"x\n\n  {{if .t}}x", nullptr, "t:3:5: unexpected EOF: {{if}} has no {{end}}"},
    {"{{range .list}}", nullptr, "unexpected EOF: {{range}} has no {{end}}"},
    {"{{if 1}}{{else}}{{else}}{{end}}", nullptr, "t:1:19: expected {{end}}; found {{else}}"},
    {"{{ \"abc }}", nullptr, "t:1:4: unterminated quoted string"},
    {"{{ `abc }}", nullptr, "unterminated raw quoted string"},
    {"{{ /* x */ }}", nullptr, "t:1:4: unrecognized character in action: U+002F"},
    {"{{/* x */ y}}", nullptr, "comment ends before closing delimiter"},
    {"{{/* x", nullptr, "t:1:1: unclosed comment"},
    {"{{ (1 }}", nullptr, "t:1:7: unclosed left paren"},
    {"{{ 1) }}", nullptr, "t:1:5: unexpected right paren"},
    {"{{ .name | 3 }}", nullptr, "t:1:12: non executable command in pipeline stage 2"},
    {"{{ 09 }}", nullptr, "bad number syntax: \"09\""},
    {"{{ 1.2.3 }}", nullptr, "bad number syntax"},
    {"{{ if }}{{ end }}", nullptr, "t:1:7: missing value for if"},
    {"{{ . | }}", nullptr, "missing value for command"},
    {"{{ \"a\\q\" }}", nullptr, "unknown escape sequence"},
    {"{{ template .name }}", nullptr, "unexpected \".name\" in template clause"},
    {"{{ true.x }}", nullptr, "unexpected . after term"},
    {"{{ if else }}", nullptr, "unexpected \"else\" in operand"},
};

TEST(Template, Table) {
  const Value data = Data();
  int n = 0;
  for (const Row& r : kRows) {
    SCOPED_TRACE(std::string("row ") + std::to_string(n++) + ": " + r.tmpl);
    auto out = Render(r.tmpl, "t", data);
    if (r.err == nullptr) {
      ASSERT_TRUE(out.ok()) << out.status().message();
      EXPECT_EQ(*out, r.want);
      continue;
    }
    ASSERT_FALSE(out.ok()) << "output: " << *out;
    EXPECT_EQ(out.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(out.status().message().find(r.err), std::string::npos) << out.status().message();
    EXPECT_EQ(out.status().message().rfind("t:", 0), 0u) << out.status().message();
  }
  EXPECT_GE(n, 100);
}

TEST(Template, FromEnvIsAMapOfStrings) {
  Value env = Value::FromEnv({{"B", "2"}, {"A", "x y"}});
  auto out = Render("{{range $k, $v := .}}{{$k}}={{$v | quote}};{{end}}", "env", env);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out, "A=\"x y\";B=\"2\";");
}

TEST(Template, ParsedOnceRunsOnManyDataAndThreads) {
  auto t = Template::Parse("{{.ip}}{{if .m}} master{{end}}", "k.tmpl");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->name(), "k.tmpl");
  std::vector<std::string> outs(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; i++)
    threads.emplace_back([&, i] {
      auto r = t->Execute(Value(Value::Map{{"ip", std::to_string(i)}, {"m", i % 2 == 0}}));
      outs[i] = r.ok() ? *r : r.status().message();
    });
  for (auto& th : threads) th.join();
  for (int i = 0; i < 8; i++) EXPECT_EQ(outs[i], std::to_string(i) + (i % 2 == 0 ? " master" : ""));
  auto missing = t->Execute(Value(Value::Map{}));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "k.tmpl:1:3: executing \"k.tmpl\" at <.ip>: map has no entry for key \"ip\"");
}

TEST(Template, TheMainTemplateIsCalledByItsName) {
  auto out = Render("{{if .}}{{slice . 0 1}}-{{template \"r\" (slice . 1)}}{{end}}", "r", "abc");
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out, "a-b-c-");
}

TEST(Template, DeepNestingIsAnErrorNotACrash) {
  std::string deep;
  for (int i = 0; i < 200; i++) deep += "{{if 1}}";
  auto out = Render(deep, "deep", Value());
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("nested too deeply"), std::string::npos);
  // 90 nested blocks in a template that calls itself: the depth counts
  // blocks and calls together.
  std::string nested = "{{define \"r\"}}";
  for (int i = 0; i < 90; i++) nested += "{{if 1}}";
  nested += "{{template \"r\"}}";
  for (int i = 0; i < 90; i++) nested += "{{end}}";
  nested += "{{end}}{{template \"r\"}}";
  auto rec = Render(nested, "rec", Value());
  ASSERT_FALSE(rec.ok());
  EXPECT_NE(rec.status().message().find("exceeded maximum template depth (1000)"),
            std::string::npos);
  std::string parens = "{{" + std::string(200, '(') + "1" + std::string(200, ')') + "}}";
  EXPECT_FALSE(Render(parens, "p", Value()).ok());
}

}  // namespace
}  // namespace cfs::tmpl
