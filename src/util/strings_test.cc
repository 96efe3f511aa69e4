#include <doctest/doctest.h>

#include "util/host_port.h"
#include "util/strings.h"

namespace ecert {

TEST_CASE("strings: lower, iequals, join, squote") {
  CHECK(lower("WWW.Example.COM") == "www.example.com");
  CHECK(lower("我的A") == "我的a");
  CHECK(iequals("SSLCertificateFile", "sslcertificatefile"));
  CHECK_FALSE(iequals("SSLCertificateFile", "SSLCertificateFil"));
  CHECK(join({"a", "b", "c"}, ", ") == "a, b, c");
  CHECK(join({}, ", ").empty());
  CHECK(squote("x y") == "'x y'");
}

TEST_CASE("shell_word: plain paths as they are, anything else single-quoted") {
  CHECK(shell_word("/var/lib/ecertctl") == "/var/lib/ecertctl");
  CHECK(shell_word("root") == "root");
  CHECK(shell_word("/srv/my state") == "'/srv/my state'");
  CHECK(shell_word("/srv/it's") == "'/srv/it'\\''s'");
  CHECK(shell_word("$(reboot)") == "'$(reboot)'");
  CHECK(shell_word("a;b") == "'a;b'");
  CHECK(shell_word("") == "''");
}

TEST_CASE("host:port: names, IPv4 and bracketed IPv6, ports 1..65535") {
  auto a = parse_host_port("127.0.0.1:8443");
  REQUIRE(a);
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 8443);
  auto b = parse_host_port("[::1]:443");
  REQUIRE(b);
  CHECK(b->host == "::1");
  CHECK(b->port == 443);
  CHECK(parse_host_port("www.example.com:1")->host == "www.example.com");
  for (const char* bad : {"", "host", ":443", "host:", "host:0", "host:65536", "host:99999x", "::1:443", "[::1]443",
                          "[www]:443", "a b:443", "host:+1", "[::1]:"})
    CHECK_MESSAGE(!parse_host_port(bad), bad);
}

}  // namespace ecert
