#include "apache/sections.h"

#include <doctest/doctest.h>

#include <cstdlib>

using namespace ecert;
using namespace ecert::apache;
using Value = Verdict::Value;

namespace {

Value eval(const StartupState& state, std::string_view section, std::string_view args) {
  auto v = state.evaluate(section, args);
  REQUIRE_MESSAGE(v.is_ok(), v.status().message());
  return v->value;
}

std::string why(const StartupState& state, std::string_view section, std::string_view args) {
  auto v = state.evaluate(section, args);
  REQUIRE_MESSAGE(v.is_ok(), v.status().message());
  return v->why;
}

std::string refused(const StartupState& state, std::string_view section, std::string_view args) {
  auto v = state.evaluate(section, args);
  REQUIRE(!v.is_ok());
  return v.status().message();
}

struct Fixture {
  MemoryFileSystem fs;
  LoadOptions options;
  StartupState state() { return StartupState(options, fs, "/etc/apache2"); }
};

}  // namespace

TEST_CASE("defines_in_argv: -D NAME, -DNAME, clustered flags, other options' arguments skipped") {
  CHECK(defines_in_argv({"apache2ctl", "-D", "STAGING", "configtest"}) == std::vector<std::string>{"STAGING"});
  CHECK(defines_in_argv({"apache2", "-DSSL", "-t", "-D", "TWO"}) == std::vector<std::string>{"SSL", "TWO"});
  CHECK(defines_in_argv({"httpd", "-tDDUMP", "-XD", "X"}) == std::vector<std::string>{"DUMP", "X"});
  // -f, -C, -c, -d, -E, -e and -k take the next word: a "-D" there is not an option.
  CHECK(defines_in_argv({"httpd", "-f", "-D", "-C", "Define NOPE", "-k", "start", "-DYES"}) ==
        std::vector<std::string>{"YES"});
  CHECK(defines_in_argv({"httpd", "-D", "A", "--", "-D", "B"}) == std::vector<std::string>{"A"});
  CHECK(defines_in_argv({"-DPROGRAM", "configtest"}).empty());  // argv[0] is the program
  CHECK(defines_in_argv({"apache2ctl", "configtest"}).empty());
  CHECK(defines_in_argv({"apache2ctl", "-D"}).empty());  // no name follows
  CHECK(defines_in_argv({}).empty());
}

TEST_CASE("parse_compiled_modules reads apache2 -l and refuses anything else") {
  auto modules = parse_compiled_modules(
      "Compiled in modules:\n  core.c\n  mod_so.c\n  mod_watchdog.c\n  http_core.c\n  mod_log_config.c\n"
      "  mod_logio.c\n  mod_version.c\n  mod_unixd.c\n");
  REQUIRE(modules.is_ok());
  CHECK(*modules == debian_compiled_modules());
  auto crlf = parse_compiled_modules("Compiled in modules:\r\n  core.c\r\n  prefork.c\r\n");
  REQUIRE(crlf.is_ok());
  CHECK(*crlf == std::vector<std::string>{"core.c", "prefork.c"});

  auto other = parse_compiled_modules("Usage: apache2 [-D name] [-d directory]\n");
  REQUIRE(!other.is_ok());
  CHECK(other.status().message() ==
        "line 1 of the module list is \"Usage: apache2 [-D name] [-d directory]\", not \"Compiled in modules:\"; "
        "give the output of apache2 -l");
  auto bad = parse_compiled_modules("Compiled in modules:\n  core.c\n  ssl_module (shared)\n");
  REQUIRE(!bad.is_ok());
  CHECK(bad.status().message() ==
        "line 3 of the module list is \"ssl_module (shared)\", not a module source file name like mod_so.c; give the "
        "output of apache2 -l");
  CHECK(parse_compiled_modules("").status().message() == "the module list is empty; give the output of apache2 -l");
}

TEST_CASE("parse_server_version reads apache2 -v") {
  auto v = parse_server_version("Server version: Apache/2.4.62 (Debian)\nServer built:   2024-07-01T18:18:21\n");
  REQUIRE(v.is_ok());
  CHECK(v->major == 2);
  CHECK(v->minor == 4);
  CHECK(v->patch == 62);
  CHECK(!parse_server_version("nginx version: nginx/1.22.1").is_ok());
}

TEST_CASE("IfDefine: -D names, Define and UnDefine in order, negation, case-sensitive names") {
  Fixture f;
  f.options.defines = {"STAGING"};
  StartupState s = f.state();
  CHECK(eval(s, "IfDefine", "STAGING") == Value::kTrue);
  CHECK(eval(s, "ifdefine", " !STAGING") == Value::kFalse);  // section names are case-insensitive
  CHECK(eval(s, "IfDefine", "staging") == Value::kFalse);    // define names are not
  CHECK(eval(s, "IfDefine", "OTHER") == Value::kFalse);
  CHECK(eval(s, "IfDefine", "!OTHER") == Value::kTrue);
  CHECK(eval(s, "IfDefine", "! OTHER") == Value::kTrue);  // start_cond_section skips blanks after the '!'
  CHECK(eval(s, "IfDefine", "\"!OTHER\"") == Value::kFalse);  // quoted: a name starting with '!'
  s.define("OTHER", std::nullopt, "");
  CHECK(eval(s, "IfDefine", "OTHER") == Value::kTrue);
  s.undefine("STAGING", "");
  CHECK(eval(s, "IfDefine", "STAGING") == Value::kFalse);
  CHECK(refused(s, "IfDefine", "") == "<IfDefine> needs an argument; add one or remove the section");
  CHECK(refused(s, "IfDefine", "!") == "<IfDefine> needs an argument; add one or remove the section");
}

TEST_CASE("${NAME}: Define values, then the environment; Define without a value sets none; UnDefine removes it") {
  Fixture f;
  f.options.defines = {"FROM_ARGV"};
  StartupState s = f.state();
  ::setenv("ECERT_TEST_SECTIONS_ENV", "from-env", 1);
  s.define("DIR", "/srv/a b", "");
  auto sub = s.substitute("Include ${DIR}/x.conf ${ECERT_TEST_SECTIONS_ENV} ${FROM_ARGV} $HOME ${");
  CHECK(sub.text == "Include /srv/a b/x.conf from-env ${FROM_ARGV} $HOME ${");
  CHECK(sub.missing == "FROM_ARGV");
  CHECK(sub.unsure.empty());
  s.define("DIR", std::nullopt, "");  // keeps the value, as httpd's set_define does
  CHECK(s.substitute("${DIR}").text == "/srv/a b");
  s.define("ECERT_TEST_SECTIONS_ENV", "defined", "");
  CHECK(s.substitute("${ECERT_TEST_SECTIONS_ENV}").text == "defined");  // Define wins over the environment
  s.undefine("ECERT_TEST_SECTIONS_ENV", "");
  CHECK(s.substitute("${ECERT_TEST_SECTIONS_ENV}").text == "from-env");
  ::unsetenv("ECERT_TEST_SECTIONS_ENV");
  CHECK(s.substitute("no dollar").text == "no dollar");
}

TEST_CASE("IfModule: compiled-in and LoadModule'd modules by identifier and source file, case-sensitive") {
  Fixture f;
  StartupState s = f.state();  // Debian 12's apache2 -l by default
  CHECK(eval(s, "IfModule", "mod_version.c") == Value::kTrue);
  CHECK(eval(s, "IfModule", "version_module") == Value::kTrue);
  CHECK(eval(s, "IfModule", "core.c") == Value::kTrue);
  CHECK(eval(s, "IfModule", "http_module") == Value::kTrue);  // http_core.c's identifier
  CHECK(eval(s, "IfModule", "mod_ssl.c") == Value::kFalse);
  CHECK(eval(s, "IfModule", "!ssl_module") == Value::kTrue);
  s.load_module("ssl_module", "");
  CHECK(eval(s, "IfModule", "mod_ssl.c") == Value::kTrue);
  CHECK(eval(s, "IfModule", "ssl_module") == Value::kTrue);
  CHECK(eval(s, "IfModule", "!mod_ssl.c") == Value::kFalse);
  CHECK(eval(s, "IfModule", "MOD_SSL.C") == Value::kFalse);
  CHECK(eval(s, "IfModule", "mod_ssl") == Value::kFalse);
  s.load_module("mpm_event_module", "");
  CHECK(eval(s, "IfModule", "event.c") == Value::kTrue);
  s.load_module("php_module", "");  // outside the table: named by the same convention
  CHECK(eval(s, "IfModule", "mod_php.c") == Value::kTrue);
}

TEST_CASE("IfModule: the compiled-in list given replaces the default") {
  Fixture f;
  f.options.compiled_modules = {"core.c", "mod_so.c", "http_core.c", "prefork.c", "mod_ssl.c"};
  StartupState s = f.state();
  CHECK(eval(s, "IfModule", "ssl_module") == Value::kTrue);
  CHECK(eval(s, "IfModule", "mpm_prefork_module") == Value::kTrue);
  CHECK(eval(s, "IfModule", "mod_version.c") == Value::kFalse);
}

TEST_CASE("IfFile: absolute paths, relative to ServerRoot, directories, negation") {
  Fixture f;
  f.fs.add_file("/etc/apache2/conf-enabled/security.conf", "");
  f.fs.add_file("/srv/flag", "");
  StartupState s = f.state();
  CHECK(eval(s, "IfFile", "/srv/flag") == Value::kTrue);
  CHECK(eval(s, "IfFile", "\"/srv/flag\"") == Value::kTrue);
  CHECK(eval(s, "IfFile", "/srv/none") == Value::kFalse);
  CHECK(eval(s, "IfFile", "!/srv/none") == Value::kTrue);
  CHECK(eval(s, "IfFile", "conf-enabled/security.conf") == Value::kTrue);
  CHECK(eval(s, "IfFile", "conf-enabled") == Value::kTrue);
  s.set_server_root("/srv", "");
  CHECK(eval(s, "IfFile", "conf-enabled/security.conf") == Value::kFalse);
  CHECK(eval(s, "IfFile", "flag") == Value::kTrue);
}

TEST_CASE("IfDirective and IfSection: what the present modules register") {
  Fixture f;
  StartupState s = f.state();
  CHECK(eval(s, "IfDirective", "ServerName") == Value::kTrue);  // core
  CHECK(eval(s, "IfDirective", "servername") == Value::kTrue);  // case-insensitive, as ap_exists_directive
  CHECK(eval(s, "IfDirective", "LogFormat") == Value::kTrue);   // mod_log_config, compiled in
  CHECK(eval(s, "IfDirective", "SSLEngine") == Value::kFalse);
  CHECK(eval(s, "IfDirective", "!SSLEngine") == Value::kTrue);
  CHECK(eval(s, "IfDirective", "NoSuchDirective") == Value::kFalse);
  CHECK(eval(s, "IfSection", "VirtualHost") == Value::kTrue);
  CHECK(eval(s, "IfSection", "IfVersion") == Value::kTrue);  // mod_version, compiled in
  CHECK(eval(s, "IfSection", "Proxy") == Value::kFalse);
  CHECK(eval(s, "IfSection", "ServerName") == Value::kFalse);  // a directive, not a section
  s.load_module("ssl_module", "");
  s.load_module("headers_module", "");
  s.load_module("rewrite_module", "");
  s.load_module("alias_module", "");
  s.load_module("proxy_module", "");
  s.load_module("socache_shmcb_module", "");
  CHECK(eval(s, "IfDirective", "SSLEngine") == Value::kTrue);
  CHECK(eval(s, "IfDirective", "SSLCertificateChainFile") == Value::kTrue);
  CHECK(eval(s, "IfDirective", "RequestHeader") == Value::kTrue);
  CHECK(eval(s, "IfDirective", "RewriteEngine") == Value::kTrue);
  CHECK(eval(s, "IfDirective", "RedirectMatch") == Value::kTrue);
  CHECK(eval(s, "IfDirective", "ProxyPass") == Value::kTrue);
  CHECK(eval(s, "IfSection", "Proxy") == Value::kTrue);
  CHECK(eval(s, "IfSection", "ProxyMatch") == Value::kTrue);
}

TEST_CASE("IfDirective: a module outside the table makes an unregistered name unknown, not a known one") {
  Fixture f;
  StartupState s = f.state();
  s.load_module("security2_module", "");
  CHECK(eval(s, "IfDirective", "SecRuleEngine") == Value::kUnknown);
  CHECK(why(s, "IfDirective", "SecRuleEngine") ==
        "no module ecertctl knows registers SecRuleEngine, and it does not know which ones security2_module "
        "registers");
  CHECK(eval(s, "IfDirective", "!SecRuleEngine") == Value::kUnknown);
  CHECK(eval(s, "IfDirective", "SSLEngine") == Value::kFalse);  // mod_ssl's, and mod_ssl is not loaded
  CHECK(eval(s, "IfDirective", "ServerName") == Value::kTrue);

  Fixture g;
  g.options.compiled_modules = {"core.c", "mod_so.c", "mod_custom.c"};  // compiled in, outside the table
  CHECK(eval(g.state(), "IfSection", "CustomSection") == Value::kUnknown);
}

TEST_CASE("IfVersion: mod_version's operators against the version given") {
  Fixture f;
  f.options.version = ServerVersion{2, 4, 62};
  StartupState s = f.state();
  CHECK(eval(s, "IfVersion", ">= 2.4") == Value::kTrue);
  CHECK(eval(s, "IfVersion", "< 2.4") == Value::kFalse);
  CHECK(eval(s, "IfVersion", "2.4.62") == Value::kTrue);  // one argument: equality
  CHECK(eval(s, "IfVersion", "= 2.4") == Value::kFalse);  // 2.4 is 2.4.0
  CHECK(eval(s, "IfVersion", "== 2.4.62") == Value::kTrue);
  CHECK(eval(s, "IfVersion", "> 2.4.62") == Value::kFalse);
  CHECK(eval(s, "IfVersion", "<= 2.4.62") == Value::kTrue);
  CHECK(eval(s, "IfVersion", "!< 2.4.8") == Value::kTrue);
  CHECK(eval(s, "IfVersion", "!= 2.2") == Value::kTrue);
  CHECK(eval(s, "IfVersion", "~ ^2\\.4\\.[0-9]+$") == Value::kTrue);
  CHECK(eval(s, "IfVersion", "= /^2\\.2/") == Value::kFalse);
  CHECK(eval(s, "IfVersion", ">= \"2.4.8\"") == Value::kTrue);
  CHECK(refused(s, "IfVersion", "=> 2.4") == "<IfVersion> operator => is not one of = == < <= > >= ~ (! before any negates)");
  CHECK(refused(s, "IfVersion", "~= 2.4") == "<IfVersion> operator ~= is not one of = == < <= > >= ~ (! before any negates)");
  CHECK(refused(s, "IfVersion", ">= 2.4.x") ==
        "<IfVersion> version \"2.4.x\" is not major[.minor[.patch]] with numbers; fix it");
  CHECK(refused(s, "IfVersion", "= /^2") == "<IfVersion> regular expression /^2 misses its closing /");
  CHECK(refused(s, "IfVersion", "") ==
        "<IfVersion> takes an optional operator and a version, e.g. <IfVersion >= 2.4.8>");
}

TEST_CASE("IfVersion: without the version only what holds for every 2.4 patch level is known") {
  Fixture f;
  StartupState s = f.state();
  CHECK(eval(s, "IfVersion", ">= 2.4") == Value::kTrue);
  CHECK(eval(s, "IfVersion", "< 2.4") == Value::kFalse);
  CHECK(eval(s, "IfVersion", ">= 2.2.0") == Value::kTrue);
  CHECK(eval(s, "IfVersion", ">= 2.4.8") == Value::kUnknown);
  CHECK(why(s, "IfVersion", ">= 2.4.8") == "the answer depends on Apache's patch level, which ecertctl was not given");
  CHECK(eval(s, "IfVersion", "~ ^2") == Value::kUnknown);
}

TEST_CASE("IfVersion needs mod_version, as Apache does") {
  Fixture f;
  f.options.compiled_modules = {"core.c", "mod_so.c", "http_core.c"};
  StartupState s = f.state();
  CHECK(refused(s, "IfVersion", ">= 2.4") ==
        "<IfVersion> is mod_version's section, and mod_version is neither compiled in nor loaded before it; add "
        "LoadModule version_module before it or remove the section");
  s.load_module("version_module", "");
  CHECK(eval(s, "IfVersion", ">= 2.4") == Value::kTrue);
}

TEST_CASE("Macro bodies are never read where they stand") {
  Fixture f;
  auto v = f.state().evaluate("Macro", "SSLSite $name");
  REQUIRE(v.is_ok());
  CHECK(v->value == Value::kFalse);
  CHECK(v->why == "a <Macro> body is read only where a Use line expands it");
  CHECK(StartupState::decides_reading("macro"));
  CHECK(!StartupState::decides_reading("Directory"));
  CHECK(!StartupState::decides_reading("If"));  // <If> is evaluated per request, not at startup
}

TEST_CASE("changes made in a section ecertctl cannot evaluate make what depends on them unknown") {
  Fixture f;
  f.options.defines = {"SURE"};
  f.fs.add_file("/srv/conf/x", "");
  StartupState s = f.state();
  const std::string at = "<IfDirective SecRuleEngine> at /c/httpd.conf:3";
  s.define("MAYBE", "value", at);
  CHECK(eval(s, "IfDefine", "MAYBE") == Value::kUnknown);
  CHECK(why(s, "IfDefine", "MAYBE") == "MAYBE is Defined or UnDefined inside " + at);
  CHECK(s.substitute("${MAYBE}").text == "value");
  CHECK(s.substitute("${MAYBE}").unsure == at);
  CHECK(s.substitute("${MAYBE}").unsure_name == "MAYBE");
  s.define("SURE", std::nullopt, at);  // defined either way
  CHECK(eval(s, "IfDefine", "SURE") == Value::kTrue);
  s.undefine("NEVER", at);  // undefined either way
  CHECK(eval(s, "IfDefine", "NEVER") == Value::kFalse);
  s.undefine("SURE", at);
  CHECK(eval(s, "IfDefine", "SURE") == Value::kUnknown);
  s.define("SURE", std::nullopt, "");  // a sure Define settles it
  CHECK(eval(s, "IfDefine", "SURE") == Value::kTrue);

  s.load_module("ssl_module", at);
  CHECK(eval(s, "IfModule", "mod_ssl.c") == Value::kUnknown);
  CHECK(eval(s, "IfDirective", "SSLEngine") == Value::kUnknown);
  s.load_module("ssl_module", "");
  CHECK(eval(s, "IfModule", "mod_ssl.c") == Value::kTrue);
  CHECK(eval(s, "IfDirective", "SSLEngine") == Value::kTrue);

  s.set_server_root("/srv", at);
  CHECK(eval(s, "IfFile", "conf/x") == Value::kUnknown);
  CHECK(eval(s, "IfFile", "/srv/conf/x") == Value::kTrue);

  s.load_module("version_module", at);  // already compiled in: stays sure
  CHECK(eval(s, "IfModule", "version_module") == Value::kTrue);
}

TEST_CASE("IfVersion: regular expressions are PCRE's, refused when they do not compile, bounded when costly") {
  Fixture f;
  f.options.version = ServerVersion{2, 4, 62};
  StartupState s = f.state();
  CHECK(eval(s, "IfVersion", "~ ^2\\.4\\.\\d+$") == Value::kTrue);  // \d: PCRE, not POSIX
  CHECK(refused(s, "IfVersion", "~ ^1***") ==
        "<IfVersion> cannot compile the regular expression ^1***: quantifier does not follow a repeatable item; fix "
        "it");
  CHECK(eval(s, "IfVersion", "~ (.*)*(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*(?!)") == Value::kUnknown);
  CHECK(why(s, "IfVersion", "~ (.*)*(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*(?!)") ==
        "the regular expression (.*)*(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*(?!) is too costly to evaluate");
}
