#include "manifest/names.h"

#include <doctest/doctest.h>

namespace ecert {
namespace {

std::string ok(std::string_view name, bool wildcard = false) {
  auto r = normalize_server_name(name, wildcard);
  REQUIRE_MESSAGE(r.is_ok(), r.status().message());
  return *r;
}

std::string err(std::string_view name, bool wildcard = false) {
  auto r = normalize_server_name(name, wildcard);
  REQUIRE(!r.is_ok());
  return r.status().message();
}

TEST_CASE("IDN names become A-labels, as the CA's guide shows") {
  CHECK(ok("www.我的伺服器.com") == "www.xn--3pqw8o2pk43espw.com");
  CHECK(ok("WWW.我的伺服器.COM") == "www.xn--3pqw8o2pk43espw.com");
  CHECK(ok("www.xn--3pqw8o2pk43espw.com") == "www.xn--3pqw8o2pk43espw.com");
  CHECK(ok("*.我的伺服器.com", true) == "*.xn--3pqw8o2pk43espw.com");
  // Non-transitional: ß stays a distinct letter.
  CHECK(ok("faß.de") == "xn--fa-hia.de");
}

TEST_CASE("ASCII names are lower-cased and kept") {
  CHECK(ok("WWW.MyServer.com") == "www.myserver.com");
  CHECK(ok("a-b.c0.example") == "a-b.c0.example");
  CHECK(ok("*.Example.com", true) == "*.example.com");
}

TEST_CASE("syntax errors say what to write instead") {
  CHECK(err("") == "server name is empty; write a name like 'www.example.com'");
  CHECK(err("www.example.com.") ==
        "server name 'www.example.com.' ends with a dot; write 'www.example.com'");
  CHECK(err("localhost") ==
        "server name 'localhost' needs at least two labels, as in 'www.example.com'");
  CHECK(err("a..example.com") ==
        "server name 'a..example.com' has an empty label; remove the extra dot");
  CHECK(err("www.my_server.com") ==
        "server name 'www.my_server.com' contains '_'; use only letters, digits, hyphens and "
        "dots");
  CHECK(err("-www.example.com") ==
        "label '-www' in server name '-www.example.com' starts or ends with a hyphen");
  CHECK(err(std::string(64, 'a') + ".com").find("is longer than 63 characters") !=
        std::string::npos);
  std::string long_name;
  for (int i = 0; i < 5; ++i) long_name += std::string(60, 'a') + ".";
  long_name += "com";
  CHECK(err(long_name).find("at most 253 are allowed") != std::string::npos);
}

TEST_CASE("wildcards: only '*.' as the whole left-most label of a wildcard site") {
  CHECK(err("*.example.com") ==
        "server name '*.example.com' is a wildcard; only a site with feature: wildcard may "
        "use '*'");
  CHECK(err("*x.example.com", true) ==
        "server name '*x.example.com': '*' must be the whole left-most label, as in "
        "'*.example.com'");
  CHECK(err("a.*.example.com", true) ==
        "server name 'a.*.example.com': '*' must be the whole left-most label, as in "
        "'*.example.com'");
  CHECK(err("*.com", true) ==
        "wildcard '*.com' needs at least two labels after '*.', as in '*.example.com'");
  CHECK(err("*.*.example.com", true).find("whole left-most label") != std::string::npos);
}

TEST_CASE("names libidn2 refuses are reported, not thrown") {
  CHECK(err("x.ab\xe2\x80\xae" "c.com") ==  // U+202E RIGHT-TO-LEFT OVERRIDE
        "server name 'x.ab\xe2\x80\xae" "c.com' is not a valid internationalized domain name "
        "(string contains a disallowed character)");
  // UTS #46 maps a zero-width space away, leaving an empty label.
  CHECK(err("www.\xe2\x80\x8b.com").find("has an empty label") != std::string::npos);
}

}  // namespace
}  // namespace ecert
