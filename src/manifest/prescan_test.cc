#include "manifest/prescan.h"

#include <doctest/doctest.h>

#include <yaml-cpp/yaml.h>

namespace ecert {
namespace {

// The pre-scan's messages, one per line; "" when it lets the text through.
std::string prescan(std::string_view text) {
  Diagnostics diags;
  bool ok = prescan_manifest(text, "m.yaml", &diags);
  std::string out;
  for (const auto& d : diags) out += d.str() + "\n";
  CHECK(ok == out.empty());
  return out;
}

const char* kOpenQuote =
    "unclosed quote: this \" is not closed before line 3; close it where the value ends (a "
    "quoted value that goes on over several lines must indent them more than its key)\n";

TEST_CASE("an unclosed quote is reported where it opens, not where yaml-cpp stops") {
  const std::string text =
      "defaults:\n  organization: \"Example Company Limited\n  key:\n    bits: 2048\n"
      "sites:\n  - name: www.myserver.com\n";
  // yaml-cpp reads on to the end of the file and finds no error at all.
  CHECK(YAML::Load(text)["defaults"]["organization"].as<std::string>().size() > 64);
  CHECK(prescan(text) == std::string("m.yaml:2:17: error: ") + kOpenQuote);
}

TEST_CASE("an unclosed quote at the end of the file") {
  const std::string msg =
      "m.yaml:2:4: error: unclosed quote: this ' is not closed before the end of the file; "
      "close it where the value ends (a quoted value that goes on over several lines must "
      "indent them more than its key)\n";
  CHECK(prescan("a: 1\nb: 'x\n") == msg);
  // Without a final line end yaml-cpp says "illegal EOF in scalar" at the end instead.
  CHECK_THROWS_AS(YAML::Load("a: 1\nb: 'x"), YAML::ParserException);
  CHECK(prescan("a: 1\nb: 'x") == msg);
  // A document marker inside the value: yaml-cpp's "illegal document indicator in scalar".
  CHECK(prescan("a: 1\nb: \"x\n---\n") == std::string("m.yaml:2:4: error: ") + kOpenQuote);
}

TEST_CASE("a line that continues a quoted value must be indented more than its key") {
  CHECK(prescan("a:\n  b: \"one\n    two\"\n  c: d\n") == "");
  CHECK(prescan("a:\n  b: \"one\n\n   two\"\n") == "");  // blank lines are part of the value
  CHECK(prescan("a:\n  b: \"one\n  two\"\n") == std::string("m.yaml:2:6: error: ") + kOpenQuote);
  CHECK(prescan("sites:\n  - name: 'one\n    two'\n") == "");
  CHECK(prescan("x: [\"a\",\n  \"b\n  c\"]\n") == "");  // flow lines follow the same rule
  CHECK(prescan("x: [\"a\",\n  \"b\nc\"]\n") ==
        "m.yaml:2:3: error: unclosed quote: this \" is not closed before line 3; close it where "
        "the value ends (a quoted value that goes on over several lines must indent them more "
        "than its key)\n");
}

TEST_CASE("only a quote where a value starts opens a quoted value") {
  // Each of these is a plain scalar with a quote character inside.
  CHECK(prescan("organization: O'Brien Ltd\nb: c\n") == "");
  CHECK(prescan("organization: Smith - 'Best\nb: c\n") == "");
  CHECK(prescan("a: x, \"y\nb: c\n") == "");
  CHECK(prescan("a:\"b\nc: d\n") == "");
  CHECK(prescan("a: b # it's a comment\nc: d\n") == "");
  // Escapes and doubled quotes do not close the value.
  CHECK(prescan("a: 'it''s\nb: c'\n") == "m.yaml:1:4: error: unclosed quote: this ' is not "
                                          "closed before line 2; close it where the value ends "
                                          "(a quoted value that goes on over several lines must "
                                          "indent them more than its key)\n");
  CHECK(prescan("a: \"say \\\"hi\\\"\"\nb: c\n") == "");
  // Keys and flow entries start values too.
  CHECK(prescan("\"a b\": c\n{\"k\":\"v\", 'w': [\"x\", 'y']}\n") == "");
  CHECK(prescan("- - \"x\n- y\n").find("m.yaml:1:5: error: unclosed quote") == 0);
  // Inside a block scalar nothing opens.
  CHECK(prescan("a: |\n  \"not a quote\n  'nor this\nb: c\n") == "");
}

TEST_CASE("tabs and nesting are still reported, each once") {
  CHECK(prescan("a:\n\tb: 1\n\tc: 2\n") == "m.yaml:2:1: error: tab in indentation; indent with spaces\n");
  CHECK(prescan("a: " + std::string(70, '[') + std::string(70, ']') + "\n") ==
        "m.yaml:1:67: error: nesting is deeper than 64 levels; a manifest needs no more than 6\n");
  // Brackets inside a plain scalar open no flow.
  CHECK(prescan("a: x" + std::string(70, '[') + "\n") == "");
}

}  // namespace
}  // namespace ecert
