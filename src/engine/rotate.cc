#include "engine/rotate.h"

#include "crypto/csr.h"
#include "crypto/key.h"
#include "engine/lock.h"
#include "engine/passphrase.h"

namespace ecert {

Result<RotateResult> rotate_site(const Site& site, FileSystem& fs, const ApplyOptions& options) {
  auto lock = RunLock::acquire(fs, options.state_dir, options.lock_wait);
  if (!lock) return lock.status();

  RotateResult out;
  out.key_path = staged_path(site.key.path);
  out.csr_path = staged_path(site.csr);
  SecretString pass;
  if (site.key.cipher != Cipher::kNone) {
    auto p = load_passphrase(site.key.passphrase, fs);
    if (!p) return p.status();
    pass = std::move(*p);
  }
  const SecretString* passp = site.key.cipher == Cipher::kNone ? nullptr : &pass;

  auto live = fs.stat(site.key.path);
  if (!live)
    return Status::invalid("no live key at " + site.key.path.string() +
                           " to rotate; run ecertctl apply -f " + options.manifest_arg + " first");

  std::optional<crypto::PrivateKey> key;
  auto staged = fs.read_file(out.key_path);
  if (staged) {
    SecretString pem(std::move(*staged));
    auto k = crypto::PrivateKey::from_pem(pem.expose(), passp);
    if (!k)
      return Status::invalid("a staged key at " + out.key_path + " does not open (" + k.status().message() +
                             "); move it away and run rotate again");
    key.emplace(std::move(*k));
  } else if (!staged.status().is_not_found()) {
    return staged.status();
  } else {
    auto k = crypto::PrivateKey::generate_rsa(site.key.bits);
    if (!k) return k.status();
    auto pem = k->to_pem(site.key.cipher, passp);
    if (!pem) return pem.status();
    if (Status s = fs.create_exclusive(out.key_path, pem->expose(), 0600); !s) return s;
    key.emplace(std::move(*k));
    out.created = true;
  }

  const auto subject = crypto::ecert_subject(site.organization, site.name);
  auto existing = fs.read_file(out.csr_path);
  bool csr_ok = false;
  if (existing) {
    auto info = crypto::parse_csr(*existing);
    csr_ok = info && info->subject == subject && info->public_key_der == key->public_key_der() &&
             info->signature_valid;
  }
  if (!csr_ok) {
    auto csr = crypto::make_csr_pem(*key, subject);
    if (!csr) return csr.status();
    if (Status s = fs.write_atomic(out.csr_path, *csr); !s) return s;
  }
  out.message = out.created ? "staged a new key at " + out.key_path + " and its CSR at " + out.csr_path +
                                  "; Apache keeps serving the current certificate until the new one arrives"
                            : "a renewal is already staged at " + out.key_path + " (kept as it is)" +
                                  (csr_ok ? "" : "; its CSR was rewritten at " + out.csr_path);
  return out;
}

}  // namespace ecert
