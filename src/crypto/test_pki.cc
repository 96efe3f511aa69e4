#include "crypto/test_pki.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace ecert::crypto::testpki {
namespace {

constexpr std::time_t kDay = 24 * 60 * 60;

Status add_ext(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  ossl::X509Ext ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return ossl::error("test PKI: cannot add extension " + std::string(OBJ_nid2sn(nid)));
  }
  return Status::ok();
}

// Everything but the issuer's signature: version 3, a random serial,
// validity, subject, key and the extensions a CA or a TLS server uses.
Result<Certificate> build(const Certificate* issuer, const PrivateKey& issuer_key,
                          EVP_PKEY* subject_key, const CertSpec& spec) {
  ERR_clear_error();
  ossl::X509Ptr x(X509_new());
  if (!x || X509_set_version(x.get(), X509_VERSION_3) != 1) return ossl::error("test PKI");

  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) return ossl::error("test PKI");
  serial_bytes[0] &= 0x7f;  // positive
  ossl::BigNum bn(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get()))) {
    return ossl::error("test PKI: serial");
  }

  const std::time_t nb = spec.not_before != 0 ? spec.not_before : std::time(nullptr) - kDay;
  const std::time_t na = spec.not_after != 0 ? spec.not_after : nb + 365 * kDay;
  if (!ASN1_TIME_set(X509_getm_notBefore(x.get()), nb) ||
      !ASN1_TIME_set(X509_getm_notAfter(x.get()), na)) {
    return ossl::error("test PKI: validity");
  }

  auto subject = make_x509_name(spec.subject);
  if (!subject) return subject.status();
  if (X509_set_subject_name(x.get(), subject->get()) != 1 ||
      X509_set_issuer_name(x.get(), issuer != nullptr ? X509_get_subject_name(issuer->get())
                                                      : subject->get()) != 1 ||
      X509_set_pubkey(x.get(), subject_key) != 1) {
    return ossl::error("test PKI: names");
  }

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer->get() : x.get(), x.get(), nullptr, nullptr, 0);
  Status st;
  if (spec.ca) {
    st = add_ext(x.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
    if (st) st = add_ext(x.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    st = add_ext(x.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
    if (st) st = add_ext(x.get(), &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    if (st) st = add_ext(x.get(), &ctx, NID_ext_key_usage, "serverAuth");
  }
  if (st) st = add_ext(x.get(), &ctx, NID_subject_key_identifier, "hash");
  if (st && issuer != nullptr) st = add_ext(x.get(), &ctx, NID_authority_key_identifier, "keyid");
  if (st && !spec.dns_names.empty()) {
    std::string san;
    for (const auto& name : spec.dns_names) san += (san.empty() ? "DNS:" : ",DNS:") + name;
    st = add_ext(x.get(), &ctx, NID_subject_alt_name, san);
  }
  if (!st) return st;

  const EVP_MD* digest = EVP_get_digestbyname(spec.digest.c_str());
  if (digest == nullptr) return Status::invalid("test PKI: unknown digest " + spec.digest);
  if (X509_sign(x.get(), issuer_key.get(), digest) <= 0) {
    return ossl::error("test PKI: signing");
  }
  return Certificate::adopt(std::move(x));
}

}  // namespace

namespace {

std::mutex key_mu;
std::map<int, PrivateKey>& key_cache() {
  static std::map<int, PrivateKey> keys;
  return keys;
}

PrivateKey must_generate() {
  auto key = PrivateKey::generate_rsa(2048);
  if (!key) std::abort();  // a test fixture cannot go on without it
  return std::move(key).value();
}

}  // namespace

const PrivateKey& cached_key(int slot) {
  std::lock_guard<std::mutex> lock(key_mu);
  auto it = key_cache().find(slot);
  if (it == key_cache().end()) it = key_cache().emplace(slot, must_generate()).first;
  return it->second;
}

void warm_keys(const std::vector<int>& slots) {
  std::vector<std::pair<int, std::optional<PrivateKey>>> missing;
  {
    std::lock_guard<std::mutex> lock(key_mu);
    for (int slot : slots)
      if (!key_cache().count(slot)) missing.emplace_back(slot, std::nullopt);
  }
  std::vector<std::thread> threads;
  for (auto& m : missing) threads.emplace_back([&m] { m.second.emplace(must_generate()); });
  for (auto& t : threads) t.join();
  std::lock_guard<std::mutex> lock(key_mu);
  for (auto& [slot, key] : missing) key_cache().emplace(slot, std::move(*key));
}

Result<Certificate> make_root(const PrivateKey& key, CertSpec spec) {
  spec.ca = true;
  return build(nullptr, key, key.get(), spec);
}

Result<Certificate> issue(const Certificate& issuer, const PrivateKey& issuer_key,
                          EVP_PKEY* subject_key, CertSpec spec) {
  return build(&issuer, issuer_key, subject_key, spec);
}

Result<Certificate> issue_from_csr(const Certificate& issuer, const PrivateKey& issuer_key,
                                   std::string_view csr_pem, CertSpec spec) {
  ERR_clear_error();
  ossl::Bio bio = ossl::read_bio(csr_pem);
  ossl::X509Req req(bio ? PEM_read_bio_X509_REQ(bio.get(), nullptr, ossl::no_passphrase_cb,
                                                nullptr)
                        : nullptr);
  if (!req) return ossl::error("test PKI: CSR");
  if (spec.subject.empty()) spec.subject = name_entries(X509_REQ_get_subject_name(req.get()));
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req.get());
  if (pub == nullptr) return ossl::error("test PKI: CSR key");
  return build(&issuer, issuer_key, pub, spec);
}

NameEntries hkpost_name(const std::string& common_name) {
  return {{"C", "HK"}, {"ST", "Hong Kong"}, {"L", "Hong Kong"}, {"O", "Hongkong Post"},
          {"CN", common_name}};
}

Result<Certificate> HkpostPki::issue_leaf(const PrivateKey& key, const std::string& cn, bool ev,
                                          std::vector<std::string> dns_names,
                                          std::time_t not_before, std::time_t not_after) const {
  CertSpec spec;
  spec.subject = {{"C", "HK"}, {"O", "Test Organization"}, {"CN", cn}};
  spec.dns_names = dns_names.empty() ? std::vector<std::string>{cn} : std::move(dns_names);
  spec.not_before = not_before;
  spec.not_after = not_after;
  return ev ? issue(ev_sub, ev_sub_key, key.get(), spec) : issue(sub, sub_key, key.get(), spec);
}

std::string HkpostPki::chain_pem(bool ev) const {
  return (ev ? ev_sub : sub).pem() + cross.pem();
}

namespace {

template <class T>
T must(Result<T> r) {
  if (!r) std::abort();  // a broken fixture makes every test meaningless
  return std::move(r).value();
}

HkpostPki build_hkpost() {
  const std::time_t now = std::time(nullptr);
  warm_keys({100, 101, 102, 103});
  const PrivateKey& gs_key = cached_key(100);
  const PrivateKey& hk_key = cached_key(101);
  const PrivateKey& sub_key = cached_key(102);
  const PrivateKey& ev_key = cached_key(103);

  CertSpec gs{{{"OU", "GlobalSign Root CA - R3"}, {"O", "GlobalSign"}, {"CN", "GlobalSign"}},
              {}, now - 3650 * kDay, now + 3650 * kDay, true};
  Certificate gs_root = must(make_root(gs_key, gs));

  CertSpec hk{hkpost_name("Hongkong Post Root CA 3"), {}, now - 2000 * kDay, now + 3000 * kDay,
              true};
  Certificate hk_root = must(make_root(hk_key, hk));
  hk.not_before = now - 500 * kDay;
  hk.not_after = now + 2000 * kDay;
  Certificate cross = must(issue(gs_root, gs_key, hk_key.get(), hk));

  CertSpec sub{hkpost_name("Hongkong Post e-Cert SSL CA 3 - 17"), {}, now - 1500 * kDay,
               now + 2500 * kDay, true};
  Certificate sub_ca = must(issue(hk_root, hk_key, sub_key.get(), sub));
  sub.subject = hkpost_name("Hongkong Post e-Cert EV SSL CA 3 - 17");
  Certificate ev_sub = must(issue(hk_root, hk_key, ev_key.get(), sub));

  return HkpostPki{gs_key, hk_key, sub_key, ev_key, std::move(gs_root), std::move(hk_root),
                   std::move(cross), std::move(sub_ca), std::move(ev_sub)};
}

}  // namespace

const HkpostPki& hkpost_pki() {
  static const HkpostPki pki = build_hkpost();
  return pki;
}

}  // namespace ecert::crypto::testpki
