// Staging a renewal: what `ecertctl rotate` does by hand, and what apply
// does when a certificate's renewal is due (renewal.stage: auto).
#pragma once

#include <optional>
#include <string>

#include "crypto/key.h"
#include "manifest/model.h"
#include "util/fs.h"

namespace ecert {

struct StagedRenewal {
  std::string key_path, csr_path;  // <key>.new, <csr>.new
  bool key_created = false;        // false: the staged key was there already
  bool csr_written = false;        // false: its CSR was right already
};

// Stages the renewal of `site`: <key>.new from `fresh` (created exclusively,
// mode 0600, never over an existing file), or the staged key already there
// when `fresh` is nullopt; then <csr>.new for that key, written only when it
// is missing or not right for the key (subject, public key, signature).
// Touches neither the live key nor anything Apache reads. Errors name the
// file and what to do.
Result<StagedRenewal> stage_renewal(FileSystem& fs, const Site& site, std::optional<crypto::PrivateKey> fresh);

}  // namespace ecert
