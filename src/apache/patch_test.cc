#include <doctest/doctest.h>

#include "apache/config.h"
#include "apache/lexer.h"

using namespace ecert;
using namespace ecert::apache;

namespace {

const SslSettings kNew{"/etc/ecert/www.key", "/etc/ecert/www.cer", "/etc/ecert/hkpostca.crt"};

// The texts below wrap vhosts in <IfModule mod_ssl.c>: read them as a binary
// with mod_ssl compiled in would.
LoadOptions ssl_compiled_in() {
  LoadOptions options;
  options.compiled_modules = {"core.c", "mod_so.c", "http_core.c", "mod_ssl.c"};
  return options;
}

std::vector<std::string> physical_lines(std::string_view s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t nl = s.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? s.size() : nl + 1;
    out.emplace_back(s.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

// Lines (with their terminators) only in `a` and only in `b`, by longest common subsequence.
struct LineDiff {
  std::vector<std::string> removed, added;
};
LineDiff diff_lines(std::string_view before, std::string_view after) {
  auto a = physical_lines(before), b = physical_lines(after);
  std::vector<std::vector<int>> lcs(a.size() + 1, std::vector<int>(b.size() + 1, 0));
  for (std::size_t i = a.size(); i-- > 0;)
    for (std::size_t j = b.size(); j-- > 0;)
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  LineDiff d;
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      ++i, ++j;
    } else if (j < b.size() && (i == a.size() || lcs[i][j + 1] >= lcs[i + 1][j])) {
      d.added.push_back(b[j++]);
    } else {
      d.removed.push_back(a[i++]);
    }
  }
  return d;
}

bool mentions_ssl_file(const std::string& line) { return lower(line).find("sslcertificate") != std::string::npos; }

// The lossless property: every changed line is an SSLCertificate*File line
// (or, for a joined continuation, one of its physical lines), and reading
// the result back gives the new values for the vhost serving `name`.
void check_patched(const std::string& before, const std::string& after, const std::string& name,
                   const SslSettings& want = kNew) {
  LineDiff d = diff_lines(before, after);
  for (const auto& line : d.added) CHECK_MESSAGE(mentions_ssl_file(line), "unexpected added line: " << line);
  std::size_t removed_ssl = 0;
  for (const auto& line : d.removed) removed_ssl += mentions_ssl_file(line);
  CHECK(removed_ssl <= d.added.size());
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf", after);
  auto config = load_config(fs, "/c/httpd.conf", ssl_compiled_in());
  REQUIRE_MESSAGE(config.is_ok(), config.status().message());
  bool found = false;
  for (const auto& vh : config->vhosts) {
    if (vh.server_name != name || !vh.listens_on(443)) continue;
    found = true;
    CHECK(vh.ssl_value("SSLCertificateFile") == want.cert_file);
    CHECK(vh.ssl_value("SSLCertificateKeyFile") == want.key_file);
    CHECK(vh.ssl_value("SSLCertificateChainFile") == want.chain_file);
  }
  CHECK(found);
}

std::string patch(const std::string& text, int line, const SslSettings& settings = kNew) {
  auto out = patch_config_text(text, {VhostEdit{line, settings, {}, {}}});
  REQUIRE_MESSAGE(out.is_ok(), out.status().message());
  return *out;
}

}  // namespace

TEST_CASE("patch: Debian default-ssl: replace in place, add the missing chain with the block's indentation") {
  std::string before =
      "<IfModule mod_ssl.c>\n"
      "\t<VirtualHost _default_:443>\n"
      "\t\tServerAdmin webmaster@localhost\n"
      "\t\tServerName www.example.com\n"
      "\t\t#   A self-signed (snakeoil) certificate can be created by installing\n"
      "\t\tSSLCertificateFile\t/etc/ssl/certs/ssl-cert-snakeoil.pem\n"
      "\t\tSSLCertificateKeyFile /etc/ssl/private/ssl-cert-snakeoil.key\n"
      "\t</VirtualHost>\n"
      "</IfModule>\n";
  std::string after = patch(before, 2);
  CHECK(after ==
        "<IfModule mod_ssl.c>\n"
        "\t<VirtualHost _default_:443>\n"
        "\t\tServerAdmin webmaster@localhost\n"
        "\t\tServerName www.example.com\n"
        "\t\t#   A self-signed (snakeoil) certificate can be created by installing\n"
        "\t\tSSLCertificateFile\t/etc/ecert/www.cer\n"
        "\t\tSSLCertificateKeyFile /etc/ecert/www.key\n"
        "\t\tSSLCertificateChainFile /etc/ecert/hkpostca.crt\n"
        "\t</VirtualHost>\n"
        "</IfModule>\n");
  check_patched(before, after, "www.example.com");
  CHECK(patch(after, 2) == after);  // idempotent
}

TEST_CASE("patch: CRLF block gets CRLF lines; no directive inside uses the closing tag's indentation + 4") {
  std::string crlf = "<VirtualHost *:443>\r\n  ServerName www.example.com\r\n</VirtualHost>\r\n";
  std::string after = patch(crlf, 1);
  CHECK(after ==
        "<VirtualHost *:443>\r\n  ServerName www.example.com\r\n"
        "  SSLCertificateFile /etc/ecert/www.cer\r\n"
        "  SSLCertificateKeyFile /etc/ecert/www.key\r\n"
        "  SSLCertificateChainFile /etc/ecert/hkpostca.crt\r\n"
        "</VirtualHost>\r\n");
  check_patched(crlf, after, "www.example.com");

  std::string bare = "<IfModule ssl_module>\n  <VirtualHost *:443>\n  </VirtualHost>\n</IfModule>";
  CHECK(patch(bare, 2) ==
        "<IfModule ssl_module>\n  <VirtualHost *:443>\n"
        "      SSLCertificateFile /etc/ecert/www.cer\n"
        "      SSLCertificateKeyFile /etc/ecert/www.key\n"
        "      SSLCertificateChainFile /etc/ecert/hkpostca.crt\n"
        "  </VirtualHost>\n</IfModule>");
}

TEST_CASE("patch: no trailing newline at the end of the file") {
  std::string before = "<VirtualHost *:443>\nServerName www.example.com\nSSLCertificateFile /old.pem</VirtualHost>";
  // "</VirtualHost>" glued to a directive is not a closing tag; the block is unclosed.
  CHECK(!patch_config_text(before, {VhostEdit{1, kNew, {}, {}}}).is_ok());
  std::string ok = "<VirtualHost *:443>\nServerName www.example.com\nSSLCertificateFile /old.pem\n</VirtualHost>";
  std::string after = patch(ok, 1);
  CHECK(after ==
        "<VirtualHost *:443>\nServerName www.example.com\nSSLCertificateFile /etc/ecert/www.cer\n"
        "SSLCertificateKeyFile /etc/ecert/www.key\nSSLCertificateChainFile /etc/ecert/hkpostca.crt\n</VirtualHost>");
  check_patched(ok, after, "www.example.com");
}

TEST_CASE("patch: continuation lines become one line with the same indentation") {
  std::string before =
      "<VirtualHost *:443>\n"
      "    ServerName www.example.com\n"
      "    SSLCertificateFile \\\n"
      "        /etc/old/cert.pem\n"
      "    ServerAlias a.example.com \\\n"
      "        b.example.com\n"
      "    SSLCertificateKeyFile /etc/old/key.pem\n"
      "    SSLCertificateChainFile /etc/old/chain.pem\n"
      "</VirtualHost>\n";
  std::string after = patch(before, 1);
  CHECK(after ==
        "<VirtualHost *:443>\n"
        "    ServerName www.example.com\n"
        "    SSLCertificateFile /etc/ecert/www.cer\n"
        "    ServerAlias a.example.com \\\n"
        "        b.example.com\n"
        "    SSLCertificateKeyFile /etc/ecert/www.key\n"
        "    SSLCertificateChainFile /etc/ecert/hkpostca.crt\n"
        "</VirtualHost>\n");
  check_patched(before, after, "www.example.com");
}

TEST_CASE("patch: quoted paths, odd spelling, text after the argument, nested sections") {
  std::string before =
      "<virtualhost *:443>\n"
      "  ServerName www.example.com\n"
      "  sslcertificatefile \"/etc/my certs/old.pem\"   \n"
      "  # the key moved in 2023\n"
      "  <IfModule mod_ssl.c>\n"
      "    SSLCertificateKeyFile '/etc/old key.pem' # old\n"
      "  </IfModule>\n"
      "  SSLCertificateChainFile /etc/old/chain.pem\n"
      "</virtualhost>\n";
  SslSettings spaced{"/etc/ecert/my key.pem", "/etc/ecert/a \"b\".cer", "/etc/ecert/#chain.crt"};
  std::string after = patch(before, 1, spaced);
  CHECK(after ==
        "<virtualhost *:443>\n"
        "  ServerName www.example.com\n"
        "  sslcertificatefile \"/etc/ecert/a \\\"b\\\".cer\"   \n"
        "  # the key moved in 2023\n"
        "  <IfModule mod_ssl.c>\n"
        "    SSLCertificateKeyFile \"/etc/ecert/my key.pem\" # old\n"
        "  </IfModule>\n"
        "  SSLCertificateChainFile \"/etc/ecert/#chain.crt\"\n"
        "</virtualhost>\n");
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf", after);
  auto config = load_config(fs, "/c/httpd.conf", ssl_compiled_in());
  REQUIRE(config.is_ok());
  CHECK(config->vhosts[0].ssl_value("SSLCertificateFile") == spaced.cert_file);
  CHECK(config->vhosts[0].ssl_value("SSLCertificateKeyFile") == spaced.key_file);
  CHECK(config->vhosts[0].ssl_value("SSLCertificateChainFile") == spaced.chain_file);
}

TEST_CASE("patch: several vhosts in one file; only the listed blocks change, all at once") {
  std::string before =
      "<VirtualHost *:80>\n  ServerName www.example.com\n</VirtualHost>\n"
      "<VirtualHost *:443>\n  ServerName a.example.com\n  SSLCertificateFile /a.pem\n</VirtualHost>\n"
      "<VirtualHost *:443>\n  ServerName www.example.com\n  SSLCertificateFile /old.pem\n"
      "  SSLCertificateFile /older.pem\n</VirtualHost>\n"
      "<VirtualHost *:443>\n  ServerName b.example.com\n</VirtualHost>\n";
  SslSettings b{"/b.key", "/b.cer", "/b.crt"};
  auto out = patch_config_text(before, {VhostEdit{8, kNew, {}, {}}, VhostEdit{13, b, {}, {}}});
  REQUIRE_MESSAGE(out.is_ok(), out.status().message());
  check_patched(before, *out, "www.example.com");
  check_patched(before, *out, "b.example.com", b);
  CHECK(out->find("  SSLCertificateFile /a.pem\n") != std::string::npos);
  CHECK(out->find("/old") == std::string::npos);  // every occurrence in the block is replaced

  auto bad = patch_config_text(before, {VhostEdit{2, kNew, {}, {}}});
  REQUIRE(!bad.is_ok());
  CHECK(bad.status().message() ==
        "line 2 is not a <VirtualHost> opening (the file changed since it was read?); read the config again");
}

TEST_CASE("patch: values Apache cannot read are refused") {
  SslSettings nl{"/a\nb", "/c", "/d"};
  CHECK(!patch_config_text("<VirtualHost *:443>\n</VirtualHost>\n", {VhostEdit{1, nl, {}, {}}}).is_ok());
}

TEST_CASE("patch: a vhost whose directives are set in an Included file gets only the missing ones") {
  const std::string vhost =
      "<VirtualHost *:443>\n"
      "  ServerName www.example.com\n"
      "  Include /c/ssl/www.conf\n"
      "</VirtualHost>\n";
  auto block = patch_config_text(vhost, {VhostEdit{1, kNew, {"SSLCertificateFile", "SSLCertificateKeyFile"}, {}}});
  REQUIRE_MESSAGE(block.is_ok(), block.status().message());
  CHECK(*block ==
        "<VirtualHost *:443>\n"
        "  ServerName www.example.com\n"
        "  Include /c/ssl/www.conf\n"
        "  SSLCertificateChainFile /etc/ecert/hkpostca.crt\n"
        "</VirtualHost>\n");
  auto lines = patch_directive_lines("# ssl\r\nSSLCertificateFile /old/cert.pem\r\nSSLCertificateKeyFile /old/key.pem\r\n",
                                     {{2, "SSLCertificateFile", "/etc/ecert/www.cer"},
                                      {3, "sslcertificatekeyfile", "/etc/ecert/www.key"}});
  REQUIRE_MESSAGE(lines.is_ok(), lines.status().message());
  CHECK(*lines == "# ssl\r\nSSLCertificateFile /etc/ecert/www.cer\r\nSSLCertificateKeyFile /etc/ecert/www.key\r\n");
  auto wrong = patch_directive_lines("ServerName a\n", {{1, "SSLCertificateFile", "/x"}});
  CHECK_FALSE(wrong.is_ok());
}

TEST_CASE("patch: random fragments neither crash the reader nor the editor") {
  const std::vector<std::string> pieces = {"<VirtualHost *:443>", "</VirtualHost>", "<IfModule x>", "</IfModule>",
                                           "\\\n", "\n", "\r\n", "\"", "'", "\\\"", "SSLCertificateFile ",
                                           "sslcertificatekeyfile ", "#", " ", "\t", "x", "\xEF\xBB\xBF", "<", ">",
                                           "ServerName a", "Include /c/httpd.conf", "${X}"};
  std::uint32_t seed = 12345;
  auto next = [&] { return seed = seed * 1664525u + 1013904223u; };
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    int n = static_cast<int>(next() % 30);
    for (int i = 0; i < n; ++i) text += pieces[(next() >> 8) % pieces.size()];
    MemoryFileSystem fs;
    fs.add_file("/c/httpd.conf", text);
    auto config = load_config(fs, "/c/httpd.conf");
    for (const auto& line : tokenize(text)) {
      if (line.kind != LogicalLine::Kind::kSectionOpen) continue;
      auto out = patch_config_text(text, {VhostEdit{line.line, kNew, {}, {}}});
      if (out.is_ok()) CHECK(out->compare(0, line.next, text, 0, line.next) == 0);  // nothing before the block moves
    }
  }
}

namespace ecert::apache {

TEST_CASE("a quoted argument stays quoted, so text glued after its closing quote stays a separate word") {
  const std::string before = "<VirtualHost *:443>\nSSLCertificateFile '/old/x.crt'junk\n</VirtualHost>\n";
  VhostEdit edit;
  edit.vhost_line = 1;
  edit.settings = {"", "/etc/ssl/new.crt", ""};
  auto after = patch_config_text(before, {edit});
  REQUIRE(after.is_ok());
  CHECK(*after == "<VirtualHost *:443>\nSSLCertificateFile \"/etc/ssl/new.crt\"junk\n</VirtualHost>\n");
}

}  // namespace ecert::apache

TEST_CASE("patch: the live vhost changes; the duplicates Apache does not read stay byte for byte") {
  const std::string before =
      "<IfDefine STAGING>\r\n"
      "<VirtualHost *:443>\r\n"
      "  ServerName www.example.com\r\n"
      "  SSLCertificateFile /etc/ssl/staging.pem\r\n"
      "  SSLCertificateKeyFile /etc/ssl/staging.key\r\n"
      "</VirtualHost>\r\n"
      "</IfDefine>\r\n"
      "<IfModule mod_gnutls.c>\r\n"
      "<VirtualHost *:443>\r\n"
      "  ServerName www.example.com\r\n"
      "  SSLCertificateFile /etc/ssl/gnutls.pem\r\n"
      "</VirtualHost>\r\n"
      "</IfModule>\r\n"
      "<VirtualHost *:443>\r\n"
      "  ServerName www.example.com\r\n"
      "  SSLCertificateFile /etc/ssl/live.pem\r\n"
      "</VirtualHost>\r\n";
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf", before);
  auto config = load_config(fs, "/c/httpd.conf");
  REQUIRE(config.is_ok());
  REQUIRE(config->vhosts.size() == 1);
  const VirtualHost& vh = config->vhosts[0];
  auto patched = patch_config_text(before, {VhostEdit{vh.line, kNew, {}, vh.unread}});
  REQUIRE_MESSAGE(patched.is_ok(), patched.status().message());
  const std::string& after = *patched;
  const std::size_t live = before.find("<VirtualHost *:443>\r\n  ServerName www.example.com\r\n  SSLCertificateFile /etc/ssl/live");
  CHECK(after.compare(0, live, before, 0, live) == 0);  // both stale blocks, every byte
  CHECK(after.substr(live) ==
        "<VirtualHost *:443>\r\n"
        "  ServerName www.example.com\r\n"
        "  SSLCertificateFile /etc/ecert/www.cer\r\n"
        "  SSLCertificateKeyFile /etc/ecert/www.key\r\n"
        "  SSLCertificateChainFile /etc/ecert/hkpostca.crt\r\n"
        "</VirtualHost>\r\n");
}

TEST_CASE("patch: SSL lines in a false section inside the vhost are neither edited nor taken as present") {
  const std::string before =
      "<VirtualHost *:443>\n"
      "  ServerName www.example.com\n"
      "  SSLCertificateFile /etc/ssl/live.pem\n"
      "  <IfDefine OLD_CHAIN>\n"
      "    SSLCertificateChainFile /etc/ssl/old-chain.pem\n"
      "    SSLCertificateKeyFile /etc/ssl/old.key\n"
      "  </IfDefine>\n"
      "  SSLCertificateKeyFile /etc/ssl/live.key\n"
      "</VirtualHost>\n";
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf", before);
  auto config = load_config(fs, "/c/httpd.conf");
  REQUIRE(config.is_ok());
  const VirtualHost& vh = config->vhosts.at(0);
  CHECK(!vh.ssl_value("SSLCertificateChainFile"));
  const std::string expected =
      "<VirtualHost *:443>\n"
      "  ServerName www.example.com\n"
      "  SSLCertificateFile /etc/ecert/www.cer\n"
      "  <IfDefine OLD_CHAIN>\n"
      "    SSLCertificateChainFile /etc/ssl/old-chain.pem\n"
      "    SSLCertificateKeyFile /etc/ssl/old.key\n"
      "  </IfDefine>\n"
      "  SSLCertificateKeyFile /etc/ecert/www.key\n"
      "  SSLCertificateChainFile /etc/ecert/hkpostca.crt\n"
      "</VirtualHost>\n";
  VhostEdit edit{vh.line, kNew, {}, vh.unread};
  auto after = patch_config_text(before, {edit});
  REQUIRE(after.is_ok());
  CHECK(*after == expected);
  // Without the unread ranges the editor cannot know: it would rewrite the
  // skipped lines and add no chain Apache reads.
  auto blind = patch_config_text(before, {VhostEdit{vh.line, kNew, {}, {}}});
  REQUIRE(blind.is_ok());
  CHECK(*blind != expected);
}

namespace ecert::apache {

TEST_CASE("patch: a fullchain site loses SSLCertificateChainFile, every other byte stays") {
  const std::string before =
      "<VirtualHost *:443>\r\n"
      "  ServerName www.example.com\r\n"
      "  SSLCertificateFile /old/www.cer\r\n"
      "  SSLCertificateChainFile /old/chain.crt\r\n"
      "  # keep me\r\n"
      "  SSLCertificateKeyFile /old/www.key\r\n"
      "</VirtualHost>\r\n";
  VhostEdit edit{1, SslSettings{"/etc/ecert/www.key", "/etc/ecert/www-fullchain.crt", ""}};
  edit.remove_chain = true;
  auto after = patch_config_text(before, {edit});
  REQUIRE_MESSAGE(after.is_ok(), after.status().message());
  CHECK(*after ==
        "<VirtualHost *:443>\r\n"
        "  ServerName www.example.com\r\n"
        "  SSLCertificateFile /etc/ecert/www-fullchain.crt\r\n"
        "  # keep me\r\n"
        "  SSLCertificateKeyFile /etc/ecert/www.key\r\n"
        "</VirtualHost>\r\n");
  // Back to a chain file: the directive comes back, the rest as it was.
  VhostEdit back{1, SslSettings{"/etc/ecert/www.key", "/etc/ecert/www.cer", "/etc/ecert/chain.crt"}};
  auto again = patch_config_text(*after, {back});
  REQUIRE(again.is_ok());
  CHECK(*again ==
        "<VirtualHost *:443>\r\n"
        "  ServerName www.example.com\r\n"
        "  SSLCertificateFile /etc/ecert/www.cer\r\n"
        "  # keep me\r\n"
        "  SSLCertificateKeyFile /etc/ecert/www.key\r\n"
        "  SSLCertificateChainFile /etc/ecert/chain.crt\r\n"
        "</VirtualHost>\r\n");
}

TEST_CASE("patch: stapling on adds a marked SSLUseStapling; off removes exactly that, never the operator's own") {
  const std::string before = "<VirtualHost *:443>\n    ServerName www.example.com\n</VirtualHost>\n";
  VhostEdit on{1, SslSettings{}};
  on.stapling = true;
  auto with = patch_config_text(before, {on});
  REQUIRE(with.is_ok());
  CHECK(*with == "<VirtualHost *:443>\n    ServerName www.example.com\n    # ecertctl: vhost.stapling\n"
                 "    SSLUseStapling on\n</VirtualHost>\n");
  CHECK(*patch_config_text(*with, {on}) == *with);  // idempotent
  VhostEdit off{1, SslSettings{}};
  off.stapling = false;
  CHECK(*patch_config_text(*with, {off}) == before);
  const std::string own = "<VirtualHost *:443>\n    SSLUseStapling off\n</VirtualHost>\n";
  CHECK(*patch_config_text(own, {off}) == own);  // not ecertctl's: left alone
  const std::string turned_on = *patch_config_text(own, {on});
  CHECK(turned_on == "<VirtualHost *:443>\n    # ecertctl: vhost.stapling\n    SSLUseStapling on\n</VirtualHost>\n");
  // Off again: Apache's default (off), without a line.
  CHECK(*patch_config_text(turned_on, {off}) == "<VirtualHost *:443>\n</VirtualHost>\n");
}

TEST_CASE("set_stapling_cache: appended once at the end, removed only as added") {
  const std::string root = "ServerRoot /etc/apache2\r\nIncludeOptional sites-enabled/*.conf\r\n";
  auto with = set_stapling_cache(root, true);
  REQUIRE(with.is_ok());
  CHECK(*with == root + "# ecertctl: OCSP stapling cache for vhost.stapling\r\n<IfModule mod_ssl.c>\r\n"
                        "    SSLStaplingCache shmcb:ssl_stapling(65536)\r\n</IfModule>\r\n");
  CHECK(*set_stapling_cache(*with, true) == *with);
  CHECK(*set_stapling_cache(*with, false) == root);
  CHECK(*set_stapling_cache(root, false) == root);
  MemoryFileSystem fs;
  fs.add_file("/c/httpd.conf", *with);
  LoadOptions with_ssl;
  with_ssl.compiled_modules = {"core.c", "mod_ssl.c"};
  auto config = load_config(fs, "/c/httpd.conf", with_ssl);
  REQUIRE_MESSAGE(config.is_ok(), config.status().message());
  CHECK(config->stapling_cache_added);
  CHECK(config->stapling_caches == std::vector<std::string>{"/c/httpd.conf:5"});
}

}  // namespace ecert::apache
