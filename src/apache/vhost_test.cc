#include "apache/vhost.h"

#include <doctest/doctest.h>

using namespace ecert;
using namespace ecert::apache;

namespace {

Config load(MemoryFileSystem& fs) {
  auto config = load_config(fs, "/etc/apache2/apache2.conf");
  REQUIRE_MESSAGE(config.is_ok(), config.status().message());
  return *config;
}

}  // namespace

TEST_CASE("find_vhost: the 443 vhost wins over the :80 one with the same ServerName") {
  MemoryFileSystem fs;
  fs.add_file("/etc/apache2/apache2.conf",
              "<VirtualHost *:80>\n  ServerName www.example.com\n</VirtualHost>\n"
              "<IfModule mod_ssl.c>\n<VirtualHost *:443>\n  ServerName www.example.com\n</VirtualHost>\n</IfModule>\n");
  Config config = load(fs);
  auto vh = find_vhost(config, {"WWW.example.com", 443, {}});
  REQUIRE_MESSAGE(vh.is_ok(), vh.status().message());
  CHECK((*vh)->line == 5);
}

TEST_CASE("find_vhost: exact names win over wildcard aliases") {
  MemoryFileSystem fs;
  fs.add_file("/etc/apache2/apache2.conf",
              "<VirtualHost *:443>\nServerName example.com\nServerAlias *.example.com\n</VirtualHost>\n"
              "<VirtualHost *:443>\nServerName shop.example.com\n</VirtualHost>\n");
  Config config = load(fs);
  auto shop = find_vhost(config, {"shop.example.com", 443, {}});
  REQUIRE(shop.is_ok());
  CHECK((*shop)->line == 5);
  auto other = find_vhost(config, {"blog.example.com", 443, {}});
  REQUIRE(other.is_ok());
  CHECK((*other)->line == 1);
  auto wildcard_site = find_vhost(config, {"*.example.com", 443, {}});
  REQUIRE(wildcard_site.is_ok());
  CHECK((*wildcard_site)->line == 1);
}

TEST_CASE("find_vhost: messages") {
  MemoryFileSystem fs;
  fs.add_file("/etc/apache2/apache2.conf", "IncludeOptional sites-enabled/*.conf\n");
  fs.add_file("/etc/apache2/sites-enabled/a.conf",
              "# a\n\n<VirtualHost *:443>\n  ServerName a.example.com\n</VirtualHost>\n");
  fs.add_file("/etc/apache2/sites-enabled/b.conf",
              "<VirtualHost *:443>\n  ServerName b.example.com\n  ServerAlias www.example.com\n</VirtualHost>\n"
              "<VirtualHost *:80>\n</VirtualHost>\n"
              "<VirtualHost 10.0.0.1:443>\n  ServerName www.example.com\n</VirtualHost>\n");
  Config config = load(fs);

  SUBCASE("nothing serves the name") {
    auto vh = find_vhost(config, {"shop.example.com", 443, {}});
    REQUIRE(!vh.is_ok());
    CHECK(vh.status().message() ==
          "no <VirtualHost> on port 443 serves shop.example.com; candidates: "
          "/etc/apache2/sites-enabled/a.conf:3 (*:443, ServerName a.example.com), "
          "/etc/apache2/sites-enabled/b.conf:1 (*:443, ServerName b.example.com, ServerAlias www.example.com), "
          "/etc/apache2/sites-enabled/b.conf:7 (10.0.0.1:443, ServerName www.example.com); "
          "add ServerName shop.example.com to one of them or set vhost.server_name");
  }
  SUBCASE("ambiguous") {
    auto vh = find_vhost(config, {"www.example.com", 443, {}});
    REQUIRE(!vh.is_ok());
    CHECK(vh.status().message() ==
          "2 <VirtualHost> blocks on port 443 serve www.example.com: /etc/apache2/sites-enabled/b.conf:1, "
          "/etc/apache2/sites-enabled/b.conf:7; keep one or set vhost.file");
  }
  SUBCASE("no vhost on the port") {
    auto vh = find_vhost(config, {"www.example.com", 8443, {}});
    REQUIRE(!vh.is_ok());
    CHECK(vh.status().message() ==
          "no <VirtualHost> on port 8443 in /etc/apache2/apache2.conf or the files it includes; add a "
          "<VirtualHost *:8443> block with ServerName www.example.com or set vhost.port");
  }
  SUBCASE("vhost.file narrows, relative to ServerRoot") {
    auto vh = find_vhost(config, {"a.example.com", 443, fs::path("sites-enabled/a.conf")});
    REQUIRE(vh.is_ok());
    CHECK((*vh)->line == 3);
    auto none = find_vhost(config, {"a.example.com", 443, fs::path("/etc/apache2/sites-enabled/c.conf")});
    REQUIRE(!none.is_ok());
    CHECK(none.status().message() ==
          "no <VirtualHost> on port 443 in /etc/apache2/sites-enabled/c.conf (vhost.file); add a "
          "<VirtualHost *:443> block with ServerName a.example.com or set vhost.port");
  }
}

TEST_CASE("find_vhost: vhost.file matches the real file behind a symlink") {
  MemoryFileSystem fs;
  fs.add_file("/etc/apache2/apache2.conf", "IncludeOptional sites-enabled/*.conf\n");
  fs.add_file("/etc/apache2/sites-available/my.conf", "<VirtualHost *:443>\nServerName my.example.com\n</VirtualHost>\n");
  fs.create_directories("/etc/apache2/sites-enabled", 0755);
  fs.add_symlink("/etc/apache2/sites-enabled/my.conf", "../sites-available/my.conf");
  Config config = load(fs);
  auto vh = find_vhost(config, {"my.example.com", 443, fs::path("/etc/apache2/sites-available/./my.conf")});
  REQUIRE_MESSAGE(vh.is_ok(), vh.status().message());
}

namespace ecert::apache {

TEST_CASE("VhostIndex answers like find_vhost") {
  MemoryFileSystem mem;
  mem.add_file("/srv/httpd.conf",
               "<VirtualHost *:443>\n ServerName a.example.com\n</VirtualHost>\n"
               "<VirtualHost *:443>\n ServerName b.example.com\n ServerAlias *.shop.example.com\n</VirtualHost>\n"
               "<VirtualHost *:80>\n ServerName a.example.com\n</VirtualHost>\n"
               "<VirtualHost *:443>\n ServerName dup.example.com\n</VirtualHost>\n"
               "<VirtualHost *:443>\n ServerAlias DUP.example.com\n</VirtualHost>\n");
  auto config = load_config(mem, "/srv/httpd.conf");
  REQUIRE(config.is_ok());
  VhostIndex index(*config);
  for (const char* name : {"a.example.com", "A.Example.com", "x.shop.example.com", "b.example.com",
                           "dup.example.com", "none.example.com"}) {
    for (int port : {443, 80, 8443}) {
      VhostQuery q{name, port, std::nullopt};
      auto slow = find_vhost(*config, q);
      auto fast = index.find(q);
      CAPTURE(name);
      CAPTURE(port);
      REQUIRE(slow.is_ok() == fast.is_ok());
      if (slow.is_ok()) CHECK(*slow == *fast);
      else CHECK(slow.status().message() == fast.status().message());
    }
  }
  CHECK(index.find({"x.shop.example.com", 443, std::nullopt}).value()->line == 4);
}

}  // namespace ecert::apache
