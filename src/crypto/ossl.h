// Owning handles for OpenSSL objects, and the one place OpenSSL's error
// queue becomes text.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

#include "util/status.h"

namespace ecert::ossl {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
template <class T, void (*Free)(T*)>
using Ptr = std::unique_ptr<T, Deleter<T, Free>>;

inline void bio_free(BIO* b) { BIO_free_all(b); }
// A stack that borrows its certificates: freeing it leaves them alone.
inline void x509_stack_view_free(STACK_OF(X509)* s) { sk_X509_free(s); }
// A stack that owns its certificates.
inline void x509_stack_free(STACK_OF(X509)* s) { sk_X509_pop_free(s, X509_free); }
inline void general_names_free(GENERAL_NAMES* g) { GENERAL_NAMES_free(g); }
// Buffers OpenSSL hands out for the caller to OPENSSL_free.
template <class T>
void openssl_free(T* p) {
  OPENSSL_free(p);
}

using Bio = Ptr<BIO, bio_free>;
using PKey = Ptr<EVP_PKEY, EVP_PKEY_free>;
using PKeyCtx = Ptr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using X509Ptr = Ptr<X509, X509_free>;
using X509Req = Ptr<X509_REQ, X509_REQ_free>;
using X509Name = Ptr<X509_NAME, X509_NAME_free>;
using X509Store = Ptr<X509_STORE, X509_STORE_free>;
using X509StoreCtx = Ptr<X509_STORE_CTX, X509_STORE_CTX_free>;
using SslCtx = Ptr<SSL_CTX, SSL_CTX_free>;
using Ssl = Ptr<SSL, SSL_free>;
using MdCtx = Ptr<EVP_MD_CTX, EVP_MD_CTX_free>;
using X509StackView = Ptr<STACK_OF(X509), x509_stack_view_free>;
using X509Stack = Ptr<STACK_OF(X509), x509_stack_free>;
using GeneralNames = Ptr<GENERAL_NAMES, general_names_free>;
using BigNum = Ptr<BIGNUM, BN_free>;
using Asn1Integer = Ptr<ASN1_INTEGER, ASN1_INTEGER_free>;
using X509Ext = Ptr<X509_EXTENSION, X509_EXTENSION_free>;
using X509Sig = Ptr<X509_SIG, X509_SIG_free>;
using Chars = Ptr<char, openssl_free<char>>;
using Bytes = Ptr<unsigned char, openssl_free<unsigned char>>;

// Drains OpenSSL's error queue into one line ("reason; reason").
std::string last_error();

// Status::invalid(what + ": " + last_error()), clearing the queue.
Status error(const std::string& what);

// A read-only memory BIO over `bytes` (no copy: `bytes` must outlive it).
// Null only when OpenSSL is out of memory.
Bio read_bio(std::string_view bytes);

// Everything written to a memory BIO so far.
std::string bio_contents(BIO* bio);

// A pem_password_cb for reads that must never prompt on the terminal:
// OpenSSL falls back to a tty prompt when the callback is null.
int no_passphrase_cb(char* buf, int size, int rwflag, void* userdata);

// DER of anything OpenSSL has an i2d_ function for; "" when encoding fails.
template <class T>
std::string to_der(int (*i2d)(const T*, unsigned char**), const T* obj) {
  unsigned char* raw = nullptr;
  int len = i2d(obj, &raw);
  Bytes buf(raw);
  if (len <= 0 || !buf) return {};
  return std::string(reinterpret_cast<const char*>(buf.get()), static_cast<std::size_t>(len));
}

}  // namespace ecert::ossl
