#include "apache/lexer.h"

#include <doctest/doctest.h>

using namespace ecert::apache;
using Kind = LogicalLine::Kind;

TEST_CASE("lexer: kinds, offsets and line numbers") {
  std::string text = "# comment\n\n  <VirtualHost *:443 [::]:443>\r\n\tServerName a.example.com\r\n</virtualhost>";
  auto lines = tokenize(text);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0].kind == Kind::kComment);
  CHECK(lines[1].kind == Kind::kBlank);
  CHECK(lines[2].kind == Kind::kSectionOpen);
  CHECK(lines[2].name == "VirtualHost");
  CHECK(lines[2].line == 3);
  CHECK(lines[2].indent == "  ");
  CHECK(lines[2].eol == "\r\n");
  REQUIRE(lines[2].args.size() == 2);
  CHECK(lines[2].args[1].value == "[::]:443");
  CHECK(text.substr(lines[2].args[1].begin, lines[2].args[1].end - lines[2].args[1].begin) == "[::]:443");
  CHECK(lines[3].is("servername"));
  CHECK(lines[3].indent == "\t");
  CHECK(lines[4].kind == Kind::kSectionClose);
  CHECK(lines[4].is("VirtualHost"));
  CHECK(lines[4].eol == "");
  CHECK(lines[4].end == text.size());
}

TEST_CASE("lexer: quotes, escaped quotes, '#' mid-line is an argument") {
  std::string text = "SSLCertificateFile \"/etc/my certs/a.pem\" 'it\\'s' a#b # c\n";
  auto lines = tokenize(text);
  REQUIRE(lines.size() == 1);
  REQUIRE(lines[0].args.size() == 5);
  CHECK(lines[0].args[0].value == "/etc/my certs/a.pem");
  CHECK(text.substr(lines[0].args[0].begin, lines[0].args[0].end - lines[0].args[0].begin) ==
        "\"/etc/my certs/a.pem\"");
  CHECK(lines[0].args[1].value == "it's");
  CHECK(lines[0].args[2].value == "a#b");
  CHECK(lines[0].args[3].value == "#");
}

TEST_CASE("lexer: continuation lines join; a doubled backslash does not continue") {
  std::string text = "SSLCertificateFile \\\r\n    /etc/a.pem\nX a\\\\\nY\n";
  auto lines = tokenize(text);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].line == 1);
  CHECK(lines[0].last_line == 2);
  CHECK(lines[0].continued());
  REQUIRE(lines[0].args.size() == 1);
  CHECK(lines[0].args[0].value == "/etc/a.pem");
  CHECK(text.substr(lines[0].args[0].begin, 10) == "/etc/a.pem");
  CHECK(lines[1].line == 3);
  CHECK(lines[1].args[0].value == "a\\\\");
  CHECK(lines[2].line == 4);
}

TEST_CASE("lexer: odd inputs do not crash") {
  CHECK(tokenize("").empty());
  CHECK(tokenize("\xEF\xBB\xBF").empty());
  auto bom = tokenize("\xEF\xBB\xBFServerName x\n");
  REQUIRE(bom.size() == 1);
  CHECK(bom[0].name == "ServerName");
  auto tail = tokenize("A \\\n");
  REQUIRE(tail.size() == 1);
  CHECK(tail[0].last_line == 1);
  auto open = tokenize("<VirtualHost *:443\n");
  REQUIRE(open.size() == 1);
  CHECK(!open[0].error.empty());
  std::string long_line = "ServerAlias " + std::string(100000, 'a') + "\n";
  CHECK(tokenize(long_line)[0].args[0].value.size() == 100000);
  auto comment_cont = tokenize("# a \\\nServerName x\nB\n");
  REQUIRE(comment_cont.size() == 2);  // the continued comment swallows the next line, as in Apache
  CHECK(comment_cont[0].kind == Kind::kComment);
}

TEST_CASE("lexer: each line keeps its logical text; a substituted text is split again like a line") {
  std::string text = "  ServerAlias a.example.com \\\r\n     b.example.com\r\n<IfDefine ${X}>\n";
  auto lines = tokenize(text);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].text == "  ServerAlias a.example.com      b.example.com");
  CHECK(lines[1].text == "<IfDefine ${X}>");

  LogicalLine section = parse_logical_line("<IfDefine  !STAGING > # trailing");
  CHECK(section.kind == Kind::kSectionOpen);
  CHECK(section.name == "IfDefine");
  CHECK(section.text.substr(section.name_end) == "  !STAGING > # trailing");
  REQUIRE(section.args.size() == 1);
  CHECK(section.args[0].value == "!STAGING");

  // Values substituted from the environment may hold any blank, a newline too (apr_isspace).
  LogicalLine directive = parse_logical_line("ServerAlias \"x y\"\nz\t'w'");
  CHECK(directive.kind == Kind::kDirective);
  REQUIRE(directive.args.size() == 3);
  CHECK(directive.args[0].value == "x y");
  CHECK(directive.args[1].value == "z");
  CHECK(directive.args[2].value == "w");

  CHECK(split_arguments("  \"/srv/a b\" !x 'it\\'s'  ") == std::vector<std::string>{"/srv/a b", "!x", "it's"});
  CHECK(split_arguments("   ").empty());
}
