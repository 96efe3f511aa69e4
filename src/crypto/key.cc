#include "crypto/key.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <climits>
#include <cstring>

namespace ecert::crypto {
namespace {

// Split so that no source line reads like the first line of a private key.
constexpr std::string_view kEncryptedPkcs8 = "-----BEGIN ENCRYPTED " "PRIVATE KEY-----";

// Hands the passphrase to OpenSSL's decoder. Without a passphrase it refuses
// rather than returning 0 chars, so OpenSSL never falls back to a tty prompt.
struct PassphraseRequest {
  const SecretString* passphrase = nullptr;
  bool asked = false;
};

int passphrase_cb(char* buf, int size, int /*rwflag*/, void* userdata) {
  auto* req = static_cast<PassphraseRequest*>(userdata);
  req->asked = true;
  if (req->passphrase == nullptr || req->passphrase->empty()) return -1;
  const std::string& pass = req->passphrase->expose();
  if (size < 0 || pass.size() > static_cast<std::size_t>(size)) return -1;
  std::memcpy(buf, pass.data(), pass.size());
  return static_cast<int>(pass.size());
}

bool looks_like_private_key_pem(std::string_view pem) {
  return pem.find("-----BEGIN ") != std::string_view::npos &&
         pem.find("PRIVATE KEY-----") != std::string_view::npos;
}

}  // namespace

PrivateKey::PrivateKey(const PrivateKey& other) : pkey_(other.pkey_.get()) {
  if (pkey_) EVP_PKEY_up_ref(pkey_.get());
}

PrivateKey& PrivateKey::operator=(const PrivateKey& other) {
  if (this != &other) {
    if (other.pkey_) EVP_PKEY_up_ref(other.pkey_.get());
    pkey_.reset(other.pkey_.get());
  }
  return *this;
}

Result<PrivateKey> PrivateKey::generate_rsa(int bits) {
  // Below 2048 is refused by the CA; above 16384 is a typo that would
  // spin for minutes.
  if (bits < 2048 || bits > 16384) {
    return Status::invalid("cannot generate an RSA key of " + std::to_string(bits) +
                           " bits: use 2048, 3072 or 4096");
  }
  ERR_clear_error();
  ossl::PKeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  if (!ctx) return ossl::error("cannot generate an RSA key");
  if (EVP_PKEY_keygen_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) <= 0) {
    return ossl::error("cannot generate an RSA key");
  }
  // OpenSSL's default exponent is already 65537; stated so a changed
  // default cannot silently change the keys we make.
  ossl::BigNum e(BN_new());
  if (!e || BN_set_word(e.get(), RSA_F4) != 1 ||
      EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), e.get()) <= 0) {
    return ossl::error("cannot generate an RSA key");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_keygen(ctx.get(), &raw) <= 0) return ossl::error("cannot generate an RSA key");
  return PrivateKey(ossl::PKey(raw));
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem, const SecretString* passphrase) {
  if (!looks_like_private_key_pem(pem)) {
    return Status::invalid("not a private key PEM (no \"-----BEGIN ... PRIVATE KEY-----\" line)");
  }
  const bool encrypted = pem_is_encrypted(pem);
  if (encrypted && (passphrase == nullptr || passphrase->empty())) {
    return Status::permission(
        "cannot open private key: it is encrypted and no passphrase was given");
  }
  ERR_clear_error();
  ossl::Bio bio = ossl::read_bio(pem);
  if (!bio) return ossl::error("cannot read private key");
  // A damaged encrypted PKCS#8 block would otherwise read as a wrong
  // passphrase; its outer structure is readable without one.
  if (pem.find(kEncryptedPkcs8) != std::string_view::npos) {
    ossl::X509Sig sig(PEM_read_bio_PKCS8(bio.get(), nullptr, ossl::no_passphrase_cb, nullptr));
    if (!sig) return ossl::error("cannot read private key (the encrypted PEM is damaged)");
    bio = ossl::read_bio(pem);
    if (!bio) return ossl::error("cannot read private key");
  }
  PassphraseRequest req{passphrase, false};
  ossl::PKey pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, passphrase_cb, &req));
  if (!pkey) {
    if (encrypted || req.asked) {
      // OpenSSL's text here ("bad decrypt", or an ASN.1 error when a wrong
      // 3DES key happens to pass the padding check) only confuses.
      ERR_clear_error();
      return Status::permission(
          "cannot open private key: wrong passphrase (or not the key's passphrase)");
    }
    return ossl::error("cannot read private key");
  }
  return PrivateKey(std::move(pkey));
}

Result<SecretString> PrivateKey::to_pem(Cipher cipher, const SecretString* passphrase) const {
  const EVP_CIPHER* evp_cipher = nullptr;
  switch (cipher) {
    case Cipher::kAes256Cbc: evp_cipher = EVP_aes_256_cbc(); break;
    case Cipher::kDesEde3Cbc: evp_cipher = EVP_des_ede3_cbc(); break;
    case Cipher::kNone: break;
  }
  const char* kstr = nullptr;
  int klen = 0;
  if (evp_cipher != nullptr) {
    if (passphrase == nullptr || passphrase->empty()) {
      return Status::invalid(std::string("cannot encrypt the private key with ") +
                             cipher_name(cipher) + ": no passphrase was given");
    }
    if (passphrase->size() > static_cast<std::size_t>(INT_MAX)) {
      return Status::invalid("cannot encrypt the private key: the passphrase is too long");
    }
    kstr = passphrase->expose().data();
    klen = static_cast<int>(passphrase->size());
  }
  ERR_clear_error();
  // A secure-memory BIO clears its buffer when it grows and when it is
  // freed; the explicit cleanse below keeps that true should the BIO type
  // ever change.
  ossl::Bio bio(BIO_new(BIO_s_secmem()));
  if (!bio) return ossl::error("cannot write private key");
  // No callback: with a cipher the passphrase is always given, and in
  // OpenSSL 3.0 a callback would take precedence over it.
  if (PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey_.get(), evp_cipher, kstr, klen, nullptr,
                                    nullptr) != 1) {
    return ossl::error("cannot write private key");
  }
  SecretString pem(ossl::bio_contents(bio.get()));
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio.get(), &mem);
  if (mem != nullptr && mem->data != nullptr) OPENSSL_cleanse(mem->data, mem->max);
  return pem;
}

bool PrivateKey::is_rsa() const { return EVP_PKEY_is_a(pkey_.get(), "RSA") == 1; }

int PrivateKey::bits() const { return EVP_PKEY_get_bits(pkey_.get()); }

std::string PrivateKey::public_key_der() const {
  return ossl::to_der<EVP_PKEY>(i2d_PUBKEY, pkey_.get());
}

bool pem_is_encrypted(std::string_view pem) {
  if (pem.find(kEncryptedPkcs8) != std::string_view::npos) return true;
  // Traditional ("BEGIN RSA PRIVATE KEY") keys as `openssl genrsa -des3` writes them.
  return pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos &&
         looks_like_private_key_pem(pem);
}

}  // namespace ecert::crypto
