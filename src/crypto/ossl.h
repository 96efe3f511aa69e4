// Owning handles for OpenSSL objects, and the one place OpenSSL's error
// queue becomes text.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>
#include <string>

#include "util/status.h"

namespace ecert::ossl {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
template <class T, void (*Free)(T*)>
using Ptr = std::unique_ptr<T, Deleter<T, Free>>;

inline void bio_free(BIO* b) { BIO_free_all(b); }

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

// Drains OpenSSL's error queue into one line ("reason; reason").
std::string last_error();

// Status::invalid(what + ": " + last_error()), clearing the queue.
Status error(const std::string& what);

}  // namespace ecert::ossl
