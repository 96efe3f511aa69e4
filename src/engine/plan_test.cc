// The planner is a pure function: these tests build Manifest and Observed by
// hand and need no disk, no keys and no Apache.
#include <doctest/doctest.h>

#include <deque>

#include "apache/config.h"
#include "engine/plan.h"

namespace ecert {
namespace {

constexpr std::time_t kNow = 1800000000;  // 2027-01-15

Site standard_site() {
  Site s;
  s.name = s.unicode_name = "www.example.com";
  s.feature = Feature::kStandard;
  s.organization = "My Organization";
  s.key.path = "/srv/ssl.key/www.key";
  s.key.passphrase.kind = PassphraseSource::Kind::kEnv;
  s.key.passphrase.env = "PASS";
  s.csr = "/srv/ssl.csr/www.csr";
  s.certificate = "/srv/ssl.crt/www.cer";
  s.chain = "/srv/ssl.crt/hkpostca.crt";
  s.ca.sub = {"/srv/ca/sub.crt"};
  s.ca.cross = "/srv/ca/cross.crt";
  s.vhost.server_name = s.name;
  return s;
}

Manifest manifest_of(std::vector<Site> sites) {
  Manifest m;
  m.file = "m.yaml";
  m.apache.config = "/etc/apache2/apache2.conf";
  m.sites = std::move(sites);
  return m;
}

FileFacts present(const std::string& digest = "d") { return FileFacts{true, digest, Status::ok()}; }

KeyFacts good_key(const std::string& der = "KEY1") {
  KeyFacts k;
  k.file = present();
  k.opened = true;
  k.is_rsa = true;
  k.bits = 2048;
  k.encrypted = true;
  k.public_key_id = der;
  k.mode = 0600;
  return k;
}

CsrFacts good_csr(const Site& s, const std::string& der = "KEY1") {
  CsrFacts c;
  c.file = present();
  c.parsed = true;
  c.info.subject = crypto::ecert_subject(s.organization, s.name);
  c.info.public_key_id = der;
  c.info.signature_valid = true;
  c.info.signature_digest = "SHA256";
  return c;
}

CertFacts good_cert(const Site& s, const std::string& der = "KEY1") {
  CertFacts c;
  c.file = present();
  c.parsed = true;
  c.info.common_name = s.name;
  c.info.dns_names = {s.name};
  c.info.issuer_cn = "Hongkong Post e-Cert SSL CA 3 - 17";
  c.info.serial = "0A1B";
  c.info.not_before = kNow - 86400;
  c.info.not_after = kNow + 200 * 86400;
  c.info.public_key_id = der;
  c.signed_by_sub = true;
  return c;
}

CaFacts good_ca() {
  CaFacts ca;
  ca.sub_path = "/srv/ca/sub.crt";
  ca.sub_file = ca.cross_file = ca.trust_file = present();
  ca.sub_cn = "Hongkong Post e-Cert SSL CA 3 - 17";
  ca.cross_cn = "Hongkong Post Root CA 3";
  ca.chain_pem = std::make_shared<const std::string>("SUB+CROSS");
  ca.chain_digest = "chain-digest";
  return ca;
}

// Observed facts point at the vhosts of one parsed configuration, which the
// planner also edits: here, a real one parsed from memory.
std::deque<std::shared_ptr<const apache::Config>>& config_store() {
  static std::deque<std::shared_ptr<const apache::Config>> store;
  return store;
}

constexpr const char* kVhostFile = "/etc/apache2/sites-enabled/www.conf";

std::string vhost_text(const Site& s, bool configured, const std::string& key) {
  std::string text = "# www\n\n<VirtualHost *:443>\n    ServerName " + s.name + "\n";
  if (configured)
    text += "    SSLCertificateFile " + s.certificate.string() + "\n    SSLCertificateKeyFile " + key +
            "\n    SSLCertificateChainFile " + s.chain.string() + "\n";
  return text + "</VirtualHost>\n";
}

std::string vhost_conf_with(const Site& s, const std::string& inside) {
  return "<VirtualHost *:443>\n    ServerName " + s.name + "\n" + inside + "</VirtualHost>\n";
}

// The one vhost of a config whose root includes `files` (path -> text).
std::shared_ptr<const apache::Config> config_of(const std::map<std::string, std::string>& files,
                                                const std::string& root_text) {
  MemoryFileSystem fs;
  fs.add_file("/etc/apache2/apache2.conf", root_text);
  for (const auto& [path, text] : files) fs.add_file(path, text);
  auto config = apache::load_config(fs, "/etc/apache2/apache2.conf");
  REQUIRE_MESSAGE(config.is_ok(), config.status().message());
  return config_store().emplace_back(std::make_shared<const apache::Config>(std::move(*config)));
}

const apache::VirtualHost* vhost_with(const Site& s, bool configured, const std::string& key = "") {
  auto config = config_of({{kVhostFile, vhost_text(s, configured, key.empty() ? s.key.path.string() : key)}},
                          "IncludeOptional sites-enabled/*.conf\n");
  REQUIRE(config->vhosts.size() == 1);
  return &config->vhosts[0];
}

// The configuration a site's vhost belongs to.
std::shared_ptr<const apache::Config> config_holding(const apache::VirtualHost* vh) {
  for (const auto& c : config_store())
    if (!c->vhosts.empty() && vh >= &c->vhosts.front() && vh <= &c->vhosts.back()) return c;
  return nullptr;
}

// A site whose every resource is converged.
SiteFacts converged(const Site& s) {
  SiteFacts f;
  f.key = good_key();
  f.csr = good_csr(s);
  f.cert = good_cert(s);
  f.ca = good_ca();
  f.chain = present("chain-digest");
  f.vhost.vhost = vhost_with(s, true);
  return f;
}

Observed observed_of(std::vector<SiteFacts> sites) {
  Observed o;
  o.now = kNow;
  o.state_dir = "/var/lib/ecertctl";
  for (const auto& f : sites)
    if (f.vhost.vhost && !o.apache_config) o.apache_config = config_holding(f.vhost.vhost);
  o.sites = std::move(sites);
  return o;
}

const Change& change(const SitePlan& sp, ResourceKind kind) {
  for (const auto& c : sp.changes)
    if (c.kind == kind) return c;
  FAIL("no change for " << resource_name(kind));
  static Change none;
  return none;
}

}  // namespace

TEST_CASE("nothing on disk: key and CSR are created, the rest waits for the CA") {
  Site s = standard_site();
  SiteFacts f;
  f.ca = good_ca();
  f.vhost.vhost = vhost_with(s, false);
  Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
  const SitePlan& sp = p.sites.at(0);
  CHECK(change(sp, ResourceKind::kKey).action == Action::kCreate);
  REQUIRE(change(sp, ResourceKind::kKey).get<NewKey>());
  CHECK(change(sp, ResourceKind::kKey).get<NewKey>()->bits == 2048);
  CHECK(change(sp, ResourceKind::kKey).get<NewKey>()->cipher == Cipher::kAes256Cbc);
  REQUIRE(change(sp, ResourceKind::kCsr).get<NewCsr>());
  CHECK(change(sp, ResourceKind::kCsr).get<NewCsr>()->key == KeyRole::kNew);
  CHECK(change(sp, ResourceKind::kChain).blocked_by == Blocker{ResourceKind::kCertificate, false});
  CHECK(change(sp, ResourceKind::kCsr).action == Action::kCreate);
  CHECK(change(sp, ResourceKind::kCertificate).action == Action::kPending);
  CHECK(change(sp, ResourceKind::kCertificate).reason ==
        "waiting for the CA: submit the CSR (ecertctl csr -f m.yaml --site www.example.com) and place the "
        "issued certificate at /srv/ssl.crt/www.cer");
  CHECK(change(sp, ResourceKind::kChain).action == Action::kPending);
  CHECK(change(sp, ResourceKind::kVhost).action == Action::kPending);
  CHECK(sp.state() == SitePlan::State::kChanges);
  CHECK_FALSE(p.restart);  // keys and CSRs are not read by Apache
  CHECK(p.has_changes());
}

TEST_CASE("converged site: every resource is a no-op and Apache is not restarted") {
  Site s = standard_site();
  Plan p = make_plan(manifest_of({s}), observed_of({converged(s)}), "m.yaml");
  for (const auto& c : p.sites[0].changes) CHECK_MESSAGE(c.action == Action::kNoOp, resource_name(c.kind));
  CHECK(p.sites[0].state() == SitePlan::State::kConverged);
  CHECK_FALSE(p.restart);
  CHECK_FALSE(p.has_changes());
}

TEST_CASE("pending only: not a change, not an error") {
  Site s = standard_site();
  SiteFacts f = converged(s);
  f.cert = CertFacts{};
  Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
  CHECK(p.sites[0].state() == SitePlan::State::kPending);
  CHECK_FALSE(p.has_changes());
  CHECK_FALSE(p.has_errors());
}

TEST_CASE("an existing key that does not match the manifest is an error naming rotate, never regenerated") {
  Site s = standard_site();
  SiteFacts f = converged(s);
  f.key.bits = 4096;
  Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
  const Change& k = change(p.sites[0], ResourceKind::kKey);
  CHECK(k.action == Action::kError);
  CHECK(std::holds_alternative<std::monostate>(k.payload));
  CHECK(k.reason ==
        "the key has 4096 bits, the manifest says 2048; the key is never replaced implicitly: to replace it, "
        "run ecertctl rotate -f m.yaml --site www.example.com");
  for (const auto& c : p.sites[0].changes) CHECK(std::holds_alternative<std::monostate>(c.payload));
  for (const auto& c : p.sites[0].changes)
    if (c.kind != ResourceKind::kKey) CHECK(c.blocked_by == Blocker{ResourceKind::kKey, true});
}

TEST_CASE("a key others may read is an error naming the chmod; group-readable is fine") {
  Site s = standard_site();
  SiteFacts f = converged(s);
  f.key.mode = 0644;
  Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
  const Change& k = change(p.sites[0], ResourceKind::kKey);
  CHECK(k.action == Action::kError);
  CHECK(k.reason.find("the key /srv/ssl.key/www.key is readable or writable by others (mode 0644); run: chmod 600 "
                      "/srv/ssl.key/www.key (or 640 with the group ssl-cert)") == 0);
  f.key.mode = 0620;
  CHECK(change(make_plan(manifest_of({s}), observed_of({f}), "m.yaml").sites[0], ResourceKind::kKey).reason.find(
            "writable by its group (mode 0620)") != std::string::npos);
  f.key.mode = 0640;
  CHECK(make_plan(manifest_of({s}), observed_of({f}), "m.yaml").sites[0].state() == SitePlan::State::kConverged);
}

TEST_CASE("a wrong passphrase is an error on the key") {
  Site s = standard_site();
  SiteFacts f = converged(s);
  f.key.opened = false;
  f.key.open_error = Status::permission("cannot open the key /srv/ssl.key/www.key: wrong passphrase");
  Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
  CHECK(change(p.sites[0], ResourceKind::kKey).action == Action::kError);
  CHECK(p.has_errors());
}

TEST_CASE("CSR with another organization is regenerated with the difference as reason") {
  Site s = standard_site();
  SiteFacts f = converged(s);
  f.csr.info.subject = crypto::ecert_subject("Old Org", s.name);
  Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
  const Change& c = change(p.sites[0], ResourceKind::kCsr);
  CHECK(c.action == Action::kUpdate);
  REQUIRE(c.get<NewCsr>());
  CHECK(c.get<NewCsr>()->subject == crypto::ecert_subject("My Organization", s.name));
  CHECK(c.get<NewCsr>()->key == KeyRole::kLive);
  CHECK(c.reason == "CSR subject O differs: 'Old Org' -> 'My Organization'");
}

TEST_CASE("CSR made for another key is regenerated") {
  Site s = standard_site();
  SiteFacts f = converged(s);
  f.csr.info.public_key_id = "OTHER";
  Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
  CHECK(change(p.sites[0], ResourceKind::kCsr).reason == "CSR was made for another key");
}

TEST_CASE("certificate checks") {
  Site s = standard_site();
  SiteFacts f = converged(s);
  SUBCASE("another key") {
    f.cert.info.public_key_id = "OTHER";
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    CHECK(change(p.sites[0], ResourceKind::kCertificate).action == Action::kError);
    CHECK(change(p.sites[0], ResourceKind::kVhost).action == Action::kError);
    CHECK_FALSE(p.restart);
  }
  SUBCASE("wrong CN") {
    f.cert.info.common_name = "other.example.com";
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    CHECK(change(p.sites[0], ResourceKind::kCertificate).reason.find("certificate CN is 'other.example.com'") == 0);
  }
  SUBCASE("not signed by the sub CA") {
    f.cert.signed_by_sub = false;
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    CHECK(change(p.sites[0], ResourceKind::kCertificate).action == Action::kError);
    CHECK(change(p.sites[0], ResourceKind::kCertificate).reason.find("was not issued by the sub CA") != std::string::npos);
  }
  SUBCASE("EV certificate on a standard site names both CAs") {
    f.cert.signed_by_sub = false;
    f.cert.signed_by_other_feature_sub = true;
    f.cert.other_feature_sub_cn = "Hongkong Post e-Cert EV SSL CA 3 - 17";
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    const std::string& r = change(p.sites[0], ResourceKind::kCertificate).reason;
    CHECK(r.find("'Hongkong Post e-Cert EV SSL CA 3 - 17'") != std::string::npos);
    CHECK(r.find("'Hongkong Post e-Cert SSL CA 3 - 17'") != std::string::npos);
  }
  SUBCASE("expired") {
    f.cert.info.not_after = kNow - 10;
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    CHECK(change(p.sites[0], ResourceKind::kCertificate).reason.find("certificate expired on") == 0);
  }
  SUBCASE("expiring soon is a warning, not an error") {
    f.cert.info.not_before = kNow - 189 * 86400;  // 10 of 199 days left: renewal is due
    f.cert.info.not_after = kNow + 10 * 86400;
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    CHECK(change(p.sites[0], ResourceKind::kCertificate).action == Action::kNoOp);
    REQUIRE(p.sites[0].warnings.size() == 1);
    CHECK(p.sites[0].warnings[0].find("certificate expires in 10 days") == 0);
  }
  SUBCASE("multi-domain names must all be in the certificate") {
    s.feature = Feature::kMultiDomain;
    s.additional_names = {"shop.example.com"};
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    CHECK(change(p.sites[0], ResourceKind::kCertificate).reason.find("does not carry 'shop.example.com'") != std::string::npos);
  }
  SUBCASE("DER is converted in place, which Apache reads") {
    f.cert.was_der = true;
    f.cert.pem = "PEM";
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    const WriteFile* w = change(p.sites[0], ResourceKind::kCertificate).get<WriteFile>();
    REQUIRE(w);
    CHECK(*w->bytes == "PEM");
    CHECK(p.restart);
  }
}

TEST_CASE("chain: created, updated when different, error when it does not verify") {
  Site s = standard_site();
  SiteFacts f = converged(s);
  SUBCASE("absent") {
    f.chain = FileFacts{};
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    CHECK(change(p.sites[0], ResourceKind::kChain).action == Action::kCreate);
    const WriteFile* w = change(p.sites[0], ResourceKind::kChain).get<WriteFile>();
    REQUIRE(w);
    CHECK(*w->bytes == "SUB+CROSS");
    CHECK(w->sources == std::vector<std::string>{"/srv/ca/sub.crt", "/srv/ca/cross.crt"});
    CHECK(p.restart);
    CHECK(p.restart_reason == "changed: www.example.com chain");
  }
  SUBCASE("a fleet's restart reason names the first ten changes and counts the rest") {
    std::vector<Site> sites(12, s);
    std::vector<SiteFacts> facts(12, f);
    for (auto& fi : facts) fi.chain = FileFacts{};
    Plan p = make_plan(manifest_of(sites), observed_of(facts), "m.yaml");
    std::string ten = "changed: www.example.com chain";
    for (int i = 1; i < 10; ++i) ten += ", www.example.com chain";
    CHECK(p.restart_reason == ten + " and 2 more");
  }
  SUBCASE("different") {
    f.chain = present("old");
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    CHECK(change(p.sites[0], ResourceKind::kChain).action == Action::kUpdate);
  }
  SUBCASE("does not verify") {
    f.ca.chain_verification = Status::invalid("the cross certificate did not sign the sub CA");
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    CHECK(change(p.sites[0], ResourceKind::kChain).action == Action::kError);
    CHECK(change(p.sites[0], ResourceKind::kVhost).action == Action::kError);
  }
}

TEST_CASE("chain: a file two sites share is refused for the later site when their sub CAs differ") {
  Site a = standard_site();
  Site b = standard_site();
  b.name = b.unicode_name = b.vhost.server_name = "shop.example.com";
  b.key.path = "/srv/ssl.key/shop.key";
  SiteFacts fa = converged(a);
  SiteFacts fb = converged(b);
  fb.ca.sub_path = "/srv/ca/sub-2025.crt";
  fb.ca.chain_digest = "reissued-chain";
  fb.chain = present("chain-digest");
  Plan p = make_plan(manifest_of({a, b}), observed_of({fa, fb}), "m.yaml");
  CHECK(p.sites[0].state() == SitePlan::State::kConverged);
  const Change& chain = change(p.sites[1], ResourceKind::kChain);
  CHECK(chain.action == Action::kError);
  CHECK(chain.reason ==
        "/srv/ssl.crt/hkpostca.crt is shared with www.example.com, whose certificate chains to the sub CA in "
        "/srv/ca/sub.crt, while this one's chains to /srv/ca/sub-2025.crt; give this site a chain file of its own");
  CHECK(change(p.sites[1], ResourceKind::kVhost).blocked_by == Blocker{ResourceKind::kChain, true});
}

TEST_CASE("chain: a sub CA or cross certificate that ends before the leaf is a warning") {
  Site s = standard_site();
  SiteFacts f = converged(s);
  f.ca.cross_not_after = kNow + 100 * 86400;  // the leaf runs 200 days
  f.ca.sub_not_after = kNow + 300 * 86400;
  Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
  REQUIRE(p.sites[0].warnings.size() == 1);
  CHECK(p.sites[0].warnings[0].find("the cross certificate /srv/ca/cross.crt expires on ") == 0);
  CHECK(p.sites[0].warnings[0].find("before the certificate does") != std::string::npos);
}

TEST_CASE("vhost: directives that differ are listed; a missing vhost is an error even while pending") {
  Site s = standard_site();
  SiteFacts f = converged(s);
  SUBCASE("unconfigured") {
    f.vhost.vhost = vhost_with(s, false);
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    const Change& v = change(p.sites[0], ResourceKind::kVhost);
    CHECK(v.action == Action::kUpdate);
    CHECK(v.path == "/etc/apache2/sites-enabled/www.conf:3");
    CHECK(v.reason.find("add SSLCertificateFile /srv/ssl.crt/www.cer") == 0);
    // The payload is the whole new file: exactly the bytes apply writes.
    REQUIRE(v.get<EditConfig>());
    REQUIRE(v.get<EditConfig>()->writes.size() == 1);
    REQUIRE(p.config_writes.size() == 1);
    const ConfigWrite& w = p.config_writes[v.get<EditConfig>()->writes[0]];
    CHECK(w.path == kVhostFile);
    CHECK(w.after == vhost_text(s, true, s.key.path.string()));
    CHECK(w.sites == std::vector<std::size_t>{0});
    CHECK(p.restart);
  }
  SUBCASE("one value differs") {
    f.vhost.vhost = vhost_with(s, true, "/old/key");
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    CHECK(change(p.sites[0], ResourceKind::kVhost).reason == "SSLCertificateKeyFile /old/key -> /srv/ssl.key/www.key");
  }
  SUBCASE("a file Included by another vhost too is never edited") {
    const std::string shared = "/etc/apache2/hkpost-ssl.conf";
    auto include_in = [&](const std::string& name) {
      return "<VirtualHost *:443>\n    ServerName " + name + "\n    Include " + shared + "\n</VirtualHost>\n";
    };
    auto config = config_of({{"/etc/apache2/sites-enabled/a.conf", include_in(s.name)},
                             {"/etc/apache2/sites-enabled/b.conf", include_in("other.example.com")},
                             {shared, "SSLCertificateFile /old/www.cer\nSSLCertificateKeyFile /old/www.key\n"}},
                            "IncludeOptional sites-enabled/*.conf\n");
    f.vhost.vhost = &config->vhosts.at(0);
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    const Change& v = change(p.sites[0], ResourceKind::kVhost);
    CHECK(v.action == Action::kError);
    CHECK(v.reason ==
          "/etc/apache2/hkpost-ssl.conf:1: SSLCertificateFile for /etc/apache2/sites-enabled/a.conf:1 (*:443, "
          "ServerName www.example.com) is set in a file that other vhosts also read (the other vhosts that read it: "
          "/etc/apache2/sites-enabled/b.conf:1 (*:443, ServerName other.example.com)); ecertctl does not edit it, "
          "since that would change their certificates too. Move the SSLCertificate* directives into each site's "
          "<VirtualHost> block");
    CHECK(p.config_writes.empty());
    CHECK_FALSE(p.restart);
  }
  SUBCASE("a file Included by this vhost only is edited where the directive is") {
    const std::string own = "/etc/apache2/www-ssl.conf";
    auto config = config_of({{"/etc/apache2/sites-enabled/a.conf", "<VirtualHost *:443>\n    ServerName " + s.name +
                                                                       "\n    Include " + own + "\n</VirtualHost>\n"},
                             {own, "SSLCertificateFile /old/www.cer\n"}},
                            "IncludeOptional sites-enabled/*.conf\n");
    f.vhost.vhost = &config->vhosts.at(0);
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    REQUIRE(change(p.sites[0], ResourceKind::kVhost).action == Action::kUpdate);
    REQUIRE(p.config_writes.size() == 2);
    CHECK(p.config_writes[1].path == own);
    CHECK(p.config_writes[1].after == "SSLCertificateFile /srv/ssl.crt/www.cer\n");
    CHECK(p.config_writes[0].after.find("SSLCertificateKeyFile /srv/ssl.key/www.key") != std::string::npos);
    CHECK(p.config_writes[0].after.find("SSLCertificateFile") == std::string::npos);  // set in the Included file
  }
  SUBCASE("SSL lines in a section Apache skips are left as they are, and not taken as set") {
    const std::string skipped = "    <IfDefine OLD_CHAIN>\n    SSLCertificateChainFile /old/chain.crt\n    </IfDefine>\n";
    auto config = config_of({{kVhostFile, vhost_conf_with(s, skipped)}}, "IncludeOptional sites-enabled/*.conf\n");
    f.vhost.vhost = &config->vhosts.at(0);
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    REQUIRE(p.config_writes.size() == 1);
    CHECK(p.config_writes[0].after == vhost_conf_with(s, skipped + "    SSLCertificateFile /srv/ssl.crt/www.cer\n"
                                                                   "    SSLCertificateKeyFile /srv/ssl.key/www.key\n"
                                                                   "    SSLCertificateChainFile /srv/ssl.crt/hkpostca.crt\n"));
  }
  SUBCASE("not found while the certificate is pending: a warning saying what to fix, not an error") {
    f.cert = CertFacts{};
    f.vhost.vhost = nullptr;
    f.vhost.error = Status::not_found("no <VirtualHost> on port 443 serves www.example.com");
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    CHECK(change(p.sites[0], ResourceKind::kVhost).action == Action::kPending);
    CHECK(p.sites[0].state() == SitePlan::State::kPending);
    REQUIRE(p.sites[0].warnings.size() == 1);
    CHECK(p.sites[0].warnings[0] == "fix before the certificate arrives (it is an error then): no <VirtualHost> on "
                                    "port 443 serves www.example.com");
  }
  SUBCASE("not found once the certificate is there: an error") {
    f.vhost.vhost = nullptr;
    f.vhost.error = Status::not_found("no <VirtualHost> on port 443 serves www.example.com");
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    CHECK(change(p.sites[0], ResourceKind::kVhost).action == Action::kError);
  }
}

// A certificate of `lifetime` days of which `used` have passed at kNow.
CertFacts cert_aged(const Site& s, int lifetime, double used, const std::string& key = "KEY1") {
  CertFacts c = good_cert(s, key);
  c.info.not_before = kNow - static_cast<std::time_t>(used * 86400);
  c.info.not_after = c.info.not_before + lifetime * 86400;
  return c;
}

// A staged renewal, waiting for its certificate.
SiteFacts staged(const Site& s) {
  SiteFacts f = converged(s);
  f.stage().key = good_key("KEY2");
  f.stage().key.file = present("staged-key");
  f.stage().key.modified = kNow - 3 * 86400;
  f.stage().csr = good_csr(s, "KEY2");
  return f;
}

TEST_CASE("renewal is due inside renewal.before: a percentage of the lifetime, or days") {
  Site s = standard_site();
  SiteFacts f = converged(s);
  auto key_change = [&](const Site& site) {
    return change(make_plan(manifest_of({site}), observed_of({f}), "m.yaml").sites[0], ResourceKind::kKey);
  };
  // 199 days; 33% of it is 65.67 days: due once 133.33 days are used.
  f.cert = cert_aged(s, 199, 133.2);
  CHECK(key_change(s).action == Action::kNoOp);
  f.cert = cert_aged(s, 199, 133.4);
  const Change due = key_change(s);
  CHECK(due.action == Action::kCreate);
  CHECK(due.path == "/srv/ssl.key/www.key.new");
  REQUIRE(due.get<StageRenewal>());
  CHECK(due.get<StageRenewal>()->new_key);
  CHECK(due.get<StageRenewal>()->subject == crypto::ecert_subject("My Organization", s.name));
  CHECK(due.reason.find("renewal due since ") == 0);
  CHECK_FALSE(due.apache_reads);
  // In days: 30d before the end.
  s.renewal.before = Window{Window::Kind::kDays, 30};
  f.cert = cert_aged(s, 199, 168.9);
  CHECK(key_change(s).action == Action::kNoOp);
  f.cert = cert_aged(s, 199, 169.1);
  CHECK(key_change(s).get<StageRenewal>());
  // stage: manual only warns.
  s.renewal.stage = RenewalSpec::Stage::kManual;
  Plan manual = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
  CHECK(change(manual.sites[0], ResourceKind::kKey).action == Action::kNoOp);
  CHECK(manual.sites[0].warnings.at(0).find("renewal due since") == 0);
  CHECK(manual.sites[0].warnings.at(0).find("ecertctl rotate -f m.yaml --site www.example.com") != std::string::npos);
  CHECK_FALSE(manual.restart);
}

TEST_CASE("renewal staged: pending, naming the CSR to submit; not a change") {
  Site s = standard_site();
  SiteFacts f = staged(s);
  Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
  const Change& k = change(p.sites[0], ResourceKind::kKey);
  CHECK(k.action == Action::kPending);
  CHECK(k.reason.find("submit the CSR /srv/ssl.csr/www.csr.new to the CA (ecertctl csr -f m.yaml --site "
                      "www.example.com) and place the certificate it issues at /srv/ssl.crt/www.cer.new") !=
        std::string::npos);
  CHECK(p.sites[0].state() == SitePlan::State::kPending);
  CHECK_FALSE(p.has_changes());
  CHECK(p.sites[0].renewal.csr_to_submit == "/srv/ssl.csr/www.csr.new");
  CHECK(p.sites[0].renewal.staged_since == kNow - 3 * 86400);
  CHECK_FALSE(p.sites[0].renewal.due_since);  // rotated before its window opened
  SUBCASE("staged because it was due: still due, since the window opened") {
    f.cert = cert_aged(s, 199, 140);
    Plan due = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    CHECK(due.sites[0].renewal.due_since == f.cert.info.not_after - 199 * 86400 * 33 / 100);  // 33% by default
    CHECK(due.sites[0].renewal.staged_since == kNow - 3 * 86400);
    CHECK_FALSE(due.has_changes());
  }
  SUBCASE("its CSR missing: written again for the staged key") {
    f.stage().csr = CsrFacts{};
    Plan again = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    const Change& c = change(again.sites[0], ResourceKind::kKey);
    CHECK(c.action == Action::kUpdate);
    REQUIRE(c.get<StageRenewal>());
    CHECK_FALSE(c.get<StageRenewal>()->new_key);
  }
  SUBCASE("inside renewal.warn: a warning with the next step") {
    f.cert = cert_aged(s, 199, 185);
    Plan warn = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    REQUIRE(warn.sites[0].warnings.size() == 1);
    CHECK(warn.sites[0].warnings[0].find("certificate expires in 14 days") == 0);
    CHECK(warn.sites[0].warnings[0].find("its renewal is not installed: submit the CSR /srv/ssl.csr/www.csr.new") !=
          std::string::npos);
    CHECK(warn.sites[0].renewal.warn);
    CHECK_FALSE(warn.has_errors());
  }
  SUBCASE("expired: an error") {
    f.cert = cert_aged(s, 199, 200);
    CHECK(make_plan(manifest_of({s}), observed_of({f}), "m.yaml").has_errors());
  }
}

TEST_CASE("renewal: the certificate for the staged key arrives and everything is promoted together") {
  Site s = standard_site();
  SiteFacts f = staged(s);
  SUBCASE("at <certificate>.new") {
    f.stage().cert = good_cert(s, "KEY2");
    f.stage().ca = good_ca();
    f.stage().ca.chain_pem = std::make_shared<const std::string>("NEW-SUB+CROSS");
    f.stage().ca.chain_digest = "new-chain";
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    const SitePlan& sp = p.sites[0];
    REQUIRE(change(sp, ResourceKind::kKey).get<PromoteKey>());
    CHECK(change(sp, ResourceKind::kKey).get<PromoteKey>()->staged == "/srv/ssl.key/www.key.new");
    REQUIRE(change(sp, ResourceKind::kCsr).get<PromoteCsr>());
    CHECK(change(sp, ResourceKind::kCsr).undone_on_rollback);
    const PromoteCertificate* cert = change(sp, ResourceKind::kCertificate).get<PromoteCertificate>();
    REQUIRE(cert);
    CHECK(cert->staged == "/srv/ssl.crt/www.cer.new");
    const WriteFile* chain = change(sp, ResourceKind::kChain).get<WriteFile>();
    REQUIRE(chain);
    CHECK(*chain->bytes == "NEW-SUB+CROSS");
    CHECK(chain->keep_old);
    CHECK(p.restart);
    CHECK(sp.renewal.promoting);
  }
  SUBCASE("over the live certificate, with a copy of the previous one to fall back on") {
    f.cert = good_cert(s, "KEY2");
    f.installed = InstalledRecord{"d", "previous-cert", "chain-digest"};
    f.previous_cert = present("previous-cert");
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    const PromoteCertificate* cert = change(p.sites[0], ResourceKind::kCertificate).get<PromoteCertificate>();
    REQUIRE(cert);
    CHECK(cert->staged.empty());
    CHECK(cert->previous == "/var/lib/ecertctl/installed/www.example.com.crt");
  }
  SUBCASE("over the live certificate, without a copy: refused, saying where to put it") {
    f.cert = good_cert(s, "KEY2");
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    const Change& cert = change(p.sites[0], ResourceKind::kCertificate);
    CHECK(cert.action == Action::kError);
    CHECK(cert.reason.find("move the renewed certificate to /srv/ssl.crt/www.cer.new") != std::string::npos);
    CHECK(change(p.sites[0], ResourceKind::kKey).action == Action::kPending);  // nothing is promoted
    CHECK_FALSE(p.restart);
  }
  SUBCASE("a renewed certificate that fails a check is not promoted") {
    f.stage().cert = good_cert(s, "KEY2");
    f.stage().cert.info.common_name = "other.example.com";
    f.stage().ca = good_ca();
    Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
    const Change& cert = change(p.sites[0], ResourceKind::kCertificate);
    CHECK(cert.action == Action::kError);
    CHECK(cert.path == "/srv/ssl.crt/www.cer.new");
    CHECK(p.has_errors());
  }
}

TEST_CASE("renewal: a promotion Apache runs with has its staged files removed; nothing else changes") {
  Site s = standard_site();
  SiteFacts f = converged(s);
  f.stage().key = good_key();  // the same bytes as the live key: promoted
  f.stage().csr = good_csr(s);
  f.installed = InstalledRecord{"d", "d", "chain-digest"};
  Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
  const Change& k = change(p.sites[0], ResourceKind::kKey);
  REQUIRE(k.get<RemoveStaged>());
  CHECK(k.get<RemoveStaged>()->paths == std::vector<std::string>{"/srv/ssl.key/www.key.new", "/srv/ssl.csr/www.csr.new"});
  CHECK_FALSE(p.restart);
}

TEST_CASE("one site's error leaves the other site's plan intact") {
  Site a = standard_site();
  Site b = standard_site();
  b.name = "shop.example.com";
  b.key.path = "/srv/ssl.key/shop.key";
  SiteFacts fa = converged(a);
  fa.key.is_rsa = false;
  SiteFacts fb = converged(b);
  fb.chain = FileFacts{};
  Plan p = make_plan(manifest_of({a, b}), observed_of({fa, fb}), "m.yaml");
  CHECK(p.sites[0].state() == SitePlan::State::kError);
  CHECK(p.sites[1].state() == SitePlan::State::kChanges);
  CHECK(p.restart);
}

}  // namespace ecert

namespace ecert {

TEST_CASE("a certificate replaced in place since Apache's last restart asks for a reload") {
  Site s = standard_site();
  SiteFacts f = converged(s);
  f.cert.file.digest = "new-cert";
  f.installed = InstalledRecord{"d", "old-cert", "chain-digest"};
  Plan p = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
  const Change& c = change(p.sites[0], ResourceKind::kCertificate);
  CHECK(c.action == Action::kUpdate);
  CHECK(c.get<Reload>());
  CHECK(c.reason.find("changed on disk since Apache was last restarted") == 0);
  CHECK(p.restart);
  CHECK(change(p.sites[0], ResourceKind::kKey).action == Action::kNoOp);

  f.installed = InstalledRecord{"d", "new-cert", "chain-digest"};
  Plan same = make_plan(manifest_of({s}), observed_of({f}), "m.yaml");
  CHECK_FALSE(same.restart);
  CHECK(same.sites[0].state() == SitePlan::State::kConverged);
}

}  // namespace ecert
