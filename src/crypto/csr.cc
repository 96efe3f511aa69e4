#include "crypto/csr.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <algorithm>
#include <climits>

namespace ecert::crypto {

NameEntries ecert_subject(const std::string& organization, const std::string& common_name) {
  return {{"C", "HK"},
          {"ST", "Hong Kong"},
          {"L", "Hong Kong"},
          {"O", organization},
          {"CN", common_name}};
}

std::string format_name(const NameEntries& name) {
  std::string out;
  for (const auto& [key, value] : name) {
    if (!out.empty()) out += ", ";
    out += key + "=" + value;
  }
  return out;
}

Result<ossl::X509Name> make_x509_name(const NameEntries& entries) {
  ERR_clear_error();
  ossl::X509Name name(X509_NAME_new());
  if (!name) return ossl::error("cannot build a subject name");
  for (const auto& [key, value] : entries) {
    if (value.size() > static_cast<std::size_t>(INT_MAX)) {
      return Status::invalid("cannot put " + key + " in a subject name: value too long");
    }
    // MBSTRING_UTF8 lets OpenSSL pick the string type the attribute's
    // table allows, and checks the length limits (CN and O: 64 characters).
    if (X509_NAME_add_entry_by_txt(name.get(), key.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      return ossl::error("cannot put " + key + "=" + value + " in a subject name");
    }
  }
  return name;
}

NameEntries name_entries(const X509_NAME* name) {
  NameEntries out;
  if (name == nullptr) return out;
  const int count = X509_NAME_entry_count(name);
  for (int i = 0; i < count; ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    const ASN1_OBJECT* obj = X509_NAME_ENTRY_get_object(entry);
    std::string key;
    const int nid = OBJ_obj2nid(obj);
    if (nid != NID_undef && OBJ_nid2sn(nid) != nullptr) {
      key = OBJ_nid2sn(nid);
    } else {
      char buf[128];
      int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
      key = n > 0 ? std::string(buf, std::min<std::size_t>(n, sizeof buf - 1)) : "?";
    }
    std::string value;
    unsigned char* raw = nullptr;
    int len = ASN1_STRING_to_UTF8(&raw, X509_NAME_ENTRY_get_data(entry));
    ossl::Bytes utf8(raw);
    if (len >= 0 && utf8) {
      value.assign(reinterpret_cast<const char*>(utf8.get()), static_cast<std::size_t>(len));
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  ERR_clear_error();
  return out;
}

Result<std::string> make_csr_pem(const PrivateKey& key, const NameEntries& subject) {
  auto name = make_x509_name(subject);
  if (!name) return name.status();
  ERR_clear_error();
  ossl::X509Req req(X509_REQ_new());
  if (!req) return ossl::error("cannot create a CSR");
  if (X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_subject_name(req.get(), name->get()) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1) {
    return ossl::error("cannot create a CSR");
  }
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    return ossl::error("cannot sign the CSR");
  }
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    return ossl::error("cannot write the CSR");
  }
  return ossl::bio_contents(bio.get());
}

Result<CsrInfo> parse_csr(std::string_view pem) {
  if (pem.find("CERTIFICATE REQUEST-----") == std::string_view::npos) {
    return Status::invalid(
        "not a PEM certificate request (no \"-----BEGIN CERTIFICATE REQUEST-----\" line)");
  }
  ERR_clear_error();
  ossl::Bio bio = ossl::read_bio(pem);
  if (!bio) return ossl::error("cannot read the certificate request");
  ossl::X509Req req(PEM_read_bio_X509_REQ(bio.get(), nullptr, ossl::no_passphrase_cb, nullptr));
  if (!req) return ossl::error("not a readable PEM certificate request");

  CsrInfo info;
  info.version = X509_REQ_get_version(req.get());
  info.subject = name_entries(X509_REQ_get_subject_name(req.get()));
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req.get());
  if (pub == nullptr) return ossl::error("the certificate request's public key is unreadable");
  info.public_key_der = ossl::to_der<EVP_PKEY>(i2d_PUBKEY, pub);
  info.signature_valid = X509_REQ_verify(req.get(), pub) == 1;
  info.attribute_count = X509_REQ_get_attr_count(req.get());

  const ASN1_BIT_STRING* sig = nullptr;
  const X509_ALGOR* alg = nullptr;
  X509_REQ_get0_signature(req.get(), &sig, &alg);
  if (alg != nullptr) {
    const ASN1_OBJECT* obj = nullptr;
    X509_ALGOR_get0(&obj, nullptr, nullptr, alg);
    int md_nid = NID_undef;
    int pk_nid = NID_undef;
    if (OBJ_find_sigid_algs(OBJ_obj2nid(obj), &md_nid, &pk_nid) == 1 && md_nid != NID_undef) {
      info.signature_digest = OBJ_nid2sn(md_nid);
    }
  }
  ERR_clear_error();
  return info;
}

}  // namespace ecert::crypto
