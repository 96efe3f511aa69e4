#include "engine/rotate.h"

#include "engine/lock.h"
#include "engine/staging.h"

namespace ecert {

Result<RotateResult> rotate_site(const Site& site, FileSystem& fs, KeySource& keys, const ApplyOptions& options) {
  auto lock = RunLock::acquire(fs, options.state_dir, options.lock_wait);
  if (!lock) return lock.status();
  if (!fs.stat(site.key.path))
    return Status::invalid("no live key at " + site.key.path.string() + " to rotate; run ecertctl apply -f " +
                           options.manifest_arg + " first");
  std::optional<crypto::PrivateKey> fresh;
  auto existing = fs.stat(staged_path(site.key.path));
  if (!existing && !existing.status().is_not_found()) return existing.status();
  if (!existing) {
    auto k = keys.generate({site.key.bits}, {});
    if (!k.at(0)) return k[0].status();
    fresh.emplace(std::move(*k[0]));
  }
  auto staged = stage_renewal(fs, site, std::move(fresh));
  if (!staged) return staged.status();
  RotateResult out;
  out.created = staged->key_created;
  out.key_path = staged->key_path;
  out.csr_path = staged->csr_path;
  out.message = out.created ? "staged a new key at " + out.key_path + " and its CSR at " + out.csr_path +
                                  "; Apache keeps serving the current certificate until the new one arrives"
                            : "a renewal is already staged at " + out.key_path + " (kept as it is)" +
                                  (staged->csr_written ? "; its CSR was rewritten at " + out.csr_path : "");
  return out;
}

}  // namespace ecert
