// Generating many keys at once, on every core.
#pragma once

#include <functional>
#include <vector>

#include "crypto/key.h"

namespace ecert {

using KeyProgress = std::function<void(std::size_t done, std::size_t total)>;

// Generates one RSA key per entry of `bits`, spread over the machine's cores.
// `progress(done, total)` is called from the calling thread as keys finish.
std::vector<Result<crypto::PrivateKey>> generate_keys(const std::vector<int>& bits, const KeyProgress& progress);

}  // namespace ecert
