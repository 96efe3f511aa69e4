// apply in process: an in-memory disk holding a real test PKI and an Apache
// configuration, a fake command runner, a test clock and a scripted TLS
// probe. Each test asserts what was written (the disk's bytes and operation
// log) and which commands ran.
#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "crypto/csr.h"
#include "crypto/test_pki.h"
#include "engine/apply.h"
#include "manifest/loader.h"
#include "util/fault_fs.h"

namespace ecert {
namespace {

namespace tp = crypto::testpki;

constexpr const char* kState = "/var/lib/ecertctl";
const std::vector<std::string> kConfigtest{"apache2ctl configtest"}, kRestart{"apache2ctl graceful"};

std::string manifest_text(bool verify) {
  const std::string v = verify ? ", vhost: {verify: '127.0.0.1:443'}" : "";
  return R"(version: 1
apache:
  config: /etc/apache2/apache2.conf
  environment: [APACHE_CONFDIR]
defaults:
  organization: My Organization
  key: {passphrase: {env: ECERT_APPLY_TEST_PASS}}
  ca: {sub: /ca/sub.crt, cross: /ca/cross.crt, trust: /ca/trust.pem}
sites:
  - {name: www.a.example, feature: standard, key: /srv/a.key, csr: /srv/a.csr, certificate: /srv/a.cer, chain: /srv/a-chain.crt)" +
         v + R"(}
  - {name: www.b.example, feature: standard, key: /srv/b.key, csr: /srv/b.csr, certificate: /srv/b.cer, chain: /srv/b-chain.crt)" +
         v + "}\n";
}

std::string encrypted_pem(const crypto::PrivateKey& key) {
  SecretString secret{std::string("apply test pass")};
  return std::string(key.to_pem(Cipher::kAes256Cbc, &secret)->expose());
}

std::string vhost_conf(const std::string& name, const std::string& inside = "") {
  return "<VirtualHost *:443>\n    ServerName " + name + "\n" + inside + "</VirtualHost>\n";
}

// Runs nothing; records each command and fails those it is told to. The
// Apache probe's questions (apache2 -l, -v) it answers without recording.
class FakeRunner : public CommandRunner {
 public:
  std::vector<std::string> calls;
  std::vector<CommandRequest> requests;
  std::map<std::string, int> failures;  // command -> how many of its next runs fail
  Result<CommandResult> execute(const CommandRequest& request) override {
    CommandResult r;
    r.exit_code = 0;
    if (request.argv.back() == "-l" || request.argv.back() == "-v") {  // the Apache probe (engine/apache_probe.h)
      r.output = request.argv.back() == "-l" ? "Compiled in modules:\n  core.c\n" : "Server version: Apache/2.4.62\n";
      return r;
    }
    requests.push_back(request);
    std::string line;
    for (const auto& a : request.argv) line += (line.empty() ? "" : " ") + a;
    calls.push_back(line);
    if (auto it = failures.find(line); it != failures.end() && it->second > 0) {
      --it->second;
      r.exit_code = 1;
      r.output = "AH00526: Syntax error";
    }
    return r;
  }
};

class FakeClock : public Clock {
 public:
  std::time_t now() const override { return now_; }
  void sleep_for(std::chrono::milliseconds d) const override { slept += d; }
  std::time_t now_ = std::time(nullptr);
  mutable std::chrono::milliseconds slept{0};
};

class FakeProbe : public TlsProbe {
 public:
  bool matches = true;
  bool reachable = true;  // false: Apache does not answer at all
  int probes = 0;
  ServedFacts probe(const Site& site, std::chrono::milliseconds) override {
    ++probes;
    if (!reachable) return ServedFacts{*site.vhost.verify, false, false, "connection refused"};
    return ServedFacts{*site.vhost.verify, true, matches, matches ? "serves the files" : "serves another certificate"};
  }
};

// New keys from a pool made once per process (slots 200 and up), so that a
// test does not spend its time generating RSA keys.
class PooledKeys : public KeySource {
 public:
  std::vector<Result<crypto::PrivateKey>> generate(const std::vector<int>& bits, const KeyProgress& progress) override {
    std::vector<Result<crypto::PrivateKey>> out;
    for (std::size_t i = 0; i < bits.size(); ++i) {
      out.emplace_back(tp::cached_key(200 + next_++));
      if (progress) progress(i + 1, bits.size());
    }
    return out;
  }
  int handed_out() const { return next_; }

 private:
  int next_ = 0;
};

struct World {
  MemoryFileSystem disk;
  FaultInjectionFileSystem fs{disk};
  FakeRunner runner;
  FakeClock clock;
  FakeProbe tls;
  PooledKeys keys;
  Services services{fs, runner, clock, tls, keys};
  Manifest manifest;
  const tp::HkpostPki& pki = (tp::warm_keys({1, 2, 3, 200, 201}), tp::hkpost_pki());

  explicit World(bool verify = false, const std::string& b_inside = "", const std::string& a_inside = "") {
    auto loaded = load_manifest_text(manifest_text(verify), "/srv/ecert.yaml");
    REQUIRE(loaded.ok());
    manifest = std::move(loaded.manifest);
    ::setenv("ECERT_APPLY_TEST_PASS", "apply test pass", 1);
    disk.add_file("/ca/sub.crt", pki.sub.pem());
    disk.add_file("/ca/cross.crt", pki.cross.pem());
    disk.add_file("/ca/trust.pem", pki.trust_pem());
    disk.add_file("/etc/apache2/apache2.conf", "ServerRoot /etc/apache2\nIncludeOptional sites-enabled/*.conf\n");
    disk.add_file("/etc/apache2/sites-enabled/a.conf", vhost_conf("www.a.example", a_inside));
    disk.add_file("/etc/apache2/sites-enabled/b.conf", vhost_conf("www.b.example", b_inside));
    add_site("a", tp::cached_key(1), "www.a.example");
    add_site("b", tp::cached_key(2), "www.b.example");
  }

  void add_site(const std::string& n, const crypto::PrivateKey& key, const std::string& cn) {
    disk.add_file("/srv/" + n + ".key", encrypted_pem(key), 0600);
    disk.add_file("/srv/" + n + ".csr", *crypto::make_csr_pem(key, crypto::ecert_subject("My Organization", cn)));
    disk.add_file("/srv/" + n + ".cer", pki.issue_leaf(key, cn)->pem());
  }

  Report apply() {
    runner.calls.clear();
    ApplyOptions o;
    o.state_dir = kState;
    o.manifest_arg = "/srv/ecert.yaml";
    o.lock_wait = std::chrono::seconds(0);
    return ecert::apply(manifest, services, o);
  }

  // Every file outside the state directory, with its bytes and mode.
  std::map<std::string, std::pair<std::string, mode_t>> files() const {
    std::map<std::string, std::pair<std::string, mode_t>> out;
    for (const auto& [path, e] : disk.files())
      if (path.rfind(kState, 0) != 0) out.emplace(path, std::make_pair(e.data, e.mode));
    return out;
  }
  std::string read(const std::string& path) const { return disk.files().at(path).data; }
  bool exists(const std::string& path) const { return disk.files().count(path) > 0; }
};

const ChangeResult& result_of(const Report& r, std::size_t site, ResourceKind kind) {
  const auto& changes = r.plan.sites.at(site).changes;
  for (std::size_t j = 0; j < changes.size(); ++j)
    if (changes[j].kind == kind) return *r.result(site, j);
  FAIL("no change for " << resource_name(kind));
  static ChangeResult none;
  return none;
}

}  // namespace

TEST_CASE("apply: a run with changes restarts Apache once; a converged run runs nothing and writes nothing") {
  World w;
  Report first = w.apply();
  CHECK_FALSE(first.failed());
  CHECK(w.runner.calls == std::vector<std::string>{"apache2ctl configtest", "apache2ctl graceful"});
  for (const auto& request : w.runner.requests) {
    CHECK(request.pass_env == std::vector<std::string>{"APACHE_CONFDIR"});  // and nothing else beyond PATH, LANG, LC_*
    CHECK(request.input.empty());
  }
  CHECK(w.read("/srv/a-chain.crt") == w.pki.chain_pem());
  CHECK(w.read("/etc/apache2/sites-enabled/a.conf") ==
        vhost_conf("www.a.example",
                   "    SSLCertificateFile /srv/a.cer\n    SSLCertificateKeyFile /srv/a.key\n"
                   "    SSLCertificateChainFile /srv/a-chain.crt\n"));
  CHECK(result_of(first, 0, ResourceKind::kVhost).outcome == Outcome::kDone);

  const std::size_t logged = w.disk.log().size();
  Report again = w.apply();
  CHECK_FALSE(again.failed());
  CHECK_FALSE(again.changed());
  CHECK(w.runner.calls.empty());
  const std::vector<std::string> tail(w.disk.log().begin() + static_cast<long>(logged), w.disk.log().end());
  CHECK(tail == std::vector<std::string>{"lock /var/lib/ecertctl/lock"});
}

TEST_CASE("apply: a failed configtest restores every byte and restarts nothing") {
  World w;
  const auto before = w.files();
  w.runner.failures["apache2ctl configtest"] = 1;
  Report r = w.apply();
  CHECK(w.runner.calls == kConfigtest);
  CHECK(w.files() == before);
  CHECK(r.failed());
  CHECK(r.apache().rolled_back);
  CHECK(r.apache().error.find("configtest (apache2ctl configtest) failed with exit code 1") == 0);
  CHECK(result_of(r, 0, ResourceKind::kChain).outcome == Outcome::kRolledBack);
  CHECK(result_of(r, 0, ResourceKind::kChain).rolled_back_by == ApacheStep::kConfigtest);
  CHECK(view_change(r, 0, 3).reason == "rolled back: configtest failed");
}

TEST_CASE("apply: a failed restart restores every byte and restarts Apache on them") {
  World w;
  const auto before = w.files();
  w.runner.failures["apache2ctl graceful"] = 1;
  Report r = w.apply();
  CHECK(w.runner.calls == std::vector<std::string>{"apache2ctl configtest", "apache2ctl graceful", "apache2ctl graceful"});
  CHECK(w.files() == before);
  CHECK(r.apache().error.find("Every file this run changed for Apache was restored and Apache restarted on them.") !=
        std::string::npos);
  CHECK(result_of(r, 1, ResourceKind::kVhost).rolled_back_by == ApacheStep::kRestart);
}

TEST_CASE("apply: a failed verify restores every byte, restarts on them, and waits through the clock") {
  World w(true);
  const auto before = w.files();
  w.tls.matches = false;
  Report r = w.apply();
  CHECK(w.runner.calls == std::vector<std::string>{"apache2ctl configtest", "apache2ctl graceful", "apache2ctl graceful"});
  CHECK(w.files() == before);
  REQUIRE(r.applied->verified.size() == 2);
  CHECK_FALSE(r.applied->verified[0].ok);
  CHECK(w.tls.probes == 241);                                   // 120 tries per site, then: is Apache up?
  CHECK(w.clock.slept == std::chrono::milliseconds(240 * 250));  // 30 s a site, slept on the test clock
  CHECK_FALSE(r.apache().down);
  CHECK(r.apache().error.find("verify failed") == 0);

  w.tls.matches = true;
  Report fixed = w.apply();
  CHECK_FALSE(fixed.failed());
  CHECK(w.exists("/srv/a-chain.crt"));
}

TEST_CASE("apply: a site whose write fails is undone while the other converges") {
  World w;
  const std::string a_conf = w.read("/etc/apache2/sites-enabled/a.conf");
  w.fs.fail_path("/etc/apache2/sites-enabled/a.conf", ENOSPC);
  Report r = w.apply();
  CHECK(r.failed());
  const ChangeResult& vhost = result_of(r, 0, ResourceKind::kVhost);
  CHECK(vhost.outcome == Outcome::kFailed);
  CHECK(vhost.status.message().find("No space left on device") != std::string::npos);
  CHECK_FALSE(w.exists("/srv/a-chain.crt"));  // written for a, then undone: a's vhost never pointed at it
  CHECK(w.read("/etc/apache2/sites-enabled/a.conf") == a_conf);
  CHECK(w.read("/srv/b-chain.crt") == w.pki.chain_pem());
  CHECK(w.read("/etc/apache2/sites-enabled/b.conf").find("SSLCertificateChainFile /srv/b-chain.crt") !=
        std::string::npos);
  CHECK(w.runner.calls == std::vector<std::string>{"apache2ctl configtest", "apache2ctl graceful"});
  CHECK(result_of(r, 1, ResourceKind::kVhost).outcome == Outcome::kDone);
}

TEST_CASE("apply: a staged key whose certificate arrived is promoted; a failed verify puts the old key back") {
  for (bool verify_fails : {false, true}) {
    CAPTURE(verify_fails);
    World w(true);
    REQUIRE_FALSE(w.apply().failed());
    const std::string old_key = w.read("/srv/a.key");
    const auto& renewed = tp::cached_key(3);
    const std::string staged_key = encrypted_pem(renewed);
    const std::string staged_csr = *crypto::make_csr_pem(renewed, crypto::ecert_subject("My Organization", "www.a.example"));
    w.disk.add_file("/srv/a.key.new", staged_key, 0600);
    w.disk.add_file("/srv/a.csr.new", staged_csr);
    w.disk.add_file("/srv/a.cer", w.pki.issue_leaf(renewed, "www.a.example")->pem());
    w.tls.matches = !verify_fails;
    Report r = w.apply();
    const Change& key = r.plan.sites[0].changes[0];
    REQUIRE(key.get<PromoteKey>());
    CHECK(w.runner.calls.size() == (verify_fails ? 3u : 2u));
    std::string kept;
    for (const auto& [path, e] : w.disk.files())
      if (path.rfind("/srv/a.key.old-", 0) == 0) kept = path;
    REQUIRE_FALSE(kept.empty());
    CHECK(w.read(kept) == old_key);
    CHECK(w.disk.files().at(kept).mode == 0600);
    if (verify_fails) {
      CHECK(w.read("/srv/a.key") == old_key);
      CHECK(w.read("/srv/a.key.new") == staged_key);
      CHECK(w.disk.files().at("/srv/a.key.new").mode == 0600);
      CHECK(result_of(r, 0, ResourceKind::kKey).outcome == Outcome::kRolledBack);
    } else {
      CHECK_FALSE(r.failed());
      CHECK(w.read("/srv/a.key") == staged_key);
      CHECK_FALSE(w.exists("/srv/a.key.new"));
      CHECK(w.read("/srv/a.csr") == staged_csr);
      CHECK_FALSE(w.exists("/srv/a.csr.new"));
    }
  }
}

TEST_CASE("apply: a file that two vhosts Include is never edited for one of them") {
  const std::string shared = "    Include /etc/apache2/hkpost-ssl.conf\n";
  World w(false, shared, shared);
  const std::string ssl = "SSLCertificateFile /etc/ssl/other.cer\nSSLCertificateKeyFile /etc/ssl/other.key\n";
  w.disk.add_file("/etc/apache2/hkpost-ssl.conf", ssl);
  const auto before = w.files();
  Report r = w.apply();
  CHECK(r.failed());
  for (std::size_t i : {0u, 1u}) {
    const ChangeView v = view_change(r, i, 4);
    CHECK(v.action == Action::kError);
    CHECK(v.reason.find("/etc/apache2/hkpost-ssl.conf:1: SSLCertificateFile for") == 0);
    CHECK(v.reason.find("Move the SSLCertificate* directives into each site's <VirtualHost> block") !=
          std::string::npos);
  }
  CHECK(w.files() == before);  // nothing written: not the shared file, not even the chains
  for (const auto& line : w.disk.log()) CHECK(line.find("/etc/apache2") == std::string::npos);
  CHECK(w.runner.calls.empty());
}

TEST_CASE("apply: a lock held elsewhere refuses the run and writes nothing") {
  World w;
  REQUIRE(w.disk.create_directories(kState, 0700));
  auto held = w.disk.lock(std::string(kState) + "/lock", std::chrono::seconds(0));
  REQUIRE(held);
  const auto before = w.files();
  Report r = w.apply();
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].find("another ecertctl run holds the lock /var/lib/ecertctl/lock") == 0);
  CHECK(w.files() == before);
  CHECK(w.runner.calls.empty());
}

namespace {

constexpr std::time_t kDay = 86400;

// A fleet of two converged sites, site a's certificate `used` days into its
// 199: what a renewal starts from.
struct Renewal : World {
  explicit Renewal(double used, bool verify = true) : World(verify) {
    const std::time_t from = clock.now_ - static_cast<std::time_t>(used * kDay);
    disk.add_file("/srv/a.cer", pki.issue_leaf(tp::cached_key(1), "www.a.example", false, {}, from, from + 199 * kDay)->pem());
    REQUIRE_FALSE(apply().failed());
    live_key = read("/srv/a.key");
    live_cert = read("/srv/a.cer");
    live_chain = read("/srv/a-chain.crt");
  }
  // What the CA issues for the staged CSR (the staged key is a fresh one).
  std::string renewed_cert() {
    auto key = crypto::PrivateKey::from_pem(read("/srv/a.key.new"), &passphrase);
    REQUIRE(key);
    return pki.issue_leaf(*key, "www.a.example")->pem();
  }
  bool has_old(const std::string& prefix, const std::string& bytes) const {
    for (const auto& [path, e] : disk.files())
      if (path.rfind(prefix + ".old-", 0) == 0 && e.data == bytes) return true;
    return false;
  }
  SecretString passphrase{std::string("apply test pass")};
  std::string live_key, live_cert, live_chain;
};

}  // namespace

TEST_CASE("renewal due: apply stages a key (0600, new file) and its CSR, touches nothing live, restarts nothing") {
  Renewal w(150, false);  // 49 of 199 days left: inside 33%
  REQUIRE(w.exists("/srv/a.key.new"));
  CHECK(w.disk.files().at("/srv/a.key.new").mode == 0600);
  CHECK(std::find(w.disk.log().begin(), w.disk.log().end(), "create /srv/a.key.new") != w.disk.log().end());
  REQUIRE(w.exists("/srv/a.csr.new"));
  auto csr = crypto::parse_csr(w.read("/srv/a.csr.new"));
  REQUIRE(csr);
  auto staged = crypto::PrivateKey::from_pem(w.read("/srv/a.key.new"), &w.passphrase);
  REQUIRE(staged);
  CHECK(csr->public_key_der == staged->public_key_der());
  CHECK(staged->public_key_der() == tp::cached_key(200).public_key_der());  // from the run's KeySource
  CHECK(w.keys.handed_out() == 1);
  CHECK(w.read("/srv/a.key") == w.live_key);
  CHECK_FALSE(w.exists("/srv/b.key.new"));  // b is not due
  // The staging run was the converging run; the next one is pending, not a change, and restarts nothing.
  Report next = w.apply();
  CHECK_FALSE(next.changed());
  CHECK_FALSE(next.failed());
  CHECK(w.runner.calls.empty());
  CHECK(site_state(next, 0) == SitePlan::State::kPending);
  CHECK(next.plan.sites[0].renewal.csr_to_submit == "/srv/a.csr.new");
}

TEST_CASE("renewal: the certificate arrives at <certificate>.new or over the live one; one restart installs it") {
  for (bool at_staged_path : {true, false}) {
    CAPTURE(at_staged_path);
    Renewal w(150);
    const std::string staged_key = w.read("/srv/a.key.new");
    const std::string staged_csr = w.read("/srv/a.csr.new");
    const std::string renewed = w.renewed_cert();
    w.disk.add_file(at_staged_path ? "/srv/a.cer.new" : "/srv/a.cer", renewed);
    Report r = w.apply();
    CHECK_FALSE(r.failed());
    CHECK(w.runner.calls == std::vector<std::string>{"apache2ctl configtest", "apache2ctl graceful"});
    CHECK(w.read("/srv/a.key") == staged_key);
    CHECK(w.read("/srv/a.csr") == staged_csr);
    CHECK(w.read("/srv/a.cer") == renewed);
    CHECK(w.has_old("/srv/a.key", w.live_key));
    CHECK(w.has_old("/srv/a.cer", w.live_cert));
    for (const char* staged : {"/srv/a.key.new", "/srv/a.csr.new", "/srv/a.cer.new"})
      CHECK_MESSAGE(!w.exists(staged), staged);  // removed once the promotion was verified
    Report again = w.apply();
    CHECK_FALSE(again.changed());
    CHECK(w.runner.calls.empty());
  }
}

TEST_CASE("renewal: a failed configtest, restart or verify puts the previous pair back and keeps the renewal") {
  for (int failure : {0, 1, 2}) {
    for (bool at_staged_path : {true, false}) {
      CAPTURE(failure);
      CAPTURE(at_staged_path);
      Renewal w(150);
      const std::string staged_key = w.read("/srv/a.key.new");
      const std::string renewed = w.renewed_cert();
      w.disk.add_file(at_staged_path ? "/srv/a.cer.new" : "/srv/a.cer", renewed);
      if (failure == 0) w.runner.failures["apache2ctl configtest"] = 1;
      if (failure == 1) w.runner.failures["apache2ctl graceful"] = 1;
      if (failure == 2) w.tls.matches = false;
      Report r = w.apply();
      CHECK(r.failed());
      CHECK_FALSE(r.apache().down);
      CHECK(w.read("/srv/a.key") == w.live_key);  // a pair Apache accepted before
      CHECK(w.read("/srv/a.cer") == w.live_cert);
      CHECK(w.read("/srv/a-chain.crt") == w.live_chain);
      CHECK(w.read("/srv/a.key.new") == staged_key);  // the renewal stays for the next run
      CHECK(w.read("/srv/a.cer.new") == renewed);      // also when it was placed over the live one
      CHECK(w.exists("/srv/a.csr.new"));
      w.tls.matches = true;  // the cause fixed: the next run installs it
      Report fixed = w.apply();
      CHECK_FALSE(fixed.failed());
      CHECK(w.read("/srv/a.key") == staged_key);
      CHECK(w.read("/srv/a.cer") == renewed);
      CHECK_FALSE(w.exists("/srv/a.cer.new"));
    }
  }
}

TEST_CASE("apply: a key and certificate that do not match are never restarted on") {
  Renewal w(10, false);
  // Site b's certificate replaced by one for another key; a's chain must be rewritten (a restart is due).
  w.disk.add_file("/srv/b.cer", w.pki.issue_leaf(tp::cached_key(3), "www.b.example")->pem());
  w.disk.remove("/srv/a-chain.crt");
  const auto before = w.files();
  Report r = w.apply();
  CHECK(r.failed());
  CHECK(w.runner.calls == kConfigtest);  // configtest passes; the restart is refused
  CHECK(r.apache().error.find("refusing to restart Apache: www.b.example: the key /srv/b.key and the certificate "
                              "/srv/b.cer do not match") == 0);
  CHECK(w.files() == before);
  CHECK(result_of(r, 0, ResourceKind::kChain).rolled_back_by == ApacheStep::kPairCheck);
}

TEST_CASE("apply: when Apache does not answer after the restart on the restored files, the report says it is down") {
  World w(true);
  w.runner.failures["apache2ctl graceful"] = 2;
  w.tls.reachable = false;
  Report r = w.apply();
  CHECK(r.apache().down);
  CHECK(r.failed());
  CHECK(r.apache().error.find("restarting Apache on them failed too") != std::string::npos);
  SUBCASE("but a failed restart command with Apache still answering is not down") {
    World again(true);
    again.runner.failures["apache2ctl graceful"] = 2;
    Report still = again.apply();
    CHECK_FALSE(still.apache().down);
    CHECK(still.apache().error.find("(Apache still answers, on the restored files)") != std::string::npos);
  }
  SUBCASE("without an address to ask, a failed restart is taken as down") {
    World blind(false);
    blind.runner.failures["apache2ctl graceful"] = 2;
    CHECK(blind.apply().apache().down);
  }
}

}  // namespace ecert

namespace ecert {

TEST_CASE("apply: two runs in the same second keep both backups") {
  World w;
  const std::string original = w.read("/etc/apache2/sites-enabled/a.conf");
  REQUIRE_FALSE(w.apply().failed());
  const std::string patched = w.read("/etc/apache2/sites-enabled/a.conf");
  w.disk.add_file("/etc/apache2/sites-enabled/a.conf", original);  // someone undoes the edit, same second
  REQUIRE_FALSE(w.apply().failed());
  std::vector<std::pair<std::string, std::string>> backups;  // path, bytes
  for (const auto& [path, e] : w.disk.files())
    if (path.rfind("/var/lib/ecertctl/backups/", 0) == 0 && path.find("/sites-enabled/a.conf") != std::string::npos)
      backups.emplace_back(path, e.data);
  REQUIRE(backups.size() == 2);
  CHECK(backups[0].first != backups[1].first);
  const int suffixed = (backups[0].first.find("Z-2/etc/apache2/sites-enabled/a.conf") != std::string::npos) +
                       (backups[1].first.find("Z-2/etc/apache2/sites-enabled/a.conf") != std::string::npos);
  CHECK(suffixed == 1);  // the second run's stamp took a suffix
  CHECK(backups[0].second == original);  // the first run's backup was not overwritten
  CHECK(backups[1].second == original);
  CHECK(patched != original);
}

}  // namespace ecert

namespace ecert {

TEST_CASE("notify: the run's events as JSON on stdin, each once, renewal-due again after notify.repeat") {
  Renewal w(10, false);  // converged, not due
  w.manifest.notify = NotifySpec{{"/usr/local/sbin/ecert-notify"}, {std::begin(kAllNotifyEvents), std::end(kAllNotifyEvents)},
                                 std::chrono::hours(24), {}};
  auto notifications = [&] {
    std::vector<nlohmann::json> out;
    for (const auto& r : w.runner.requests)
      if (r.argv == w.manifest.notify->command) {
        out.push_back(nlohmann::json::parse(r.input));
        CHECK(r.pass_env == std::vector<std::string>{"APACHE_CONFDIR"});  // never the passphrase variable
      }
    w.runner.requests.clear();
    return out;
  };
  w.apply();
  CHECK(notifications().empty());  // nothing happened: nobody is told anything
  // Due now (the clock moves 140 days on): a key and CSR are staged, and someone must submit the CSR.
  w.clock.now_ += 140 * kDay;
  w.apply();
  auto sent = notifications();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0]["format_version"] == "1");
  REQUIRE(sent[0]["events"].size() == 1);
  const auto& e = sent[0]["events"][0];
  CHECK(e["site"] == "www.a.example");
  CHECK(e["event"] == "renewal-due");
  CHECK(e["csr"] == "/srv/a.csr.new");
  CHECK(e["days_left"] == 49);
  // Still due an hour later: not sent again before notify.repeat...
  w.clock.now_ += 3600;
  w.apply();
  CHECK(notifications().empty());
  // ...and sent again once it has passed.
  w.clock.now_ += 24 * 3600;
  w.apply();
  sent = notifications();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0]["events"][0]["event"] == "renewal-due");
  // The renewed certificate arrives: installed, once.
  w.disk.add_file("/srv/a.cer.new", w.renewed_cert());
  w.apply();
  sent = notifications();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0]["events"][0]["event"] == "installed");
  w.apply();
  CHECK(notifications().empty());
}

TEST_CASE("notify: a failing command is a warning, never a failed run, and its events are sent again") {
  Renewal w(150, false);  // this run stages: renewal-due
  w.manifest.notify = NotifySpec{{"/usr/local/sbin/ecert-notify"}, {NotifyEvent::kRenewalDue}, std::chrono::hours(24), {}};
  w.runner.failures["/usr/local/sbin/ecert-notify"] = 1;
  Report r = w.apply();
  CHECK_FALSE(r.failed());
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].find("the notify command /usr/local/sbin/ecert-notify failed, so 1 event(s) will be sent again") == 0);
  w.runner.requests.clear();
  w.apply();
  REQUIRE(w.runner.requests.size() == 1);
  CHECK(w.runner.requests[0].input.find("renewal-due") != std::string::npos);
}

TEST_CASE("notify: plan and --dry-run notify nobody") {
  Renewal w(150, false);
  w.manifest.notify = NotifySpec{{"/usr/local/sbin/ecert-notify"}, {std::begin(kAllNotifyEvents), std::end(kAllNotifyEvents)},
                                 std::chrono::hours(24), {}};
  w.runner.requests.clear();
  ApplyOptions o;
  o.state_dir = kState;
  o.dry_run = true;
  ecert::apply(w.manifest, w.services, o);
  plan_only(w.manifest, w.disk, w.clock, w.runner, o);
  for (const auto& r : w.runner.requests) CHECK(r.argv != w.manifest.notify->command);
}

}  // namespace ecert

namespace ecert {

TEST_CASE("fullchain: written as leaf, sub CA, cross; SSLCertificateFile points at it; and back to a chain file") {
  World w;
  REQUIRE_FALSE(w.apply().failed());
  const std::string with_chain_file = w.read("/etc/apache2/sites-enabled/a.conf");
  w.manifest.sites[0].fullchain = PathString("/srv/a-fullchain.crt");
  Report to_full = w.apply();
  CHECK_FALSE(to_full.failed());
  CHECK(w.runner.calls == std::vector<std::string>{"apache2ctl configtest", "apache2ctl graceful"});
  CHECK(w.read("/srv/a-fullchain.crt") == w.read("/srv/a.cer") + w.pki.chain_pem());
  CHECK(w.read("/etc/apache2/sites-enabled/a.conf") ==
        vhost_conf("www.a.example", "    SSLCertificateFile /srv/a-fullchain.crt\n    SSLCertificateKeyFile /srv/a.key\n"));
  CHECK(w.apply().changed() == false);
  w.manifest.sites[0].fullchain.reset();
  Report back = w.apply();
  CHECK_FALSE(back.failed());
  CHECK(w.read("/etc/apache2/sites-enabled/a.conf") ==
        vhost_conf("www.a.example", "    SSLCertificateFile /srv/a.cer\n    SSLCertificateKeyFile /srv/a.key\n"
                                    "    SSLCertificateChainFile /srv/a-chain.crt\n"));
  CHECK(with_chain_file == w.read("/etc/apache2/sites-enabled/a.conf"));
}

TEST_CASE("stapling: SSLUseStapling in the vhost and one SSLStaplingCache for the server; off removes the vhost's line") {
  World w;
  REQUIRE_FALSE(w.apply().failed());
  const std::string vhost = w.read("/etc/apache2/sites-enabled/a.conf");
  const std::string root = w.read("/etc/apache2/apache2.conf");
  w.manifest.sites[0].vhost.stapling = true;
  w.manifest.sites[1].vhost.stapling = true;
  Report on = w.apply();
  CHECK_FALSE(on.failed());
  CHECK(w.runner.calls == std::vector<std::string>{"apache2ctl configtest", "apache2ctl graceful"});
  CHECK(w.read("/etc/apache2/sites-enabled/a.conf").find("    # ecertctl: vhost.stapling\n    SSLUseStapling on\n") !=
        std::string::npos);
  const std::string with_cache = w.read("/etc/apache2/apache2.conf");
  CHECK(with_cache.find("SSLStaplingCache shmcb:ssl_stapling(65536)") != std::string::npos);
  CHECK(with_cache.find("SSLStaplingCache", with_cache.find("SSLStaplingCache") + 1) == std::string::npos);  // once
  CHECK_FALSE(w.apply().changed());
  w.manifest.sites[0].vhost.stapling = false;
  w.manifest.sites[1].vhost.stapling = false;
  CHECK_FALSE(w.apply().failed());
  CHECK(w.read("/etc/apache2/sites-enabled/a.conf") == vhost);
  // The server's cache stays: Apache exits on a graceful restart without it.
  CHECK(w.read("/etc/apache2/apache2.conf") == with_cache);
  CHECK(root != with_cache);
}

TEST_CASE("stapling: a configtest failure puts the server-level edit back too") {
  World w;
  REQUIRE_FALSE(w.apply().failed());
  const auto before = w.files();
  w.manifest.sites[0].vhost.stapling = true;
  w.runner.failures["apache2ctl configtest"] = 1;
  CHECK(w.apply().failed());
  CHECK(w.files() == before);
}

}  // namespace ecert

namespace ecert {

TEST_CASE("what reading Apache's configuration warns about reaches the report") {
  World w;
  w.disk.add_file("/etc/apache2/apache2.conf", "ServerRoot /etc/apache2\nIncludeOptional sites-enabled/*.conf\n"
                                               "IncludeOptional ${ECERT_APPLY_TEST_SURELY_UNSET}/extra.conf\n");
  ApplyOptions o;
  o.state_dir = kState;
  const Report plan = plan_only(w.manifest, w.disk, w.clock, w.runner, o);
  REQUIRE(plan.warnings.size() == 1);
  CHECK(plan.warnings[0].find("/etc/apache2/apache2.conf:3: warning: IncludeOptional "
                              "${ECERT_APPLY_TEST_SURELY_UNSET}/extra.conf uses ${ECERT_APPLY_TEST_SURELY_UNSET}") == 0);
  CHECK(w.apply().warnings == plan.warnings);
}

}  // namespace ecert
