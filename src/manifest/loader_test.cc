#include "manifest/loader.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

namespace ecert {
namespace {

const char* kHead = R"(version: 1
apache:
  config: /etc/apache2/apache2.conf
defaults:
  organization: My Organization
  key:
    passphrase: {env: ECERT_KEY_PASSPHRASE}
  ca:
    sub: ca/sub.crt
    cross: ca/cross.crt
sites:
)";

std::string site(const std::string& name = "www.myserver.com", const std::string& stem = "my",
                 const std::string& extra = "") {
  return "  - name: " + name + "\n    feature: standard\n    key: ssl.key/" + stem +
         ".key\n    csr: ssl.csr/" + stem + ".csr\n    certificate: ssl.crt/" + stem +
         ".cer\n    chain: ssl.crt/hkpostca.crt\n" + extra;
}

LoadResult load(const std::string& text) { return load_manifest_text(text, "/srv/ecert/m.yaml"); }

// All diagnostics, one per line, as the operator sees them.
std::string messages(const LoadResult& r) {
  std::string out;
  for (const auto& d : r.diagnostics) out += d.str() + "\n";
  return out;
}

TEST_CASE("a minimal manifest gets the documented defaults") {
  auto r = load(kHead + site());
  REQUIRE_MESSAGE(r.ok(), messages(r));
  CHECK(r.diagnostics.empty());
  const Manifest& m = r.manifest;
  CHECK(m.file == "/srv/ecert/m.yaml");
  CHECK(m.dir == "/srv/ecert");
  CHECK(m.apache.config == "/etc/apache2/apache2.conf");
  CHECK(m.apache.configtest == std::vector<std::string>{"apache2ctl", "configtest"});
  CHECK(m.apache.restart == std::vector<std::vector<std::string>>{{"apache2ctl", "graceful"}});
  CHECK(m.apache.timeout_seconds == 30);
  REQUIRE(m.sites.size() == 1);
  const Site& s = m.sites[0];
  CHECK(s.name == "www.myserver.com");
  CHECK(s.feature == Feature::kStandard);
  CHECK(s.organization == "My Organization");
  CHECK(s.key.path == "/srv/ecert/ssl.key/my.key");
  CHECK(s.key.bits == 2048);
  CHECK(s.key.cipher == Cipher::kAes256Cbc);
  CHECK(s.key.passphrase.kind == PassphraseSource::Kind::kEnv);
  CHECK(s.key.passphrase.env == "ECERT_KEY_PASSPHRASE");
  CHECK(s.csr == "/srv/ecert/ssl.csr/my.csr");
  CHECK(s.certificate == "/srv/ecert/ssl.crt/my.cer");
  CHECK(s.chain == "/srv/ecert/ssl.crt/hkpostca.crt");
  CHECK(s.ca.sub == std::vector<PathString>{"/srv/ecert/ca/sub.crt"});
  CHECK(s.ca.cross == "/srv/ecert/ca/cross.crt");
  CHECK(s.ca.trust == "/etc/ssl/certs/ca-certificates.crt");
  CHECK(s.vhost.server_name == "www.myserver.com");
  CHECK(s.vhost.port == 443);
  CHECK(!s.vhost.file.has_value());
  CHECK(!s.vhost.verify.has_value());
  CHECK(s.pos.str() == "/srv/ecert/m.yaml:12:5");
  CHECK(s.name_pos.str() == "/srv/ecert/m.yaml:12:11");
}

TEST_CASE("site mappings merge key by key over defaults; paths resolve lexically") {
  std::string text = R"(version: 1
apache:
  config: conf/../apache2.conf
  restart: [[apachectl, stop], [apachectl, start]]
  timeout: 120
defaults:
  organization: Default Org
  feature: multi-domain
  key: {bits: 2048, cipher: des-ede3-cbc, passphrase: {env: P}}
  ca: {sub: /ca/sub.crt, cross: /ca/cross.crt}
  vhost: {port: 8443, verify: "localhost:8443"}
sites:
  - name: WWW.我的伺服器.com
    additional_names: [Shop.Example.com]
    key: {path: ./k//a.key, passphrase: {file: ../pass}}
    csr: a.csr
    certificate: /abs/a.cer
    chain: chain.crt
    ca: {cross: other-cross.crt}
    vhost: {server_name: alias.example.com, file: sites/a.conf}
)";
  auto r = load(text);
  REQUIRE_MESSAGE(r.ok(), messages(r));
  const Manifest& m = r.manifest;
  CHECK(m.apache.config == "/srv/ecert/apache2.conf");
  CHECK(m.apache.restart ==
        std::vector<std::vector<std::string>>{{"apachectl", "stop"}, {"apachectl", "start"}});
  CHECK(m.apache.timeout_seconds == 120);
  const Site& s = m.sites.at(0);
  CHECK(s.name == "www.xn--3pqw8o2pk43espw.com");
  CHECK(s.unicode_name == "WWW.我的伺服器.com");
  CHECK(s.feature == Feature::kMultiDomain);
  CHECK(s.additional_names == std::vector<std::string>{"shop.example.com"});
  CHECK(s.key.path == "/srv/ecert/k/a.key");
  CHECK(s.key.cipher == Cipher::kDesEde3Cbc);
  CHECK(s.key.passphrase.kind == PassphraseSource::Kind::kFile);
  CHECK(s.key.passphrase.file == "/srv/pass");
  CHECK(s.certificate == "/abs/a.cer");
  CHECK(s.ca.sub == std::vector<PathString>{"/ca/sub.crt"});
  CHECK(s.ca.cross == "/srv/ecert/other-cross.crt");
  CHECK(s.vhost.server_name == "alias.example.com");
  CHECK(s.vhost.port == 8443);
  CHECK(s.vhost.file == fs::path("/srv/ecert/sites/a.conf"));
  CHECK(s.vhost.verify == std::string("localhost:8443"));
}

TEST_CASE("the newer keys have their documented defaults") {
  auto r = load(kHead + site());
  REQUIRE_MESSAGE(r.ok(), messages(r));
  const Manifest& m = r.manifest;
  CHECK(m.apache.environment.empty());
  CHECK(!m.notify.has_value());
  const Site& s = m.sites.at(0);
  CHECK(!s.fullchain.has_value());
  CHECK(!s.vhost.stapling);
  CHECK(s.renewal.before == Window{Window::Kind::kPercent, 33});
  CHECK(s.renewal.stage == RenewalSpec::Stage::kAuto);
  CHECK(s.renewal.warn == Window{Window::Kind::kPercent, 10});
  CHECK(s.renewal.pos.str() == "/srv/ecert/m.yaml:12:5");  // no renewal mapping: the site
}

TEST_CASE("renewal merges key by key over defaults; notify, environment, fullchain, ca.sub lists") {
  std::string text = R"(version: 1
apache:
  config: /etc/apache2/apache2.conf
  environment: [HTTPS_PROXY, no_proxy]
defaults:
  organization: Default Org
  feature: standard
  key: {passphrase: {env: P}}
  ca: {sub: [ca/new-sub.crt, /ca/old-sub.crt], cross: ca/cross.crt}
  vhost: {stapling: true}
  renewal: {before: 30d, warn: 7d}
notify:
  command: [/usr/local/sbin/ecert-notify, --quiet]
  events: [error, renewal-due]
  repeat: 2d
sites:
  - name: www.a.com
    key: a.key
    csr: a.csr
    certificate: a.cer
    chain: chain.crt
    fullchain: full/../a-full.crt
    renewal: {stage: manual, warn: 5d}
  - name: www.b.com
    key: b.key
    csr: b.csr
    certificate: b.cer
    chain: chain.crt
    ca: {sub: [/ca/old-sub.crt, ca/new-sub.crt]}
    vhost: {stapling: false}
    renewal: {before: 50%}
)";
  auto r = load(text);
  REQUIRE_MESSAGE(r.ok(), messages(r));
  const Manifest& m = r.manifest;
  CHECK(m.apache.environment == std::vector<std::string>{"HTTPS_PROXY", "no_proxy"});
  REQUIRE(m.notify.has_value());
  CHECK(m.notify->command == std::vector<std::string>{"/usr/local/sbin/ecert-notify", "--quiet"});
  CHECK(m.notify->events == std::vector<NotifyEvent>{NotifyEvent::kError, NotifyEvent::kRenewalDue});
  CHECK(m.notify->repeat == std::chrono::hours(48));
  CHECK(m.notify->pos.str() == "/srv/ecert/m.yaml:13:3");
  const Site& a = m.sites.at(0);
  CHECK(a.fullchain == PathString("/srv/ecert/a-full.crt"));
  CHECK(a.fullchain_pos.str() == "/srv/ecert/m.yaml:22:16");
  CHECK(a.ca.sub == std::vector<PathString>{"/srv/ecert/ca/new-sub.crt", "/ca/old-sub.crt"});
  CHECK(a.vhost.stapling);
  CHECK(a.renewal.before == Window{Window::Kind::kDays, 30});
  CHECK(a.renewal.stage == RenewalSpec::Stage::kManual);
  CHECK(a.renewal.warn == Window{Window::Kind::kDays, 5});
  CHECK(a.renewal.pos.str() == "/srv/ecert/m.yaml:23:14");
  const Site& b = m.sites.at(1);
  CHECK(!b.fullchain.has_value());
  CHECK(b.ca.sub == std::vector<PathString>{"/ca/old-sub.crt", "/srv/ecert/ca/new-sub.crt"});
  CHECK(!b.vhost.stapling);
  // Windows of two kinds are not compared: 7d may be wider or narrower than 50%.
  CHECK(b.renewal.before == Window{Window::Kind::kPercent, 50});
  CHECK(b.renewal.stage == RenewalSpec::Stage::kAuto);
  CHECK(b.renewal.warn == Window{Window::Kind::kDays, 7});
  CHECK(b.renewal.pos.str() == "/srv/ecert/m.yaml:31:14");
}

TEST_CASE("notify given without events or repeat sends all four, again every 24h") {
  auto r = load(kHead + site() + "notify: {command: [notify-me]}\n");
  REQUIRE_MESSAGE(r.ok(), messages(r));
  REQUIRE(r.manifest.notify.has_value());
  CHECK(r.manifest.notify->events ==
        std::vector<NotifyEvent>(std::begin(kAllNotifyEvents), std::end(kAllNotifyEvents)));
  CHECK(r.manifest.notify->repeat == std::chrono::hours(24));
  CHECK(std::string(notify_event_name(NotifyEvent::kRenewalDue)) == "renewal-due");
  CHECK(std::string(notify_event_name(NotifyEvent::kError)) == "error");
}

TEST_CASE("vhost.stapling takes YAML 1.2's booleans only") {
  auto stapling = [](const std::string& value) {
    return load(kHead + site("www.myserver.com", "my", "    vhost: {stapling: " + value + "}\n"));
  };
  for (const char* on : {"true", "True", "TRUE"}) {
    auto r = stapling(on);
    REQUIRE_MESSAGE(r.ok(), messages(r));
    CHECK(r.manifest.sites[0].vhost.stapling);
  }
  for (const char* off : {"false", "False", "FALSE"}) {
    auto r = stapling(off);
    REQUIRE_MESSAGE(r.ok(), messages(r));
    CHECK(!r.manifest.sites[0].vhost.stapling);
  }
  for (const char* other : {"yes", "on", "1", "tRuE"})
    CHECK(messages(stapling(other)) == "/srv/ecert/m.yaml:18:23: error: 'vhost.stapling' must be "
                                       "true or false, got '" + std::string(other) + "'\n");
  CHECK(messages(stapling("'false'")) == "/srv/ecert/m.yaml:18:23: error: 'vhost.stapling' must "
                                         "be true or false, not the string 'false'; remove the "
                                         "quotes\n");
  CHECK(messages(stapling("")) == "/srv/ecert/m.yaml:18:13: error: empty value for "
                                  "'vhost.stapling'; expected true or false\n");
}

TEST_CASE("cipher none on a site drops the inherited passphrase") {
  auto r = load(kHead + site("www.myserver.com", "my", "").replace(
                            site().find("key: ssl.key/my.key"), 19, "key: {path: a.key, cipher: none}"));
  REQUIRE_MESSAGE(r.ok(), messages(r));
  CHECK(r.manifest.sites[0].key.cipher == Cipher::kNone);
  CHECK(r.manifest.sites[0].key.passphrase.kind == PassphraseSource::Kind::kNone);
}

TEST_CASE("3072 and 4096 bits load with a warning") {
  std::string text = kHead + site("www.myserver.com", "my", "");
  text.replace(text.find("key: ssl.key/my.key"), 19,
               "key: {path: a.key, bits: 4096}");
  auto r = load(text);
  CHECK(r.ok());
  CHECK(messages(r) == "/srv/ecert/m.yaml:14:30: warning: 4096-bit keys may break old "
                       "browsers; the CA's guide uses 2048\n");
  CHECK(r.manifest.sites[0].key.bits == 4096);
}

TEST_CASE("pinned messages") {
  SUBCASE("unknown key with a suggestion, at the key") {
    auto r = load(kHead + site("www.myserver.com", "my", "    organisation: X\n"));
    CHECK(messages(r) ==
          "/srv/ecert/m.yaml:18:5: error: unknown key 'organisation' in site; did you mean "
          "'organization'?\n");
  }
  SUBCASE("duplicate key, at its second occurrence") {
    auto r = load("version: 1\napache:\n  config: /a\n  config: /b\nsites:\n" + site());
    CHECK(messages(r).find("/srv/ecert/m.yaml:4:3: error: duplicate key 'config' (first at line "
                           "3)\n") != std::string::npos);
  }
  SUBCASE("empty value, at the key rather than the next token") {
    auto r = load("version: 1\napache:\n  config:\n  timeout: 5\nsites:\n" + site());
    CHECK(messages(r).find("m.yaml:3:3: error: empty value for 'apache.config'; expected a path\n") !=
          std::string::npos);
  }
  SUBCASE("literal passphrase") {
    std::string text = kHead + site();
    text.replace(text.find("{env: ECERT_KEY_PASSPHRASE}"), 27, "hunter2");
    CHECK(messages(load(text)) ==
          "/srv/ecert/m.yaml:7:17: error: passphrase must come from {env: NAME} or {file: "
          "PATH}, never a literal\n");
  }
  SUBCASE("missing key, at the parent mapping") {
    auto r = load("version: 1\napache:\n  timeout: 5\nsites:\n" + site());
    CHECK(messages(r).find("m.yaml:3:3: error: missing required key 'config' in apache\n") !=
          std::string::npos);
  }
  SUBCASE("wrong type, at the value, naming the expected type") {
    auto r = load(kHead + site("www.myserver.com", "my", "    vhost: [443]\n"));
    CHECK(messages(r) ==
          "/srv/ecert/m.yaml:18:12: error: 'vhost' must be a mapping of server_name, port, "
          "file, verify and stapling, not a list\n");
  }
  SUBCASE("clash between sites, at the later site's value") {
    auto r = load(kHead + site("www.a.com", "a") + site("www.b.com", "b").replace(
                                                        site("www.b.com", "b").find("ssl.csr/b.csr"), 13, "ssl.csr/a.csr"));
    CHECK(messages(r) ==
          "/srv/ecert/m.yaml:21:10: error: csr 'ssl.csr/a.csr' is already the csr of site "
          "'www.a.com' (line 15); sites never share key, CSR or certificate files\n");
  }
  SUBCASE("duplicate names compare after IDN conversion") {
    auto r = load(kHead + site("www.我的伺服器.com", "a") + site("WWW.xn--3pqw8o2pk43espw.com", "b"));
    CHECK(messages(r) == "/srv/ecert/m.yaml:18:11: error: duplicate site name "
                         "'www.xn--3pqw8o2pk43espw.com' (first at line 12)\n");
  }
  SUBCASE("every problem is reported in one run, in source order") {
    auto r = load("version: 3\napache: []\nsites:\n" + site("localhost", "a") +
                  "    vhost: {port: 0}\n");
    CHECK(messages(r) ==
          "/srv/ecert/m.yaml:1:10: error: unsupported manifest version 3; this ecertctl reads "
          "version 1\n"
          "/srv/ecert/m.yaml:2:9: error: 'apache' must be a mapping with at least config, not a "
          "list\n"
          "/srv/ecert/m.yaml:4:5: error: missing required key 'organization' in site; set it "
          "here or in defaults\n"
          "/srv/ecert/m.yaml:4:5: error: missing required key 'sub' in ca; set it here or in "
          "defaults\n"
          "/srv/ecert/m.yaml:4:5: error: missing required key 'cross' in ca; set it here or in "
          "defaults\n"
          "/srv/ecert/m.yaml:4:11: error: server name 'localhost' needs at least two labels, as "
          "in 'www.example.com'\n"
          "/srv/ecert/m.yaml:6:10: error: key.cipher is aes-256-cbc but no passphrase is given; "
          "add passphrase: {env: NAME} or {file: PATH}, or set cipher: none\n"
          "/srv/ecert/m.yaml:10:19: error: 'vhost.port' must be an integer from 1 to 65535, got "
          "0\n");
  }
}

TEST_CASE("the file name in messages is the path as given") {
  auto r = load_manifest_text("version: 2\n", "rel/m.yaml");
  CHECK(messages(r).find("rel/m.yaml:1:10: error: unsupported manifest version 2") !=
        std::string::npos);
}

TEST_CASE("hostile input is refused quickly and without throwing") {
  using Clock = std::chrono::steady_clock;
  SUBCASE("over 1 MiB") {
    std::string text = kHead + site() + "# " + std::string(kMaxManifestBytes, 'x') + "\n";
    auto r = load(text);
    CHECK(messages(r) == "/srv/ecert/m.yaml: error: manifest is " +
                             std::to_string(text.size()) +
                             " bytes; the limit is 1048576 (1 MiB)\n");
  }
  SUBCASE("billion laughs") {
    std::string text = kHead + site() + "lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
    for (int i = 1; i < 10; ++i) {
      std::string prev = "*a" + std::to_string(i - 1);
      text += "lol" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
      for (int k = 0; k < 9; ++k) text += (k ? ", " : "") + prev;
      text += "]\n";
    }
    auto start = Clock::now();
    auto r = load(text);
    CHECK(Clock::now() - start < std::chrono::seconds(2));
    CHECK(messages(r).find("error: alias expansion too large") != std::string::npos);
  }
  SUBCASE("an alias that contains itself") {
    auto r = load("version: 1\napache: &a {config: *a}\nsites: []\n");
    CHECK(messages(r).find("m.yaml:2:1: error: alias expansion too large") != std::string::npos);
  }
  SUBCASE("deep nesting, block and flow") {
    std::string block = "x:\n";
    for (int i = 0; i < 100; ++i) block += std::string(i + 1, ' ') + "k:\n";
    std::string flow = "x: " + std::string(3000, '[') + std::string(3000, ']') + "\n";
    auto start = Clock::now();
    CHECK(messages(load(block)) ==
          "/srv/ecert/m.yaml:65:65: error: nesting is deeper than 64 levels; a manifest needs no "
          "more than 6\n");
    CHECK(messages(load(flow)) ==
          "/srv/ecert/m.yaml:1:67: error: nesting is deeper than 64 levels; a manifest needs no "
          "more than 6\n");
    CHECK(Clock::now() - start < std::chrono::seconds(2));
  }
  SUBCASE("bytes that are not UTF-8 text") {
    CHECK(messages(load(std::string("version: 1\nx: a\0b\n", 17))) ==
          "/srv/ecert/m.yaml:2:5: error: NUL byte; a manifest is text, not binary data\n");
    CHECK(messages(load("version: 1\nx: \xc3\x28\n")) ==
          "/srv/ecert/m.yaml:2:4: error: invalid UTF-8; save the manifest as UTF-8 text\n");
    CHECK(messages(load("version: 1\nx: \xe0\x80\xaf\n")) ==  // overlong '/'
          "/srv/ecert/m.yaml:2:4: error: invalid UTF-8; save the manifest as UTF-8 text\n");
    CHECK(messages(load("version: 1\nx: a\x1b[0m\n")) ==
          "/srv/ecert/m.yaml:2:5: error: control character U+001B is not allowed; remove it\n");
  }
  SUBCASE("tabs in indentation") {
    CHECK(messages(load("version: 1\napache:\n\tconfig: /a\n")) ==
          "/srv/ecert/m.yaml:3:1: error: tab in indentation; indent with spaces\n");
  }
  SUBCASE("syntax errors carry yaml-cpp's mark, 1-based") {
    CHECK(messages(load("version: 1\nx: [a, b\n")) ==
          "/srv/ecert/m.yaml:3:1: error: YAML syntax: end of sequence flow not found\n");
  }
  SUBCASE("empty and non-mapping documents") {
    CHECK(messages(load("")) == "/srv/ecert/m.yaml:1:1: error: manifest is empty; start with "
                                "version: 1\n");
    CHECK(messages(load("# only a comment\n")) ==
          "/srv/ecert/m.yaml:1:1: error: manifest is empty; start with version: 1\n");
    CHECK(messages(load("just words\n")) ==
          "/srv/ecert/m.yaml:1:1: error: a manifest must be a mapping with version, apache and "
          "sites, not a string\n");
  }
}

TEST_CASE("block scalars and quoted text do not confuse the nesting pre-scan") {
  std::string text = kHead + site() + "x-notes: |\n" +
                     std::string("  [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n") +
                     "x-quoted: 'it''s [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[['\n";
  auto r = load(text);
  // Only the unknown keys are reported: nothing about nesting.
  CHECK(messages(r) ==
        "/srv/ecert/m.yaml:18:1: error: unknown key 'x-notes' in manifest; expected one of: "
        "version, apache, defaults, notify, sites\n"
        "/srv/ecert/m.yaml:20:1: error: unknown key 'x-quoted' in manifest; expected one of: "
        "version, apache, defaults, notify, sites\n");
}

}  // namespace
}  // namespace ecert
