// Renewal, first half: a new key and CSR staged beside the live ones.
#pragma once

#include "engine/apply.h"

namespace ecert {

struct RotateResult {
  bool created = false;       // false: a renewal was already staged
  std::string key_path, csr_path;
  std::string message;        // what happened, for the operator
};

// Stages <key>.new (0600, never over an existing file) and <csr>.new for
// `site`, under the run lock. Touches nothing Apache reads. When a staged key
// exists it is kept and only its CSR is (re)written if missing or wrong;
// otherwise the key comes from `keys`.
Result<RotateResult> rotate_site(const Site& site, FileSystem& fs, KeySource& keys, const ApplyOptions& options);

}  // namespace ecert
