// observe() with the facts cache, on an in-memory disk with a real test PKI:
// what the cache may answer, and every change that must make it verify again.
#include <doctest/doctest.h>

#include <cstdlib>

#include "crypto/csr.h"
#include "crypto/test_pki.h"
#include "engine/facts_cache.h"
#include "engine/observe.h"
#include "manifest/loader.h"
#include "util/digest.h"

namespace ecert {
namespace {

namespace tp = crypto::testpki;

constexpr const char* kManifest = R"(version: 1
apache:
  config: /etc/apache2/apache2.conf
defaults:
  organization: My Organization
  key: {passphrase: {env: ECERT_OBSERVE_TEST_PASS}}
  ca: {sub: /ca/sub.crt, cross: /ca/cross.crt, trust: /ca/trust.pem}
sites:
  - {name: www.a.example, feature: standard, key: /srv/a.key, csr: /srv/a.csr, certificate: /srv/a.cer, chain: /srv/chain.crt}
  - {name: www.b.example, feature: standard, key: /srv/b.key, csr: /srv/b.csr, certificate: /srv/b.cer, chain: /srv/chain.crt}
)";

std::string encrypted_pem(const crypto::PrivateKey& key, const char* pass) {
  SecretString secret{std::string(pass)};
  return std::string(key.to_pem(Cipher::kAes256Cbc, &secret)->expose());
}

struct World {
  MemoryFileSystem fs;
  Manifest manifest;
  const tp::HkpostPki& pki = tp::hkpost_pki();

  World() {
    auto loaded = load_manifest_text(kManifest, "/srv/ecert.yaml");
    REQUIRE(loaded.ok());
    manifest = std::move(loaded.manifest);
    ::setenv("ECERT_OBSERVE_TEST_PASS", "pass one", 1);
    fs.add_file("/ca/sub.crt", pki.sub.pem());
    fs.add_file("/ca/cross.crt", pki.cross.pem());
    fs.add_file("/ca/trust.pem", pki.trust_pem());
    add_site("a", tp::cached_key(1), "www.a.example");
    add_site("b", tp::cached_key(2), "www.b.example");
  }

  void add_site(const std::string& n, const crypto::PrivateKey& key, const std::string& cn) {
    fs.add_file("/srv/" + n + ".key", encrypted_pem(key, "pass one"), 0600);
    fs.add_file("/srv/" + n + ".csr", *crypto::make_csr_pem(key, crypto::ecert_subject("My Organization", cn)));
    fs.add_file("/srv/" + n + ".cer", pki.issue_leaf(key, cn)->pem());
  }

  Observed run(const FactsCache* cache) const { return observe(manifest, fs, ObserveOptions{0, cache, {}}); }
};

std::string digest_of(const MemoryFileSystem& fs, const char* path) { return sha256_hex(*fs.read_file(path)); }

TEST_CASE("facts cache: text form round-trips; a foreign header or a cut line is not trusted") {
  FactsCache c;
  c.keys["k1"] = CachedKey{"w", true, 2048, "spki"};
  c.csrs["c1"] = CachedCsr{0, {{"C", "HK"}, {"O", "Tab\there \"quoted\" 我"}}, "spki", true, 0, "SHA256"};
  c.certs["x1"] = CachedCert{"www.a.example", {"www.a.example", "a.example"}, "Sub CA", "0A1B", 100, 200, "spki"};
  c.signatures.insert("x1 s1");
  c.chains["x1 s1 c1 t1"] = CachedChain{150, 190};
  const std::string text = render_facts_cache(c);
  CHECK(parse_facts_cache(text) == c);
  CHECK(render_facts_cache(parse_facts_cache(text)) == text);  // stable: an unchanged cache is not rewritten

  // An older format's cache (here: its header) is not read; version 2's chain
  // proofs did not cover a served cross certificate the trust bundle bypassed.
  for (const char* old : {"1", "2"})
    CHECK(parse_facts_cache("{\"format\":\"ecertctl facts\",\"version\":" + std::string(old) + "}\n" +
                            text.substr(text.find('\n') + 1))
              .empty());
  CHECK(parse_facts_cache("").empty());
  // A file cut in the middle of its last line keeps the lines before it.
  FactsCache cut = parse_facts_cache(text.substr(0, text.size() - 5));
  CHECK(cut.keys == c.keys);
  CHECK(cut.chains.empty());
  // A line with a mistyped field is dropped, not the file.
  std::string bad = text;
  bad.replace(bad.find("\"bits\":2048"), 11, "\"bits\":\"20\"");
  FactsCache partial = parse_facts_cache(bad);
  CHECK(partial.keys.empty());
  CHECK(partial.certs == c.certs);
}

TEST_CASE("facts cache: an integer its member cannot hold drops the line (found by fuzz_facts_cache)") {
  FactsCache c;
  c.keys["k1"] = CachedKey{"w", true, 2048, "spki"};
  c.certs["x1"] = CachedCert{"www.a.example", {"www.a.example"}, "Sub CA", "0A1B", 100, 200, "spki"};
  c.chains["x1 s1 c1 t1"] = CachedChain{150, 190};
  const std::string text = render_facts_cache(c);
  auto with = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    t.replace(t.find(from), from.size(), to);
    return parse_facts_cache(t);
  };
  // A float out of range (converting it was undefined behaviour), a float in range, and integers that do not fit.
  for (const char* v : {"1e300", "-1e300", "150.5", "18446744073709551615", "-9223372036854775809"}) {
    CAPTURE(v);
    FactsCache read = with("\"valid_until\":190", std::string("\"valid_until\":") + v);
    CHECK(read.chains.empty());
    CHECK(read.certs == c.certs);
  }
  CHECK(with("\"bits\":2048", "\"bits\":4294967297").keys.empty());  // was read as 1
  CHECK(with("\"bits\":2048", "\"bits\":-2147483649").keys.empty());
  CHECK(with("\"not_after\":200", "\"not_after\":9223372036854775807").certs.at("x1").not_after ==
        9223372036854775807);
  CHECK(with("\"not_before\":100", "\"not_before\":-5").certs.at("x1").not_before == -5);
}

TEST_CASE("facts cache: a fact whose text is not UTF-8 is not written, and the rest is") {
  FactsCache c;
  c.certs["x1"] = CachedCert{"www.a.example", {"www.a.example", "bad\xff\xfe.example"}, "Sub CA", "0A", 1, 2, "s"};
  c.certs["x2"] = CachedCert{"www.b.example", {"www.b.example"}, "Sub CA", "0B", 1, 2, "s"};
  std::string text;
  CHECK_NOTHROW(text = render_facts_cache(c));  // threw json::type_error, out of apply
  const FactsCache read = parse_facts_cache(text);
  CHECK(read.certs.count("x1") == 0);
  CHECK(read.certs.at("x2") == c.certs.at("x2"));
}

TEST_CASE("facts cache: unread unless it is a regular file of the running user that only it may write") {
  MemoryFileSystem fs;
  FactsCache c;
  c.signatures.insert("a b");
  fs.add_file("/state/facts.jsonl", render_facts_cache(c), 0600);
  CHECK(read_facts_cache(fs, "/state") == c);
  fs.add_file("/state/facts.jsonl", render_facts_cache(c), 0666);
  CHECK(read_facts_cache(fs, "/state").empty());
  CHECK(read_facts_cache(fs, "/nowhere").empty());
  // Another user's, even 0600.
  fs.add_file("/state/facts.jsonl", render_facts_cache(c), 0600);
  fs.set_owner("/state/facts.jsonl", 65534, 65534);
  CHECK(read_facts_cache(fs, "/state").empty());
  // A symlink, even to a file of ours with mode 0600.
  fs.remove("/state/facts.jsonl");
  fs.add_file("/elsewhere/facts.jsonl", render_facts_cache(c), 0600);
  fs.add_symlink("/state/facts.jsonl", "/elsewhere/facts.jsonl");
  CHECK(read_facts_cache(fs, "/state").empty());
}

TEST_CASE("observe_with_cache: a poisoned cache is believed only when it is ecertctl's own file") {
  World w;
  const FactsCache learned = w.run(nullptr).facts.learned;
  FactsCache poisoned = learned;
  poisoned.certs[digest_of(w.fs, "/srv/b.cer")].serial = "FROM-THE-CACHE";
  const std::string text = render_facts_cache(poisoned);
  const std::string real_serial = w.run(nullptr).sites[1].cert.info.serial;
  auto serial_seen = [&] { return observe_with_cache(w.manifest, w.fs, "/state", 0).sites[1].cert.info.serial; };
  // Ours: believed (this is what makes a planted entry dangerous).
  w.fs.add_directory("/state", 0700);
  w.fs.add_file("/state/facts.jsonl", text, 0600);
  CHECK(serial_seen() == "FROM-THE-CACHE");
  // Planted by another user: the certificate is read for real.
  w.fs.set_owner("/state/facts.jsonl", 65534, 65534);
  CHECK(serial_seen() == real_serial);
  // A symlink to a file of ours: not followed.
  w.fs.remove("/state/facts.jsonl");
  w.fs.add_file("/root/facts.jsonl", text, 0600);
  w.fs.add_symlink("/state/facts.jsonl", "/root/facts.jsonl");
  CHECK(serial_seen() == real_serial);
}

TEST_CASE("observe: a cold run proves everything, and a warm run answers from the cache alone") {
  World w;
  const Observed cold = w.run(nullptr);
  for (const auto& f : cold.sites) {
    CHECK(f.key.opened);
    CHECK(f.key.public_key_id == f.csr.info.public_key_id);
    CHECK(f.key.public_key_id == f.cert.info.public_key_id);
    CHECK(f.cert.signed_by_sub);
    CHECK(f.ca.chain_verification.is_ok());
  }
  const FactsCache& learned = cold.facts.learned;
  CHECK(cold.facts.used.empty());
  CHECK(learned.keys.size() == 2);
  CHECK(learned.csrs.size() == 2);
  CHECK(learned.certs.size() == 2);
  CHECK(learned.signatures.size() == 2);
  CHECK(learned.chains.size() == 2);
  // Both keys were checked against the first one (the witness of their passphrase).
  const std::string witness = digest_of(w.fs, "/srv/a.key");
  for (const auto& [d, k] : learned.keys) CHECK(k.witness == witness);

  // The warm run takes its facts from the cache: poison one entry and see it come back.
  FactsCache poisoned = learned;
  poisoned.keys[digest_of(w.fs, "/srv/b.key")].bits = 4096;
  poisoned.certs[digest_of(w.fs, "/srv/b.cer")].serial = "FROM-THE-CACHE";
  Observed warm = w.run(&poisoned);
  CHECK(warm.sites[1].key.bits == 4096);
  CHECK(warm.sites[1].cert.info.serial == "FROM-THE-CACHE");
  CHECK(warm.facts.learned.empty());
  CHECK(warm.facts.used.size() == poisoned.size());  // every entry used: nothing to rewrite
  CHECK_FALSE(next_facts_cache(poisoned, std::move(warm.facts), false).has_value());
  // Same facts as the cold run when the cache is honest.
  const Observed honest = w.run(&learned);
  CHECK(honest.sites[1].cert.info.serial == cold.sites[1].cert.info.serial);
  CHECK(honest.sites[1].key.public_key_id == cold.sites[1].key.public_key_id);
}

TEST_CASE("observe: a changed file is a miss and is verified afresh") {
  World w;
  const FactsCache learned = w.run(nullptr).facts.learned;
  FactsCache poisoned = learned;
  for (auto& [d, c] : poisoned.certs) c.serial = "FROM-THE-CACHE";

  SUBCASE("a certificate replaced by one from another CA") {
    tp::CertSpec spec;
    spec.subject = tp::hkpost_name("www.b.example");
    spec.dns_names = {"www.b.example"};
    auto other = tp::issue(w.pki.gs_root, w.pki.gs_root_key, tp::cached_key(2).get(), spec);
    w.fs.add_file("/srv/b.cer", other->pem());
    Observed o = w.run(&poisoned);
    CHECK(o.sites[1].cert.info.serial != "FROM-THE-CACHE");
    CHECK_FALSE(o.sites[1].cert.signed_by_sub);
    CHECK(o.sites[0].cert.info.serial == "FROM-THE-CACHE");  // untouched site still answered by the cache
    // The next cache drops b's old certificate and keeps its new facts.
    auto next = next_facts_cache(poisoned, std::move(o.facts), false);
    REQUIRE(next.has_value());
    CHECK(next->certs.size() == 2);
    CHECK(next->certs.count(digest_of(w.fs, "/srv/b.cer")) == 1);
    CHECK(next->signatures.size() == 1);  // b's certificate is not signed by the sub CA: no proof kept
    // A run over some sites only keeps the others' entries too.
    Observed again = w.run(&poisoned);
    auto all = next_facts_cache(poisoned, std::move(again.facts), true);
    REQUIRE(all.has_value());
    CHECK(all->certs.size() == 3);
  }
  SUBCASE("a sub CA file replaced: the signature and chain proofs no longer apply") {
    w.fs.add_file("/ca/sub.crt", w.pki.ev_sub.pem());
    const Observed o = w.run(&poisoned);
    for (const auto& f : o.sites) CHECK_FALSE(f.cert.signed_by_sub);
  }
  SUBCASE("a chain proof outside its validity window is proven again") {
    for (auto& [id, c] : poisoned.chains) c.valid_until = std::time(nullptr) - 10;
    const Observed o = w.run(&poisoned);
    REQUIRE(o.facts.learned.chains.size() == 2);
    for (const auto& [id, c] : o.facts.learned.chains) CHECK(c.valid_until > std::time(nullptr));
  }
}

TEST_CASE("observe: a changed passphrase is never hidden by the cache") {
  World w;
  const FactsCache learned = w.run(nullptr).facts.learned;
  ::setenv("ECERT_OBSERVE_TEST_PASS", "pass two", 1);
  const Observed o = w.run(&learned);
  for (const auto& f : o.sites) {
    CHECK_FALSE(f.key.opened);
    CHECK(f.key.open_error.message().find("cannot open the key") != std::string::npos);
  }
  CHECK(o.facts.learned.keys.empty());

  SUBCASE("a witness re-encrypted with the new passphrase proves nothing about the other keys") {
    w.fs.add_file("/srv/a.key", encrypted_pem(tp::cached_key(1), "pass two"), 0600);
    const Observed again = w.run(&learned);
    CHECK(again.sites[0].key.opened);
    CHECK_FALSE(again.sites[1].key.opened);  // b is still under "pass one"
  }
}

TEST_CASE("observe: a key that is not encrypted needs no witness") {
  World w;
  w.fs.add_file("/srv/b.key", std::string(tp::cached_key(2).to_pem(Cipher::kNone, nullptr)->expose()), 0600);
  const FactsCache learned = w.run(nullptr).facts.learned;
  const auto it = learned.keys.find(digest_of(w.fs, "/srv/b.key"));
  REQUIRE(it != learned.keys.end());
  CHECK(it->second.witness.empty());
  ::setenv("ECERT_OBSERVE_TEST_PASS", "pass two", 1);
  const Observed o = w.run(&learned);
  CHECK(o.sites[1].key.opened);
  CHECK_FALSE(o.sites[1].key.encrypted);
}

TEST_CASE("observe: the -D names of apache.configtest decide which vhosts Apache reads") {
  World w;
  w.fs.add_file("/etc/apache2/apache2.conf",
                "<IfDefine STAGING>\n<VirtualHost *:443>\n  ServerName www.a.example\n</VirtualHost>\n</IfDefine>\n");
  std::string text = kManifest;
  text.replace(text.find("apache:\n"), 8, "apache:\n  configtest: [apache2ctl, -D, STAGING, configtest]\n");
  auto staging = load_manifest_text(text, "/srv/ecert.yaml");
  REQUIRE(staging.ok());
  const Observed with_define = observe(staging.manifest, w.fs, ObserveOptions{0, nullptr, {}});
  REQUIRE_MESSAGE(with_define.sites[0].vhost.vhost, with_define.sites[0].vhost.error.message());
  CHECK(with_define.sites[0].vhost.vhost->line == 2);
  const Observed without = w.run(nullptr);
  CHECK(without.sites[0].vhost.vhost == nullptr);
  CHECK(without.sites[0].vhost.error.message().find("Apache does not read it (<IfDefine STAGING>") != std::string::npos);
}

TEST_CASE("observe: during a CA rollover the sub CA whose key signed the certificate is chosen") {
  World w;
  const auto& reissued_key = tp::cached_key(4);
  const crypto::Certificate reissued = *tp::issue(
      w.pki.hk_root, w.pki.hk_root_key, reissued_key.get(),
      tp::CertSpec{tp::hkpost_name("Hongkong Post e-Cert SSL CA 3 - 17"), {}, 0, 0, true});
  w.fs.add_file("/ca/sub-2025.crt", reissued.pem());
  const crypto::NameEntries b_subject{{"C", "HK"}, {"O", "My Organization"}, {"CN", "www.b.example"}};
  w.fs.add_file("/srv/b.cer",
                tp::issue(reissued, reissued_key, tp::cached_key(2).get(), tp::CertSpec{b_subject, {"www.b.example"}})
                    ->pem());
  SUBCASE("both files listed: each site's certificate picks its own") {
    std::string text = kManifest;
    text.replace(text.find("sub: /ca/sub.crt"), 16, "sub: [/ca/sub.crt, /ca/sub-2025.crt]");
    auto rollover = load_manifest_text(text, "/srv/ecert.yaml");
    REQUIRE(rollover.ok());
    const Observed o = observe(rollover.manifest, w.fs, ObserveOptions{0, nullptr, {}});
    CHECK(o.sites[0].ca.sub_path == "/ca/sub.crt");
    CHECK(o.sites[1].cert.signed_by_sub);
    CHECK(o.sites[1].ca.sub_path == "/ca/sub-2025.crt");
    REQUIRE(o.sites[1].ca.chain_pem);
    CHECK(*o.sites[1].ca.chain_pem == reissued.pem() + w.pki.cross.pem());
    CHECK(o.sites[1].ca.chain_verification.is_ok());
    // From the cache, the same choice.
    const Observed warm = observe(rollover.manifest, w.fs, ObserveOptions{0, &o.facts.learned, {}});
    CHECK(warm.sites[1].ca.sub_path == "/ca/sub-2025.crt");
    CHECK(warm.sites[1].cert.signed_by_sub);
  }
  SUBCASE("only the old file listed: the issuer's name matches, its key does not") {
    const Observed o = w.run(nullptr);
    CHECK_FALSE(o.sites[1].cert.signed_by_sub);
    CHECK(o.sites[1].cert.same_name_sub == "/ca/sub.crt");
  }
}

}  // namespace
}  // namespace ecert
