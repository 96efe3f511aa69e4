// What the engine asks of the world besides files and commands: the time,
// what a server serves, and fresh private keys. Small interfaces, so that tests can move time
// and answer handshakes without a network.
#pragma once

#include <chrono>
#include <ctime>
#include <vector>

#include "crypto/key.h"
#include "engine/keygen.h"
#include "engine/served.h"
#include "manifest/model.h"
#include "util/fs.h"
#include "util/process.h"

namespace ecert {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::time_t now() const = 0;
  // Waits (a test clock just moves its time on).
  virtual void sleep_for(std::chrono::milliseconds duration) const = 0;
};

class SystemClock : public Clock {
 public:
  std::time_t now() const override;
  void sleep_for(std::chrono::milliseconds duration) const override;
};

// What the server at a site's vhost.verify serves, compared with the files
// on disk (engine/served.h).
class TlsProbe {
 public:
  virtual ~TlsProbe() = default;
  // REQUIRES: site.vhost.verify is set.
  virtual ServedFacts probe(const Site& site, std::chrono::milliseconds timeout) = 0;
};

// One TLS handshake with SNI; reads the site's files through `fs`.
class RealTlsProbe : public TlsProbe {
 public:
  explicit RealTlsProbe(const FileSystem& fs) : fs_(fs) {}
  ServedFacts probe(const Site& site, std::chrono::milliseconds timeout) override;

 private:
  const FileSystem& fs_;
};

// Where new private keys come from. Tests hand out keys made once per
// process: generating RSA keys would otherwise be most of their time.
class KeySource {
 public:
  virtual ~KeySource() = default;
  // One key per entry of `bits`, in that order; `progress(done, total)` is
  // called from the calling thread as keys finish (may be empty).
  virtual std::vector<Result<crypto::PrivateKey>> generate(const std::vector<int>& bits,
                                                           const KeyProgress& progress) = 0;
};

// Fresh RSA keys, spread over the machine's cores (engine/keygen.h).
class RsaKeySource : public KeySource {
 public:
  std::vector<Result<crypto::PrivateKey>> generate(const std::vector<int>& bits,
                                                   const KeyProgress& progress) override {
    return generate_keys(bits, progress);
  }
};

// Everything a run acts through. The caller owns each part.
struct Services {
  FileSystem& fs;
  CommandRunner& runner;
  const Clock& clock;
  TlsProbe& tls;
  KeySource& keys;
};

}  // namespace ecert
