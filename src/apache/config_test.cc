#include "apache/config.h"

#include <doctest/doctest.h>

using namespace ecert;
using namespace ecert::apache;

namespace {

// Debian's layout: apache2.conf in /etc/apache2 (the default ServerRoot),
// sites-enabled entries are symlinks into sites-available.
MemoryFileSystem debian() {
  MemoryFileSystem fs;
  fs.add_file("/etc/apache2/apache2.conf",
              "# This is the main Apache server configuration file.\n"
              "DefaultRuntimeDir ${APACHE_RUN_DIR_ECERT_TEST_UNSET}\n"
              "ErrorLog ${APACHE_LOG_DIR_ECERT_TEST_UNSET}/error.log\n"
              "IncludeOptional mods-enabled/*.load\n"
              "IncludeOptional mods-enabled/*.conf\n"
              "Include ports.conf\n"
              "<Directory /var/www/>\n"
              "\tAllowOverride None\n"
              "</Directory>\n"
              "IncludeOptional conf-enabled/*.conf\n"
              "IncludeOptional sites-enabled/*.conf\n");
  fs.add_file("/etc/apache2/ports.conf",
              "Listen 80\n<IfModule ssl_module>\n\tListen 443\n</IfModule>\n");
  fs.add_file("/etc/apache2/mods-available/ssl.load", "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n");
  fs.add_file("/etc/apache2/mods-available/ssl.conf", "<IfModule mod_ssl.c>\n</IfModule>\n");
  fs.add_symlink("/etc/apache2/mods-enabled/ssl.load", "../mods-available/ssl.load");
  fs.add_symlink("/etc/apache2/mods-enabled/ssl.conf", "../mods-available/ssl.conf");
  fs.add_file("/etc/apache2/sites-available/000-default.conf",
              "<VirtualHost *:80>\n\tServerName www.example.com\n\tDocumentRoot /var/www/html\n</VirtualHost>\n");
  fs.add_file("/etc/apache2/sites-available/default-ssl.conf",
              "<IfModule mod_ssl.c>\n"
              "\t<VirtualHost _default_:443>\n"
              "\t\tServerName www.example.com\n"
              "\t\tServerAlias example.com\n"
              "\t\tSSLEngine on\n"
              "\t\tSSLCertificateFile\t/etc/ssl/certs/ssl-cert-snakeoil.pem\n"
              "\t\tSSLCertificateKeyFile /etc/ssl/private/ssl-cert-snakeoil.key\n"
              "\t</VirtualHost>\n"
              "</IfModule>\n");
  fs.add_file("/etc/apache2/sites-available/unused.conf", "<VirtualHost *:443>\nServerName unused.example.com\n</VirtualHost>\n");
  fs.create_directories("/etc/apache2/mods-enabled", 0755);
  fs.create_directories("/etc/apache2/sites-enabled", 0755);
  fs.add_symlink("/etc/apache2/sites-enabled/000-default.conf", "../sites-available/000-default.conf");
  fs.add_symlink("/etc/apache2/sites-enabled/default-ssl.conf", "../sites-available/default-ssl.conf");
  return fs;
}

}  // namespace

TEST_CASE("config: Debian layout through IncludeOptional globs and symlinks") {
  MemoryFileSystem fs = debian();
  auto config = load_config(fs, "/etc/apache2/apache2.conf");
  REQUIRE_MESSAGE(config.is_ok(), config.status().message());
  CHECK(config->server_root == "/etc/apache2");
  std::vector<std::string> read;
  for (const auto& f : config->files) read.push_back(f.path.string());
  CHECK(read == std::vector<std::string>{
                    "/etc/apache2/apache2.conf", "/etc/apache2/mods-enabled/ssl.load",
                    "/etc/apache2/mods-enabled/ssl.conf", "/etc/apache2/ports.conf",
                    "/etc/apache2/sites-enabled/000-default.conf", "/etc/apache2/sites-enabled/default-ssl.conf"});
  CHECK(config->files.back().real_path == "/etc/apache2/sites-available/default-ssl.conf");
  REQUIRE(config->vhosts.size() == 2);
  const VirtualHost& ssl = config->vhosts[1];
  CHECK(ssl.file == "/etc/apache2/sites-enabled/default-ssl.conf");
  CHECK(ssl.real_file == "/etc/apache2/sites-available/default-ssl.conf");
  CHECK(ssl.line == 2);
  CHECK(ssl.end_line == 8);
  CHECK(ssl.addresses == std::vector<std::string>{"_default_:443"});
  CHECK(ssl.server_name == "www.example.com");
  CHECK(ssl.aliases == std::vector<std::string>{"example.com"});
  CHECK(ssl.ssl_value("SSLCertificateFile") == "/etc/ssl/certs/ssl-cert-snakeoil.pem");
  CHECK(ssl.ssl_value("sslcertificatekeyfile") == "/etc/ssl/private/ssl-cert-snakeoil.key");
  CHECK(!ssl.ssl_value("SSLCertificateChainFile"));
  REQUIRE(ssl.ssl.size() == 2);
  CHECK(ssl.ssl[0].line == 6);
  CHECK(ssl.ssl[0].real_file == "/etc/apache2/sites-available/default-ssl.conf");
  CHECK(config->warnings.empty());  // unresolved ${VAR} outside Include paths is ignored
}

TEST_CASE("config: /usr/local/apache layout with ServerRoot and conf/extra") {
  MemoryFileSystem fs;
  fs.add_file("/usr/local/apache/conf/httpd.conf",
              "ServerRoot \"/usr/local/apache\"\n"
              "LoadModule ssl_module modules/mod_ssl.so\n"
              "Listen 80\n"
              "<IfModule ssl_module>\n"
              "Include conf/extra/httpd-ssl.conf\n"
              "</IfModule>\n");
  fs.add_file("/usr/local/apache/conf/extra/httpd-ssl.conf",
              "Listen 443\n"
              "<VirtualHost _default_:443>\n"
              "DocumentRoot \"/usr/local/apache/htdocs\"\n"
              "ServerName www.example.com:443\n"
              "SSLCertificateFile \"/usr/local/apache/conf/server.crt\"\n"
              "#SSLCertificateChainFile \"/usr/local/apache/conf/server-ca.crt\"\n"
              "</VirtualHost>\n");
  auto config = load_config(fs, "/usr/local/apache/conf/httpd.conf");
  REQUIRE_MESSAGE(config.is_ok(), config.status().message());
  CHECK(config->server_root == "/usr/local/apache");
  REQUIRE(config->vhosts.size() == 1);
  CHECK(config->vhosts[0].server_name == "www.example.com");
  CHECK(config->vhosts[0].file == "/usr/local/apache/conf/extra/httpd-ssl.conf");
  CHECK(config->vhosts[0].ssl.size() == 1);
}

TEST_CASE("config: unusual but legal vhost openings") {
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf",
              "\xEF\xBB\xBF<virtualhost 10.0.0.1:443 [::]:443>\r\n"
              "  servername https://A.example.com:443\r\n"
              "  ServerAlias b.example.com \\\r\n"
              "     c.example.com\r\n"
              "  ServerAlias *.example.org\r\n"
              "</VirtualHost>\r\n"
              "<VirtualHost [::1]:8443>\n</VirtualHost>\n"
              "<VirtualHost 10.0.0.2>\n</VirtualHost>");
  auto config = load_config(fs, "/c/httpd.conf");
  REQUIRE_MESSAGE(config.is_ok(), config.status().message());
  REQUIRE(config->vhosts.size() == 3);
  const VirtualHost& a = config->vhosts[0];
  CHECK(a.addresses == std::vector<std::string>{"10.0.0.1:443", "[::]:443"});
  CHECK(a.server_name == "A.example.com");
  CHECK(a.aliases == std::vector<std::string>{"b.example.com", "c.example.com", "*.example.org"});
  CHECK(a.listens_on(443));
  CHECK(!a.listens_on(80));
  CHECK(a.serves("a.EXAMPLE.com"));
  CHECK(a.match_name("c.example.com") == VirtualHost::NameMatch::kExact);
  CHECK(a.match_name("www.example.org") == VirtualHost::NameMatch::kWildcard);
  CHECK(!a.serves("example.org"));
  CHECK(config->vhosts[1].listens_on(8443));
  CHECK(!config->vhosts[1].listens_on(443));
  CHECK(config->vhosts[2].listens_on(443));  // no port: every port
  CHECK(config->vhosts[2].end_line == 10);
  CHECK(a.describe() ==
        "/c/httpd.conf:1 (10.0.0.1:443 [::]:443, ServerName A.example.com, ServerAlias b.example.com c.example.com "
        "*.example.org)");
  CHECK(config->vhosts[1].describe() == "/c/httpd.conf:7 ([::1]:8443, no ServerName)");
}

TEST_CASE("config: empty files and Include of a directory read everything beneath it") {
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf", "Include conf.d\nInclude /c/empty.conf");
  fs.add_file("/c/empty.conf", "");
  fs.add_file("/c/conf.d/b.conf", "<VirtualHost *:443>\nServerName b\n</VirtualHost>\n");
  fs.add_file("/c/conf.d/a/z.conf", "<VirtualHost *:443>\nServerName z\n</VirtualHost>\n");
  auto config = load_config(fs, "/c/httpd.conf");
  REQUIRE_MESSAGE(config.is_ok(), config.status().message());
  REQUIRE(config->vhosts.size() == 2);
  CHECK(config->vhosts[0].server_name == "z");
  CHECK(config->vhosts[1].server_name == "b");
}

TEST_CASE("config: wildcards in directory components, Define and ${VAR}") {
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf",
              "Define SITES /c/vhosts\n"
              "IncludeOptional ${SITES}/*/site.conf\n"
              "IncludeOptional ${ECERT_TEST_SURELY_UNDEFINED}/x.conf\n");
  fs.add_file("/c/vhosts/one/site.conf", "<VirtualHost *:443>\nServerName one\n</VirtualHost>\n");
  fs.add_file("/c/vhosts/two/site.conf", "<VirtualHost *:443>\nServerName two\n</VirtualHost>\n");
  fs.add_file("/c/vhosts/.hidden/site.conf", "<VirtualHost *:443>\nServerName hidden\n</VirtualHost>\n");
  auto config = load_config(fs, "/c/httpd.conf");
  REQUIRE_MESSAGE(config.is_ok(), config.status().message());
  REQUIRE(config->vhosts.size() == 2);
  CHECK(config->vhosts[0].server_name == "one");
  CHECK(config->vhosts[1].server_name == "two");
  REQUIRE(config->warnings.size() == 1);
  CHECK(config->warnings[0].str() ==
        "/c/httpd.conf:3: warning: IncludeOptional ${ECERT_TEST_SURELY_UNDEFINED}/x.conf uses "
        "${ECERT_TEST_SURELY_UNDEFINED}, which is neither Defined nor in the environment; this include was skipped");
}

TEST_CASE("config: a vhost spread over a file Included inside it") {
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf",
              "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n"
              "<VirtualHost *:443>\n"
              "  ServerName www.example.com\n"
              "  Include /c/ssl/www.conf\n"
              "  <IfModule mod_ssl.c>\n"
              "    SSLCertificateChainFile /old/chain.pem\n"
              "  </IfModule>\n"
              "</VirtualHost>\n");
  fs.add_file("/c/ssl/www.conf", "SSLCertificateFile /old/cert.pem\nSSLCertificateKeyFile /old/key.pem\n");
  auto config = load_config(fs, "/c/httpd.conf");
  REQUIRE_MESSAGE(config.is_ok(), config.status().message());
  REQUIRE(config->vhosts.size() == 1);
  const auto& ssl = config->vhosts[0].ssl;
  REQUIRE(ssl.size() == 3);
  CHECK(ssl[0].name == "SSLCertificateFile");
  CHECK(ssl[0].file == "/c/ssl/www.conf");
  CHECK(ssl[0].line == 1);
  CHECK(ssl[2].name == "SSLCertificateChainFile");
  CHECK(ssl[2].file == "/c/httpd.conf");
  CHECK(ssl[2].line == 6);
}

TEST_CASE("config: errors name file:line and what to do") {
  MemoryFileSystem fs;
  SUBCASE("missing Include target") {
    fs.add_file("/c/httpd.conf", "Listen 443\n\nInclude conf.d/missing.conf\n");
    auto config = load_config(fs, "/c/httpd.conf");
    REQUIRE(!config.is_ok());
    CHECK(config.status().message() ==
          "/c/httpd.conf:3: error: Include /c/conf.d/missing.conf: no such file or directory; fix the path or use "
          "IncludeOptional");
  }
  SUBCASE("Include glob matching nothing") {
    fs.add_file("/c/httpd.conf", "Include /c/sites/*.conf\nIncludeOptional /c/sites/*.conf\n");
    auto config = load_config(fs, "/c/httpd.conf");
    REQUIRE(!config.is_ok());
    CHECK(config.status().message() ==
          "/c/httpd.conf:1: error: Include /c/sites/*.conf matches no file; fix the pattern or use IncludeOptional "
          "if that is fine");
  }
  SUBCASE("include loop") {
    fs.add_file("/c/httpd.conf", "Include /c/a.conf\n");
    fs.add_file("/c/a.conf", "# a\nInclude /c/httpd.conf\n");
    auto config = load_config(fs, "/c/httpd.conf");
    REQUIRE(!config.is_ok());
    CHECK(config.status().message() ==
          "/c/a.conf:2: error: include loop: /c/httpd.conf -> /c/a.conf -> /c/httpd.conf; remove the Include that "
          "reads /c/httpd.conf again");
  }
  SUBCASE("unclosed and mismatched sections") {
    fs.add_file("/c/httpd.conf", "<VirtualHost *:443>\n<IfModule x>\n</VirtualHost>\n<Directory /\n");
    auto config = load_config(fs, "/c/httpd.conf");
    REQUIRE(!config.is_ok());
    CHECK(config.status().message() ==
          "/c/httpd.conf:3: error: </VirtualHost> closes <IfModule> opened at line 2; add </IfModule> before it\n"
          "/c/httpd.conf:4: error: <Directory is missing its closing '>'; fix the section tag\n"
          "/c/httpd.conf:1: error: <VirtualHost> is not closed before the end of the file; add </VirtualHost>");
  }
  SUBCASE("missing root") {
    auto config = load_config(fs, "/c/none.conf");
    REQUIRE(!config.is_ok());
    CHECK(config.status().is_not_found());
  }
}

namespace ecert::apache {

TEST_CASE("a directory symlink pointing back up ends in an error, not endless recursion") {
  MemoryFileSystem mem;
  mem.add_file("/c/httpd.conf", "Include /c/conf.d\n");
  mem.add_file("/c/conf.d/a.conf", "<VirtualHost *:443>\nServerName a.example.com\n</VirtualHost>\n");
  mem.add_symlink("/c/conf.d/loop", "/c/conf.d");
  auto config = load_config(mem, "/c/httpd.conf");
  REQUIRE_FALSE(config.is_ok());
  CHECK(config.status().message().find("directories nest deeper than 32 levels") != std::string::npos);
  CHECK(config.status().message().find("/c/httpd.conf:1") != std::string::npos);
}

TEST_CASE("Include / does not list the root inside itself") {
  MemoryFileSystem mem;
  mem.add_file("/httpd.conf", "IncludeOptional /nothing/*.conf\n");
  auto names = mem.list_dir("/");
  REQUIRE(names.is_ok());
  for (const auto& n : *names) CHECK_FALSE(n.empty());
}

}  // namespace ecert::apache

// Conditional sections, evaluated as Apache evaluates them at startup.
namespace {

Config load_ok(const MemoryFileSystem& fs, const LoadOptions& options = {}) {
  auto config = load_config(fs, "/c/httpd.conf", options);
  REQUIRE_MESSAGE(config.is_ok(), config.status().message());
  return *config;
}

std::vector<std::string> names_of(const std::vector<VirtualHost>& vhosts) {
  std::vector<std::string> out;
  for (const auto& vh : vhosts) out.push_back(vh.server_name);
  return out;
}

std::string vhost(const std::string& name) { return "<VirtualHost *:443>\nServerName " + name + "\n</VirtualHost>\n"; }

}  // namespace

TEST_CASE("sections: each kind read when true and skipped when false, with negation") {
  MemoryFileSystem fs;
  fs.add_file("/c/flag", "");
  fs.add_file("/c/httpd.conf",
              "<IfDefine ON>\n" + vhost("define-true") + "</IfDefine>\n"
              "<IfDefine !ON>\n" + vhost("define-false") + "</IfDefine>\n"
              "<IfModule mod_version.c>\n" + vhost("module-true") + "</IfModule>\n"
              "<IfModule !version_module>\n" + vhost("module-false") + "</IfModule>\n"
              "<IfFile /c/flag>\n" + vhost("file-true") + "</IfFile>\n"
              "<IfFile /c/none>\n" + vhost("file-false") + "</IfFile>\n"
              "<IfDirective LogFormat>\n" + vhost("directive-true") + "</IfDirective>\n"
              "<IfDirective SSLEngine>\n" + vhost("directive-false") + "</IfDirective>\n"
              "<IfSection VirtualHost>\n" + vhost("section-true") + "</IfSection>\n"
              "<IfSection !VirtualHost>\n" + vhost("section-false") + "</IfSection>\n"
              "<IfVersion >= 2.4>\n" + vhost("version-true") + "</IfVersion>\n"
              "<IfVersion < 2.4>\n" + vhost("version-false") + "</IfVersion>\n");
  LoadOptions options;
  options.defines = {"ON"};
  Config config = load_ok(fs, options);
  CHECK(names_of(config.vhosts) == std::vector<std::string>{"define-true", "module-true", "file-true",
                                                              "directive-true", "section-true", "version-true"});
  CHECK(names_of(config.unread_vhosts) == std::vector<std::string>{"define-false", "module-false", "file-false",
                                                                     "directive-false", "section-false",
                                                                     "version-false"});
  for (const auto& vh : config.vhosts) CHECK(vh.condition.empty());
  CHECK(config.unread_vhosts[0].condition == "<IfDefine !ON> at /c/httpd.conf:6 is false");
  CHECK(config.unread_vhosts[0].line == 7);
  CHECK(config.unread_vhosts[0].end_line == 9);
}

TEST_CASE("sections: nesting, and Define / UnDefine count only from where they are read") {
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf",
              "<IfDefine LATER>\n" + vhost("before-define") + "</IfDefine>\n"
              "Define LATER\n"
              "<IfDefine LATER>\n" + vhost("after-define") + "</IfDefine>\n"
              "<IfDefine LATER>\n"
              "  <IfModule !mod_ssl.c>\n" + vhost("nested-true") + "  </IfModule>\n"
              "  <IfModule mod_ssl.c>\n" + vhost("nested-false") + "  </IfModule>\n"
              "</IfDefine>\n"
              "UnDefine LATER\n"
              "<IfDefine LATER>\n" + vhost("after-undefine") + "</IfDefine>\n"
              "<IfDefine !LATER>\n  <IfDefine !NEVER>\n" + vhost("both-negated") + "  </IfDefine>\n</IfDefine>\n");
  Config config = load_ok(fs);
  CHECK(names_of(config.vhosts) == std::vector<std::string>{"after-define", "nested-true", "both-negated"});
  CHECK(names_of(config.unread_vhosts) ==
        std::vector<std::string>{"before-define", "nested-false", "after-undefine"});
}

TEST_CASE("sections: -D names from the configtest argv") {
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf", "<IfDefine STAGING>\n" + vhost("staging") + "</IfDefine>\n" +
                                   "<IfDefine !STAGING>\n" + vhost("production") + "</IfDefine>\n");
  CHECK(names_of(load_ok(fs).vhosts) == std::vector<std::string>{"production"});
  LoadOptions options;
  options.defines = defines_in_argv({"apache2ctl", "-D", "STAGING", "configtest"});
  CHECK(names_of(load_ok(fs, options).vhosts) == std::vector<std::string>{"staging"});
}

TEST_CASE("sections: LoadModule by identifier and source file name, from where it is read; compiled-in list") {
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf",
              "<IfModule ssl_module>\n" + vhost("before-load") + "</IfModule>\n"
              "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n"
              "<IfModule ssl_module>\n" + vhost("by-identifier") + "</IfModule>\n"
              "<IfModule mod_ssl.c>\n" + vhost("by-file") + "</IfModule>\n"
              "<IfModule mpm_prefork_module>\n" + vhost("prefork") + "</IfModule>\n");
  CHECK(names_of(load_ok(fs).vhosts) == std::vector<std::string>{"by-identifier", "by-file"});
  LoadOptions options;
  options.compiled_modules = {"core.c", "mod_so.c", "http_core.c", "prefork.c", "mod_ssl.c"};
  CHECK(names_of(load_ok(fs, options).vhosts) ==
        std::vector<std::string>{"before-load", "by-identifier", "by-file", "prefork"});
}

TEST_CASE("sections: IfFile takes absolute paths and paths relative to the ServerRoot in effect") {
  MemoryFileSystem fs;
  fs.add_file("/srv/apache/conf/enabled", "");
  fs.add_file("/c/httpd.conf",
              "<IfFile /srv/apache/conf/enabled>\n" + vhost("absolute") + "</IfFile>\n"
              "<IfFile conf/enabled>\n" + vhost("relative-to-c") + "</IfFile>\n"
              "ServerRoot /srv/apache\n"
              "<IfFile conf/enabled>\n" + vhost("relative-to-srv") + "</IfFile>\n"
              "<IfFile !\"conf/enabled\">\n" + vhost("negated") + "</IfFile>\n");
  Config config = load_ok(fs);
  CHECK(names_of(config.vhosts) == std::vector<std::string>{"absolute", "relative-to-srv"});
}

TEST_CASE("sections: nothing inside a false section is read: Include, Define, LoadModule, ServerRoot") {
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf",
              "<IfDefine NEVER>\n"
              "  Include /c/missing.conf\n"
              "  Include /c/sites/*.conf\n"
              "  Define SET\n"
              "  LoadModule ssl_module modules/mod_ssl.so\n"
              "  ServerRoot /elsewhere\n"
              "  <VirtualHost ${UNDEFINED_ECERT_TEST}>\n"
              "  </VirtualHost>\n"
              "  <Directory /var/www\n"  // Apache does not look at a skipped tag's syntax
              "  </Directory>\n"
              "</IfDefine>\n"
              "<IfDefine SET>\n" + vhost("set") + "</IfDefine>\n"
              "<IfModule ssl_module>\n" + vhost("ssl") + "</IfModule>\n"
              "Include sites/*.conf\n");
  fs.add_file("/c/sites/a.conf", vhost("a"));
  Config config = load_ok(fs);
  CHECK(names_of(config.vhosts) == std::vector<std::string>{"a"});
  CHECK(config.server_root == "/c");
  std::vector<std::string> read;
  for (const auto& f : config.files) read.push_back(f.path.string());
  CHECK(read == std::vector<std::string>{"/c/httpd.conf", "/c/sites/a.conf"});
  CHECK(config.warnings.empty());
  REQUIRE(config.unread_vhosts.size() == 3);
  CHECK(config.unread_vhosts[0].addresses == std::vector<std::string>{"${UNDEFINED_ECERT_TEST}"});
}

TEST_CASE("sections: a skipped section still has to be closed, as Apache's reader requires") {
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf", "<IfDefine NEVER>\n<VirtualHost *:443>\n</IfDefine>\n");
  auto config = load_config(fs, "/c/httpd.conf");
  REQUIRE(!config.is_ok());
  CHECK(config.status().message() ==
        "/c/httpd.conf:3: error: </IfDefine> closes <VirtualHost> opened at line 2; add </VirtualHost> before it\n"
        "/c/httpd.conf:1: error: <IfDefine> is not closed before the end of the file; add </IfDefine>");
}

TEST_CASE("sections: ${VAR} is substituted in the whole line before it is split into words") {
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf",
              "Define ADDRESSES \"*:443 [::]:443\"\n"
              "Define NAMES \"b.example.com c.example.com\"\n"
              "Define FLAG ON\n"
              "Define ON\n"
              "Define QUOTED \"'/etc/ssl/my cert.pem'\"\n"
              "<IfDefine ${FLAG}>\n"
              "<VirtualHost ${ADDRESSES}>\n"
              "  ServerName a.example.com\n"
              "  ServerAlias ${NAMES}\n"
              "  SSLCertificateFile ${QUOTED}\n"
              "</VirtualHost>\n"
              "</IfDefine>\n");
  Config config = load_ok(fs);
  REQUIRE(config.vhosts.size() == 1);
  const VirtualHost& vh = config.vhosts[0];
  CHECK(vh.addresses == std::vector<std::string>{"*:443", "[::]:443"});
  CHECK(vh.aliases == std::vector<std::string>{"b.example.com", "c.example.com"});
  CHECK(vh.ssl_value("SSLCertificateFile") == "/etc/ssl/my cert.pem");
}

TEST_CASE("sections: a section Apache refuses is an error naming file:line") {
  MemoryFileSystem fs;
  SUBCASE("no argument") {
    fs.add_file("/c/httpd.conf", "Listen 443\n<IfModule>\n</IfModule>\n");
    auto config = load_config(fs, "/c/httpd.conf");
    REQUIRE(!config.is_ok());
    CHECK(config.status().message() ==
          "/c/httpd.conf:2: error: <IfModule> needs an argument; add one or remove the section");
  }
  SUBCASE("IfVersion without mod_version") {
    fs.add_file("/c/httpd.conf", "<IfVersion >= 2.4>\n</IfVersion>\n");
    LoadOptions options;
    options.compiled_modules = {"core.c", "mod_so.c"};
    auto config = load_config(fs, "/c/httpd.conf", options);
    REQUIRE(!config.is_ok());
    CHECK(config.status().message() ==
          "/c/httpd.conf:1: error: <IfVersion> is mod_version's section, and mod_version is neither compiled in nor "
          "loaded before it; add LoadModule version_module before it or remove the section");
  }
  SUBCASE("a variable name with ':'") {
    fs.add_file("/c/httpd.conf", "Define a:b 1\n");
    auto config = load_config(fs, "/c/httpd.conf");
    REQUIRE(!config.is_ok());
    CHECK(config.status().message() ==
          "/c/httpd.conf:1: error: Define a:b: Apache refuses a variable name with ':'; rename it");
  }
}

TEST_CASE("sections: a <Macro> body is not a vhost Apache reads") {
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf",
              "LoadModule macro_module modules/mod_macro.so\n"
              "<Macro Site $name>\n" + vhost("$name") + "</Macro>\n" + vhost("www.example.com"));
  Config config = load_ok(fs);
  CHECK(names_of(config.vhosts) == std::vector<std::string>{"www.example.com"});
  REQUIRE(config.unread_vhosts.size() == 1);
  CHECK(config.unread_vhosts[0].condition ==
        "<Macro Site $name> at /c/httpd.conf:2: a <Macro> body is read only where a Use line expands it");
}

TEST_CASE("sections: a false section inside a vhost is left out of it and recorded as unread lines") {
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf",
              "<VirtualHost *:443>\n"
              "  ServerName www.example.com\n"
              "  <IfModule mod_gnutls.c>\n"
              "    ServerAlias old.example.com\n"
              "    SSLCertificateChainFile /old/chain.pem\n"
              "  </IfModule>\n"
              "  <IfModule mod_version.c>\n"
              "    SSLCertificateFile /live/cert.pem\n"
              "  </IfModule>\n"
              "</VirtualHost>\n");
  Config config = load_ok(fs);
  REQUIRE(config.vhosts.size() == 1);
  const VirtualHost& vh = config.vhosts[0];
  CHECK(vh.aliases.empty());
  REQUIRE(vh.ssl.size() == 1);
  CHECK(vh.ssl[0].line == 8);
  REQUIRE(vh.unread.size() == 1);
  CHECK(vh.unread[0].first == 3);
  CHECK(vh.unread[0].last == 6);
  CHECK(vh.condition.empty());
}

TEST_CASE("sections: what ecertctl cannot evaluate is read, and the vhosts that depend on it are marked") {
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf",
              "LoadModule security2_module /usr/lib/apache2/modules/mod_security2.so\n"
              "<IfDirective SecRuleEngine>\n"
              "  Define WAF\n"
              "  Include /c/waf.conf\n"
              "</IfDirective>\n"
              "<IfDefine WAF>\n" + vhost("waf") + "</IfDefine>\n"
              "<VirtualHost *:443>\n"
              "  ServerName www.example.com\n"
              "  <IfDirective SecRuleEngine>\n"
              "    SecRuleEngine On\n"
              "  </IfDirective>\n"
              "</VirtualHost>\n");
  fs.add_file("/c/waf.conf", vhost("included"));
  Config config = load_ok(fs);
  REQUIRE(names_of(config.vhosts) == std::vector<std::string>{"included", "waf", "www.example.com"});
  const std::string cannot =
      "<IfDirective SecRuleEngine> at /c/httpd.conf:2 cannot be evaluated: no module ecertctl knows registers "
      "SecRuleEngine, and it does not know which ones security2_module registers";
  CHECK(config.vhosts[0].condition == cannot);
  CHECK(config.vhosts[1].condition ==
        "<IfDefine WAF> at /c/httpd.conf:6 cannot be evaluated: WAF is Defined or UnDefined inside <IfDirective "
        "SecRuleEngine> at /c/httpd.conf:2");
  CHECK(config.vhosts[2].condition.empty());  // nothing it serves depends on the section inside it
}

TEST_CASE("sections: a section name written with ${VAR} opens and closes where Apache reads it") {
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf",
              "Define IF IfDefine\n"
              "<${IF} !NEVER>\n" + vhost("read") + "</${IF}>\n"
              "<${IF} NEVER>\n" + vhost("skipped") + "</IfDefine>\n");
  Config config = load_ok(fs);
  CHECK(names_of(config.vhosts) == std::vector<std::string>{"read"});
  CHECK(names_of(config.unread_vhosts) == std::vector<std::string>{"skipped"});
}
