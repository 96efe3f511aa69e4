#include "engine/staging.h"

#include "crypto/csr.h"
#include "engine/csr_check.h"
#include "engine/passphrase.h"
#include "util/digest.h"

namespace ecert {
namespace {

Result<SecretString> passphrase_for(const Site& site, const FileSystem& fs) {
  if (site.key.cipher == Cipher::kNone) return SecretString();
  return load_passphrase(site.key.passphrase, fs);
}

// The staged key: written from `fresh`, or read back.
Result<crypto::PrivateKey> staged_key(FileSystem& fs, const Site& site, std::optional<crypto::PrivateKey> fresh,
                                      StagedRenewal& out) {
  auto pass = passphrase_for(site, fs);
  if (!pass) return pass.status();
  const SecretString* passphrase = site.key.cipher == Cipher::kNone ? nullptr : &*pass;
  if (fresh) {
    auto pem = fresh->to_pem(site.key.cipher, passphrase);
    if (!pem) return Status::invalid("cannot encrypt the staged key: " + pem.status().message());
    if (Status s = fs.create_exclusive(out.key_path, pem->expose(), 0600); !s) return s;
    out.key_created = true;
    return std::move(*fresh);
  }
  auto pem = fs.read_file(out.key_path);
  if (!pem) return pem.status();
  SecretString secret(std::move(*pem));
  auto key = crypto::PrivateKey::from_pem(secret.expose(), passphrase);
  if (!key)
    return Status::invalid("the staged key " + out.key_path + " does not open (" + key.status().message() +
                           "); move it away and stage the renewal again");
  return key;
}

}  // namespace

Result<StagedRenewal> stage_renewal(FileSystem& fs, const Site& site, std::optional<crypto::PrivateKey> fresh) {
  StagedRenewal out{staged_path(site.key.path), staged_path(site.csr)};
  auto key = staged_key(fs, site, std::move(fresh), out);
  if (!key) return key.status();
  const auto subject = crypto::ecert_subject(site.organization, site.name);
  if (auto existing = fs.read_file(out.csr_path))
    if (auto info = crypto::parse_csr(*existing);
        info && csr_problems(summarize_csr(*info), subject, sha256_hex(key->public_key_der())).empty())
      return out;
  auto csr = crypto::make_csr_pem(*key, subject);
  if (!csr) return csr.status();
  if (Status s = fs.write_atomic(out.csr_path, *csr); !s) return s;
  out.csr_written = true;
  return out;
}

}  // namespace ecert
