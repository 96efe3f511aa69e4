#include "crypto/x509.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <utility>

#include "util/time.h"

namespace ecert::crypto {
namespace {

constexpr std::string_view kPemBegin = "-----BEGIN ";

// True when the ERR queue holds nothing but "no more PEM blocks": the normal
// end of a bundle rather than a damaged block.
bool only_end_of_pem() {
  unsigned long code = ERR_peek_last_error();
  return code == 0 ||
         (ERR_GET_LIB(code) == ERR_LIB_PEM && ERR_GET_REASON(code) == PEM_R_NO_START_LINE);
}

bool is_certificate_block(const char* name) {
  return std::strcmp(name, PEM_STRING_X509) == 0 || std::strcmp(name, PEM_STRING_X509_OLD) == 0 ||
         std::strcmp(name, PEM_STRING_X509_TRUSTED) == 0;
}

std::time_t to_time_t(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return timegm(&tm);
}

std::string cn_or_subject(const Certificate& cert) {
  std::string cn = cert.common_name();
  return cn.empty() ? format_name(cert.subject()) : cn;
}

std::string last_cn(const NameEntries& name) {
  for (auto it = name.rbegin(); it != name.rend(); ++it) {
    if (it->first == "CN") return it->second;
  }
  return {};
}

// Every certificate in a trust bundle such as ca-certificates.crt; blocks
// that are not certificates (keys, CRLs, parameters) are skipped.
Result<ossl::X509Stack> read_trust(std::string_view trust_pem) {
  ossl::X509Stack certs(sk_X509_new_null());
  if (!certs) return ossl::error("cannot read the trust bundle");
  ossl::Bio bio = ossl::read_bio(trust_pem);
  if (!bio) return ossl::error("cannot read the trust bundle");
  for (int index = 1;; ++index) {
    char* raw_name = nullptr;
    char* raw_header = nullptr;
    unsigned char* raw_data = nullptr;
    long len = 0;
    const int read = PEM_read_bio(bio.get(), &raw_name, &raw_header, &raw_data, &len);
    ossl::Chars name(raw_name);
    ossl::Chars header(raw_header);
    ossl::Bytes data(raw_data);
    if (read != 1) {
      if (only_end_of_pem()) break;
      return ossl::error("the trust bundle's PEM block #" + std::to_string(index) +
                         " is unreadable");
    }
    const bool was_certificate = is_certificate_block(name.get());
    ossl::X509Ptr cert;
    if (was_certificate) {
      const unsigned char* p = data.get();
      cert.reset(std::strcmp(name.get(), PEM_STRING_X509_TRUSTED) == 0
                     ? d2i_X509_AUX(nullptr, &p, len)
                     : d2i_X509(nullptr, &p, len));
    }
    if (was_certificate) {
      if (!cert) {
        return ossl::error("the trust bundle's PEM block #" + std::to_string(index) +
                           " is not a valid certificate");
      }
      if (sk_X509_push(certs.get(), cert.get()) <= 0) {
        return ossl::error("cannot read the trust bundle");
      }
      cert.release();  // now owned by the stack
    }
  }
  ERR_clear_error();
  if (sk_X509_num(certs.get()) == 0) {
    return Status::invalid("the trust bundle holds no certificate");
  }
  return certs;
}

// sub.signed_by(cross) for the same two certificate objects, proven once:
// every site of a feature shares them. The memo holds a reference to both
// objects, so an address can never be reused for another certificate while
// it is a key. Bounded: cleared when it grows past a few hundred pairs.
bool signed_by_memo(const Certificate& subject, const Certificate& issuer) {
  struct Entry {
    ossl::X509Ptr subject, issuer;
    bool ok;
  };
  static std::mutex mu;
  static std::map<std::pair<const X509*, const X509*>, Entry> memo;
  const auto key = std::make_pair(static_cast<const X509*>(subject.get()), static_cast<const X509*>(issuer.get()));
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = memo.find(key);
    if (it != memo.end()) return it->second.ok;
  }
  const bool ok = subject.signed_by(issuer);
  std::lock_guard<std::mutex> lock(mu);
  if (memo.size() >= 256) memo.clear();
  X509_up_ref(subject.get());
  X509_up_ref(issuer.get());
  memo.emplace(key, Entry{ossl::X509Ptr(subject.get()), ossl::X509Ptr(issuer.get()), ok});
  return ok;
}

Status leaf_not_signed(const Certificate& leaf, const Certificate& sub) {
  const std::string issuer_cn = last_cn(leaf.issuer());
  // "did not sign (issuer: X)" reads as a contradiction when X is the sub
  // CA's own name; say what differs.
  const std::string detail = issuer_cn == sub.common_name()
                                 ? "its issuer has that name but a different key"
                                 : "issuer: '" + issuer_cn + "'";
  return Status::invalid("the sub CA '" + cn_or_subject(sub) + "' did not sign the certificate (" +
                         detail + ")");
}

Status cross_not_signed(const Certificate& sub, const Certificate& cross) {
  return Status::invalid("the cross certificate '" + cn_or_subject(cross) +
                         "' did not sign the sub CA '" + cn_or_subject(sub) + "'");
}

}  // namespace

TrustStore::TrustStore(const TrustStore& other) : store_(other.store_.get()), status_(other.status_) {
  if (store_) X509_STORE_up_ref(store_.get());
}

TrustStore& TrustStore::operator=(const TrustStore& other) {
  if (this != &other) {
    if (other.store_) X509_STORE_up_ref(other.store_.get());
    store_.reset(other.store_.get());
    status_ = other.status_;
  }
  return *this;
}

TrustStore TrustStore::from_pem(std::string_view trust_pem) {
  TrustStore t;
  auto trusted = read_trust(trust_pem);
  if (!trusted) {
    t.status_ = trusted.status();
    return t;
  }
  ERR_clear_error();
  ossl::X509Store store(X509_STORE_new());
  if (!store) {
    t.status_ = ossl::error("cannot verify the chain");
    return t;
  }
  for (int i = 0; i < sk_X509_num(trusted->get()); ++i) {
    if (X509_STORE_add_cert(store.get(), sk_X509_value(trusted->get(), i)) != 1) {
      t.status_ = ossl::error("cannot load the trust bundle");
      return t;
    }
  }
  t.store_ = std::move(store);
  return t;
}

Certificate::Certificate(const Certificate& other) : x509_(other.x509_.get()), was_der_(other.was_der_) {
  if (x509_) X509_up_ref(x509_.get());
}

Certificate& Certificate::operator=(const Certificate& other) {
  if (this != &other) {
    if (other.x509_) X509_up_ref(other.x509_.get());
    x509_.reset(other.x509_.get());
    was_der_ = other.was_der_;
  }
  return *this;
}

Result<Certificate> Certificate::parse(std::string_view bytes) {
  if (bytes.empty()) return Status::invalid("not a certificate: the file is empty");
  ERR_clear_error();
  // DER is one SEQUENCE; PEM is text that has a BEGIN line somewhere.
  if (static_cast<unsigned char>(bytes.front()) == 0x30 &&
      bytes.find(kPemBegin) == std::string_view::npos) {
    if (bytes.size() > static_cast<std::size_t>(LONG_MAX)) {
      return Status::invalid("not a DER certificate: too large");
    }
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    ossl::X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(bytes.size())));
    if (!x) return ossl::error("not a valid DER certificate");
    return Certificate(std::move(x), true);
  }
  if (bytes.find(kPemBegin) == std::string_view::npos) {
    return Status::invalid("not a certificate: neither PEM (no \"-----BEGIN CERTIFICATE-----\" "
                           "line) nor DER");
  }
  ossl::Bio bio = ossl::read_bio(bytes);
  if (!bio) return ossl::error("cannot read the certificate");
  ossl::X509Ptr x(PEM_read_bio_X509(bio.get(), nullptr, ossl::no_passphrase_cb, nullptr));
  if (!x) {
    if (only_end_of_pem()) {
      ERR_clear_error();
      return Status::invalid("not a certificate: no \"-----BEGIN CERTIFICATE-----\" block");
    }
    return ossl::error("not a valid PEM certificate");
  }
  ERR_clear_error();
  return Certificate(std::move(x), false);
}

Result<std::vector<Certificate>> Certificate::parse_bundle(std::string_view pem) {
  if (pem.find(kPemBegin) == std::string_view::npos) {
    if (!pem.empty() && static_cast<unsigned char>(pem.front()) == 0x30) {
      auto one = parse(pem);
      if (!one) return one.status();
      std::vector<Certificate> out;
      out.push_back(std::move(one).value());
      return out;
    }
    return Status::invalid("no certificate: no \"-----BEGIN CERTIFICATE-----\" block");
  }
  ERR_clear_error();
  ossl::Bio bio = ossl::read_bio(pem);
  if (!bio) return ossl::error("cannot read the certificates");
  std::vector<Certificate> out;
  for (;;) {
    ossl::X509Ptr x(PEM_read_bio_X509(bio.get(), nullptr, ossl::no_passphrase_cb, nullptr));
    if (!x) {
      if (only_end_of_pem()) break;
      return ossl::error("certificate #" + std::to_string(out.size() + 1) + " is not valid");
    }
    out.push_back(Certificate(std::move(x), false));
  }
  ERR_clear_error();
  if (out.empty()) return Status::invalid("no certificate: no \"-----BEGIN CERTIFICATE-----\" block");
  return out;
}

NameEntries Certificate::subject() const { return name_entries(X509_get_subject_name(get())); }

NameEntries Certificate::issuer() const { return name_entries(X509_get_issuer_name(get())); }

std::string Certificate::common_name() const { return last_cn(subject()); }

std::vector<std::string> Certificate::dns_names() const {
  std::vector<std::string> out;
  ossl::GeneralNames names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(get(), NID_subject_alt_name, nullptr, nullptr)));
  ERR_clear_error();
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type != GEN_DNS) continue;
    const ASN1_IA5STRING* dns = gn->d.dNSName;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                     static_cast<std::size_t>(ASN1_STRING_length(dns)));
  }
  return out;
}

std::string Certificate::serial_hex() const {
  ossl::BigNum bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(get()), nullptr));
  if (!bn) {
    ERR_clear_error();
    return {};
  }
  ossl::Chars hex(BN_bn2hex(bn.get()));
  if (!hex) {
    ERR_clear_error();
    return {};
  }
  return std::string(hex.get());
}

std::time_t Certificate::not_before() const { return to_time_t(X509_get0_notBefore(get())); }

std::time_t Certificate::not_after() const { return to_time_t(X509_get0_notAfter(get())); }

std::string Certificate::public_key_der() const {
  EVP_PKEY* pub = X509_get0_pubkey(get());
  if (pub == nullptr) {
    ERR_clear_error();
    return {};
  }
  return ossl::to_der<EVP_PKEY>(i2d_PUBKEY, pub);
}

std::string Certificate::der() const { return ossl::to_der<X509>(i2d_X509, get()); }

std::string Certificate::pem() const {
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), get()) != 1) {
    ERR_clear_error();
    return {};
  }
  return ossl::bio_contents(bio.get());
}

bool Certificate::signed_by(const Certificate& issuer) const {
  // check_issued compares names, key identifiers and key usage; only the
  // signature check proves the issuer's key made this certificate.
  bool ok = X509_check_issued(issuer.get(), get()) == X509_V_OK;
  if (ok) {
    EVP_PKEY* pub = X509_get0_pubkey(issuer.get());
    ok = pub != nullptr && X509_verify(get(), pub) == 1;
  }
  ERR_clear_error();
  return ok;
}

namespace {

// One certificate Apache serves, with the words messages use for it.
struct Served {
  const Certificate* cert;
  std::string name;    // "the sub CA 'Hongkong Post e-Cert SSL CA 3 - 17'"
  std::string remedy;  // what the operator does when it fails a check
};

std::vector<Served> served_chain(const Certificate& leaf, const Certificate& sub, const Certificate& cross) {
  const std::string from_ca = "download the current one from Hongkong Post";
  return {{&leaf, "the certificate '" + cn_or_subject(leaf) + "'", "the CA must issue it again"},
          {&sub, "the sub CA '" + cn_or_subject(sub) + "'", from_ca},
          {&cross, "the cross certificate '" + cn_or_subject(cross) + "'", from_ca}};
}

// SHA-1 and MD5 signatures can be forged: refuse anything weaker than
// SHA-256 (128 bits of security; RSA-PSS and EdDSA count by their digest).
Status check_signature(const Served& s) {
  int digest_nid = NID_undef, key_nid = NID_undef, security_bits = 0;
  uint32_t flags = 0;
  const int known = X509_get_signature_info(s.cert->get(), &digest_nid, &key_nid, &security_bits, &flags);
  ERR_clear_error();
  if (known == 1 && (flags & X509_SIG_INFO_VALID) && security_bits >= 128) return Status::ok();
  const int sig_nid = X509_get_signature_nid(s.cert->get());
  const std::string digest = digest_nid != NID_undef ? OBJ_nid2sn(digest_nid) : "an unknown digest";
  return Status::invalid(s.name + " is signed with " + digest + " (" + OBJ_nid2ln(sig_nid) +
                         "), which is no longer safe: every certificate Apache serves must be signed with "
                         "SHA-256 or stronger; " + s.remedy);
}

Status check_validity(const Served& s, std::time_t at) {
  if (at < s.cert->not_before())
    return Status::invalid(s.name + " is not valid before " + format_utc(s.cert->not_before(), "%Y-%m-%d") + "; " +
                           s.remedy);
  if (at > s.cert->not_after())
    return Status::invalid(s.name + " expired on " + format_utc(s.cert->not_after(), "%Y-%m-%d") + "; " + s.remedy);
  return Status::ok();
}

// The verified path starts with exactly the served certificates, in order:
// nothing on it was replaced by a trusted certificate of the same name.
bool path_starts_with(STACK_OF(X509)* path, const std::vector<Served>& served) {
  if (sk_X509_num(path) < static_cast<int>(served.size())) return false;
  for (std::size_t i = 0; i < served.size(); ++i)
    if (X509_cmp(sk_X509_value(path, static_cast<int>(i)), served[i].cert->get()) != 0) return false;
  return true;
}

ValidityWindow window_of(STACK_OF(X509)* path) {
  ValidityWindow w{std::numeric_limits<std::time_t>::min(), std::numeric_limits<std::time_t>::max()};
  for (int i = 0; i < sk_X509_num(path); ++i) {
    const X509* x = sk_X509_value(path, i);
    w.from = std::max(w.from, to_time_t(X509_get0_notBefore(x)));
    w.until = std::min(w.until, to_time_t(X509_get0_notAfter(x)));
  }
  return w;
}

Status store_error(X509_STORE_CTX* ctx, const std::vector<Served>& served) {
  const int err = X509_STORE_CTX_get_error(ctx);
  std::string where;
  if (X509* at_cert = X509_STORE_CTX_get_current_cert(ctx)) {
    where = "'" + last_cn(name_entries(X509_get_subject_name(at_cert))) + "'";
    for (const Served& s : served)
      if (X509_cmp(at_cert, s.cert->get()) == 0) where = s.name;
    if (err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY || err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT)
      where += ", issued by '" + last_cn(name_entries(X509_get_issuer_name(at_cert))) +
               "'); use a trust bundle that holds that root";
    else
      where += ")";
    where = " (at " + where;
  }
  ERR_clear_error();
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:  // the root's: the served ones were checked before
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
      return Status::invalid(std::string("the chain is not valid at this time: ") +
                             X509_verify_cert_error_string(err) + where);
    default:
      return Status::invalid(std::string("the chain does not reach a root in the trust bundle: ") +
                             X509_verify_cert_error_string(err) + where);
  }
}

// Verifies exactly the chain Apache serves (leaf, then the chain file's
// certificates) up to a root of `trust`. OpenSSL prefers a trusted issuer
// by default: with Hongkong Post Root CA 3 in the bundle it would end the
// path at that root right after the sub CA and never look at the served
// cross certificate. Untrusted-first without alternative chains makes every
// served certificate part of the path, which is then checked to be so.
Status verify_served(const std::vector<Served>& served, const TrustStore& trust, std::time_t at,
                     ValidityWindow* valid) {
  if (!trust.status().is_ok()) return trust.status();
  for (const Served& s : served) {
    if (Status st = check_signature(s); !st) return st;
    if (Status st = check_validity(s, at); !st) return st;
  }
  ERR_clear_error();
  ossl::X509StackView untrusted(sk_X509_new_null());
  if (!untrusted) return ossl::error("cannot verify the chain");
  for (std::size_t i = 1; i < served.size(); ++i)
    if (sk_X509_push(untrusted.get(), served[i].cert->get()) <= 0) return ossl::error("cannot verify the chain");
  ossl::X509StoreCtx ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), trust.get(), served[0].cert->get(), untrusted.get()) != 1)
    return ossl::error("cannot verify the chain");
  // No purpose is set: whether a certificate may serve TLS is the CA's
  // business. Partial chains stay off: a trusted intermediate alone must
  // not end the path.
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, at);
  X509_VERIFY_PARAM_clear_flags(param, X509_V_FLAG_TRUSTED_FIRST);
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_ALT_CHAINS);
  if (X509_verify_cert(ctx.get()) != 1) return store_error(ctx.get(), served);
  STACK_OF(X509)* path = X509_STORE_CTX_get0_chain(ctx.get());
  ERR_clear_error();
  // Unreachable with the flags above; kept so a change in OpenSSL's path
  // building can never let a served certificate go unchecked.
  if (!path_starts_with(path, served))
    return Status::invalid("the chain Apache serves is not the path OpenSSL verified; nothing was trusted");
  if (valid) *valid = window_of(path);
  return Status::ok();
}

}  // namespace

Status verify_chain(const Certificate& leaf, const Certificate& sub, const Certificate& cross,
                    std::string_view trust_pem, std::time_t at) {
  // The explicit links first: they name the culprit in the operator's words,
  // where the store would only say "unable to get local issuer certificate".
  if (!leaf.signed_by(sub)) return leaf_not_signed(leaf, sub);
  if (!sub.signed_by(cross)) return cross_not_signed(sub, cross);
  return verify_served(served_chain(leaf, sub, cross), TrustStore::from_pem(trust_pem), at, nullptr);
}

Status verify_chain(const Certificate& leaf, const Certificate& sub, const Certificate& cross,
                    const TrustStore& trust, std::time_t at, ValidityWindow* valid) {
  if (!leaf.signed_by(sub)) return leaf_not_signed(leaf, sub);
  if (!signed_by_memo(sub, cross)) return cross_not_signed(sub, cross);
  return verify_served(served_chain(leaf, sub, cross), trust, at, valid);
}

}  // namespace ecert::crypto
