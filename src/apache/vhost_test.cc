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
              "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n"
              "<VirtualHost *:80>\n  ServerName www.example.com\n</VirtualHost>\n"
              "<IfModule mod_ssl.c>\n<VirtualHost *:443>\n  ServerName www.example.com\n</VirtualHost>\n</IfModule>\n");
  Config config = load(fs);
  auto vh = find_vhost(config, {"WWW.example.com", 443, {}});
  REQUIRE_MESSAGE(vh.is_ok(), vh.status().message());
  CHECK((*vh)->line == 6);
}

TEST_CASE("find_vhost: exact names win over wildcard aliases that come after them") {
  MemoryFileSystem fs;
  fs.add_file("/etc/apache2/apache2.conf",
              "<VirtualHost *:443>\nServerName shop.example.com\n</VirtualHost>\n"
              "<VirtualHost *:443>\nServerName example.com\nServerAlias *.example.com\n</VirtualHost>\n");
  Config config = load(fs);
  auto shop = find_vhost(config, {"shop.example.com", 443, {}});
  REQUIRE(shop.is_ok());
  CHECK((*shop)->line == 1);
  auto other = find_vhost(config, {"blog.example.com", 443, {}});
  REQUIRE(other.is_ok());
  CHECK((*other)->line == 4);
  auto wildcard_site = find_vhost(config, {"*.example.com", 443, {}});
  REQUIRE(wildcard_site.is_ok());
  CHECK((*wildcard_site)->line == 4);
}

TEST_CASE("find_vhost: a block Apache serves the name from first is never passed over") {
  // Apache serves a name from the first block on the address that answers
  // to it, wildcard alias or not: the shop block below is never served.
  MemoryFileSystem fs;
  fs.add_file("/etc/apache2/apache2.conf",
              "<VirtualHost *:443>\nServerName example.com\nServerAlias *.example.com\n</VirtualHost>\n"
              "<VirtualHost _default_:443>\nServerName shop.example.com\n</VirtualHost>\n"
              "<VirtualHost 192.0.2.1:443>\nServerName blog.example.com\n</VirtualHost>\n");
  Config config = load(fs);
  VhostIndex index(config);
  for (const auto& shop : {find_vhost(config, {"shop.example.com", 443, {}}), index.find({"shop.example.com", 443, {}})}) {
    REQUIRE_FALSE(shop.is_ok());
    CHECK(shop.status().message() ==
          "Apache serves shop.example.com on port 443 from /etc/apache2/apache2.conf:1 (*:443, ServerName example.com, "
          "ServerAlias *.example.com), the first block that answers to it, not from /etc/apache2/apache2.conf:5; take "
          "the name out of the first block or move the site's block before it");
  }
  // On another address (an IP of its own) Apache chooses among that
  // address's blocks first: not passed over.
  CHECK(index.find({"blog.example.com", 443, {}}).value()->line == 8);
  // *, _default_, 0.0.0.0 and [::] are one address to Apache.
  CHECK(address_key("_DEFAULT_:443") == "*:443");
  CHECK(address_key("0.0.0.0:443") == "*:443");
  CHECK(address_key("[::]:443") == "*:443");
  CHECK(address_key("*") == "*");
  CHECK(address_key("192.0.2.1:443") == "192.0.2.1:443");
  MemoryFileSystem unspecified;
  unspecified.add_file("/etc/apache2/apache2.conf",
                       "<VirtualHost 0.0.0.0:443>\nServerAlias *.example.com\n</VirtualHost>\n"
                       "<VirtualHost *:443>\nServerName shop.example.com\n</VirtualHost>\n");
  CHECK_FALSE(find_vhost(load(unspecified), {"shop.example.com", 443, {}}).is_ok());
  // vhost.file does not hide the block Apache serves from.
  CHECK_FALSE(find_vhost(config, {"shop.example.com", 443, fs::path("/etc/apache2/apache2.conf")}).is_ok());
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

namespace {

// A live vhost and two stale duplicates Apache never reads: one for a
// STAGING define that is not given, one for a module that is not loaded.
MemoryFileSystem stale_duplicates() {
  MemoryFileSystem fs;
  fs.add_file("/etc/apache2/apache2.conf",
              "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n"
              "IncludeOptional sites-enabled/*.conf\n");
  fs.add_file("/etc/apache2/sites-enabled/www.conf",
              "<IfDefine STAGING>\n"
              "<VirtualHost *:443>\n"
              "  ServerName www.example.com\n"
              "  SSLCertificateFile /etc/ssl/staging.pem\n"
              "</VirtualHost>\n"
              "</IfDefine>\n"
              "<IfModule mod_gnutls.c>\n"
              "<VirtualHost *:443>\n"
              "  ServerName www.example.com\n"
              "  GnuTLSCertificateFile /etc/ssl/gnutls.pem\n"
              "</VirtualHost>\n"
              "</IfModule>\n"
              "<IfModule mod_ssl.c>\n"
              "<VirtualHost *:443>\n"
              "  ServerName www.example.com\n"
              "  SSLCertificateFile /etc/ssl/live.pem\n"
              "</VirtualHost>\n"
              "</IfModule>\n");
  return fs;
}

}  // namespace

TEST_CASE("find_vhost: a duplicate inside a false <IfDefine> or <IfModule> is not a candidate") {
  MemoryFileSystem fs = stale_duplicates();
  Config config = load(fs);
  REQUIRE(config.vhosts.size() == 1);
  auto vh = find_vhost(config, {"www.example.com", 443, {}});
  REQUIRE_MESSAGE(vh.is_ok(), vh.status().message());
  CHECK((*vh)->line == 14);
  CHECK((*vh)->ssl_value("SSLCertificateFile") == "/etc/ssl/live.pem");
  VhostIndex index(config);
  auto fast = index.find({"www.example.com", 443, {}});
  REQUIRE(fast.is_ok());
  CHECK(*fast == *vh);

  // With -D STAGING Apache reads the staging block too: now two blocks match.
  LoadOptions staging;
  staging.defines = {"STAGING"};
  auto with_staging = load_config(fs, "/etc/apache2/apache2.conf", staging);
  REQUIRE(with_staging.is_ok());
  auto both = find_vhost(*with_staging, {"www.example.com", 443, {}});
  REQUIRE(!both.is_ok());
  CHECK(both.status().message() ==
        "2 <VirtualHost> blocks on port 443 serve www.example.com: /etc/apache2/sites-enabled/www.conf:2, "
        "/etc/apache2/sites-enabled/www.conf:14; keep one or set vhost.file");
}

TEST_CASE("find_vhost: when nothing Apache reads serves the name, the unread blocks that would are named") {
  MemoryFileSystem fs;
  fs.add_file("/etc/apache2/apache2.conf",
              "<IfDefine STAGING>\n<VirtualHost *:443>\n  ServerName www.example.com\n</VirtualHost>\n</IfDefine>\n"
              "<VirtualHost *:443>\n  ServerName other.example.com\n</VirtualHost>\n");
  Config config = load(fs);
  auto vh = find_vhost(config, {"www.example.com", 443, {}});
  REQUIRE(!vh.is_ok());
  CHECK(vh.status().message() ==
        "no <VirtualHost> on port 443 serves www.example.com; candidates: /etc/apache2/apache2.conf:6 (*:443, "
        "ServerName other.example.com); add ServerName www.example.com to one of them or set vhost.server_name; "
        "/etc/apache2/apache2.conf:2 serves www.example.com but Apache does not read it (<IfDefine STAGING> at "
        "/etc/apache2/apache2.conf:1 is false)");
  CHECK(VhostIndex(config).find({"www.example.com", 443, {}}).status().message() == vh.status().message());
  auto none_on_port = find_vhost(config, {"www.example.com", 8443, {}});
  CHECK(none_on_port.status().message().find("serves www.example.com but Apache does not read it") ==
        std::string::npos);  // the unread block is on 443
}

TEST_CASE("find_vhost: a block Apache may or may not read is never chosen") {
  MemoryFileSystem fs;
  fs.add_file("/etc/apache2/apache2.conf",
              "LoadModule php_module /usr/lib/apache2/modules/libphp8.2.so\n"
              "<IfDirective PHPIniDir>\n"
              "<VirtualHost *:443>\n  ServerName www.example.com\n</VirtualHost>\n"
              "</IfDirective>\n"
              "<VirtualHost *:443>\n  ServerName shop.example.com\n</VirtualHost>\n");
  Config config = load(fs);
  REQUIRE(config.vhosts.size() == 2);
  const std::string expected =
      "ecertctl cannot tell whether Apache reads the <VirtualHost> on port 443 that serves www.example.com "
      "(/etc/apache2/apache2.conf:3: <IfDirective PHPIniDir> at /etc/apache2/apache2.conf:2 cannot be evaluated: no "
      "module ecertctl knows registers PHPIniDir, and it does not know which ones php_module registers); put it "
      "under a section ecertctl evaluates (<IfModule>, <IfDefine>) or set vhost.file to the file of the block "
      "Apache reads";
  auto vh = find_vhost(config, {"www.example.com", 443, {}});
  REQUIRE(!vh.is_ok());
  CHECK(vh.status().message() == expected);
  CHECK(VhostIndex(config).find({"www.example.com", 443, {}}).status().message() == expected);
  auto shop = VhostIndex(config).find({"shop.example.com", 443, {}});
  REQUIRE(shop.is_ok());
  CHECK((*shop)->line == 7);
}

namespace ecert::apache {

TEST_CASE("ServerAlias patterns are '*' and '?' only, as Apache's; '[' is an ordinary character") {
  CHECK(is_alias_pattern("*.example.com"));
  CHECK(is_alias_pattern("www?.example.com"));
  CHECK_FALSE(is_alias_pattern("www[1].example.com"));
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf",
              "<VirtualHost *:443>\n  ServerName a.example.com\n  ServerAlias [ab].example.com\n</VirtualHost>\n");
  auto config = load_config(fs, "/c/httpd.conf");
  REQUIRE(config.is_ok());
  CHECK(config->vhosts[0].match_name("b.example.com") == VirtualHost::NameMatch::kNone);
  const VhostIndex index(*config);
  CHECK_FALSE(index.find(VhostQuery{"b.example.com", 443, std::nullopt}).is_ok());
  CHECK_FALSE(find_vhost(*config, VhostQuery{"b.example.com", 443, std::nullopt}).is_ok());
}

}  // namespace ecert::apache

namespace ecert::apache {

TEST_CASE("ServerAlias wildcards match as ap_strcasecmp_match does") {
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf",
              "<VirtualHost *:443>\n  ServerName a.example.com\n  ServerAlias *.Shop.example.com w?w.example.com "
              "*[x].example.com\n</VirtualHost>\n");
  auto config = load_config(fs, "/c/httpd.conf");
  REQUIRE(config.is_ok());
  const VirtualHost& vh = config->vhosts[0];
  CHECK(vh.match_name("eu.shop.example.com") == VirtualHost::NameMatch::kWildcard);
  CHECK(vh.match_name("a.b.shop.example.com") == VirtualHost::NameMatch::kWildcard);
  CHECK(vh.match_name("shop.example.com") == VirtualHost::NameMatch::kNone);
  CHECK(vh.match_name("wxw.example.com") == VirtualHost::NameMatch::kWildcard);
  CHECK(vh.match_name("ww.example.com") == VirtualHost::NameMatch::kNone);
  CHECK(vh.match_name("a[x].example.com") == VirtualHost::NameMatch::kWildcard);  // '[' is itself
  CHECK(vh.match_name("ax.example.com") == VirtualHost::NameMatch::kNone);
}

}  // namespace ecert::apache

TEST_CASE("find_vhost: a block without ServerName on * or _default_ answers to the main server's ServerName") {
  MemoryFileSystem fs;
  // Debian's default-ssl.conf and Red Hat's ssl.conf have no ServerName:
  // Apache gives such a block the main server's (ap_fini_vhost_config).
  fs.add_file("/etc/apache2/apache2.conf",
              "ServerName https://WWW.example.com:443\n"
              "IncludeOptional sites-enabled/*.conf\n");
  fs.add_file("/etc/apache2/sites-enabled/default-ssl.conf",
              "<VirtualHost _default_:443>\n  DocumentRoot /var/www/html\n</VirtualHost>\n");
  Config config = load(fs);
  CHECK(config.server_name == "WWW.example.com");
  auto vh = find_vhost(config, {"www.example.com", 443, {}});
  REQUIRE_MESSAGE(vh.is_ok(), vh.status().message());
  CHECK((*vh)->file == "/etc/apache2/sites-enabled/default-ssl.conf");
  CHECK((*vh)->describe().find("no ServerName: the main server's, WWW.example.com") != std::string::npos);
  CHECK(VhostIndex(config).find({"www.example.com", 443, {}}).value() == *vh);
  // Any other name is not the main server's.
  CHECK_FALSE(find_vhost(config, {"shop.example.com", 443, {}}).is_ok());

  // A block with a name of its own, or a wildcard alias, read before it
  // wins over it.
  fs.add_file("/etc/apache2/sites-enabled/000-www.conf",
              "<VirtualHost *:443>\n  ServerName www.example.com\n</VirtualHost>\n"
              "<VirtualHost *:443>\n  ServerAlias *.example.com\n</VirtualHost>\n");
  config = load(fs);
  VhostIndex index(config);
  vh = index.find({"www.example.com", 443, {}});
  REQUIRE_MESSAGE(vh.is_ok(), vh.status().message());
  CHECK((*vh)->line == 1);
  CHECK(index.find({"shop.example.com", 443, {}}).value()->line == 4);
  fs.add_file("/etc/apache2/sites-enabled/000-www.conf", "<VirtualHost *:443>\n  ServerAlias *.example.com\n</VirtualHost>\n");
  config = load(fs);
  CHECK(find_vhost(config, {"www.example.com", 443, {}}).value()->file == "/etc/apache2/sites-enabled/000-www.conf");

  // Read after it, Apache never serves the name from them.
  fs.remove("/etc/apache2/sites-enabled/000-www.conf");
  fs.add_file("/etc/apache2/sites-enabled/www.conf", "<VirtualHost *:443>\n  ServerName www.example.com\n</VirtualHost>\n");
  config = load(fs);
  for (const auto& r : {find_vhost(config, {"www.example.com", 443, {}}), VhostIndex(config).find({"www.example.com", 443, {}})}) {
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().message().find("from /etc/apache2/sites-enabled/default-ssl.conf:1 (_default_:443, no ServerName: "
                                    "the main server's, WWW.example.com), the first block") != std::string::npos);
  }
}

TEST_CASE("find_vhost: no inherited name on a specific address, without a main ServerName, or when unsure") {
  auto find = [](const std::string& conf) {
    MemoryFileSystem fs;
    fs.add_file("/etc/apache2/apache2.conf", conf);
    Config config = load(fs);
    return find_vhost(config, {"www.example.com", 443, {}});
  };
  const std::string block = "<VirtualHost *:443>\n  DocumentRoot /srv\n</VirtualHost>\n";
  // Apache names a block on a specific address by reverse DNS instead.
  CHECK_FALSE(find("ServerName www.example.com\n<VirtualHost 192.0.2.1:443>\n</VirtualHost>\n").is_ok());
  // Without a main ServerName Apache asks the system for its host name.
  CHECK_FALSE(find(block).is_ok());
  // The last one counts; one inside a section ecertctl cannot evaluate
  // leaves the name unknown.
  CHECK_FALSE(find("ServerName www.example.com\nServerName other.example.com\n" + block).is_ok());
  CHECK(find("ServerName other.example.com\nServerName www.example.com\n" + block).is_ok());
  CHECK_FALSE(find("ServerName www.example.com\n<IfVersion > 2.4.99>\nServerName other.example.com\n</IfVersion>\n" +
                   block)
                  .is_ok());
  // A ServerName inside a block is that block's, not the main server's.
  CHECK_FALSE(find("<VirtualHost *:80>\nServerName www.example.com\n</VirtualHost>\n" + block).is_ok());
  // Two blocks inheriting it: several candidates, both named.
  auto two = find("ServerName www.example.com\n" + block + block);
  REQUIRE_FALSE(two.is_ok());
  CHECK(two.status().message().find("2 <VirtualHost> blocks on port 443 serve www.example.com") == 0);
  // [::] and 0.0.0.0 are wildcard addresses too.
  CHECK(find("ServerName www.example.com\n<VirtualHost [::]:443>\n</VirtualHost>\n").is_ok());
  CHECK(find("ServerName www.example.com\n<VirtualHost 0.0.0.0:443>\n</VirtualHost>\n").is_ok());
}
