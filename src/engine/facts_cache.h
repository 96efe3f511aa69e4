// What verifying unchanged files proved, remembered between runs, so that a
// converged fleet is not re-verified from scratch every few minutes (opening
// one encrypted key costs ~2 ms of CPU, ten times reading it).
//
// Every entry is keyed by the sha256 of the content it speaks for (and a
// proof by the digests of every file it involved): a file changed in any way,
// or a CA file or trust bundle a proof relied on, is a miss and is verified
// afresh. Paths and mtimes are never trusted. Only positive results are kept:
// whatever failed is checked again next time.
//
// Keys: an entry for an encrypted key records the digest of the "witness" key
// it was checked with: the first key of the same passphrase source that
// opened in that run. Every run decrypts its witness for real; an entry is
// used only when that same witness file (same digest) opened again. Two
// passphrases cannot both decrypt one key file, so the key still opens with
// today's passphrase. Nothing derived from a passphrase is stored.
//
// Written only by apply (under its lock), as a new file of mode 0600 owned
// by the user ecertctl runs as (write_state_file, engine/state_dir.h); read
// by plan, status and apply through read_state_file: a cache that is a
// symlink or not a regular file, is owned by another user, or that group or
// others may write is ignored (every fact is verified afresh, and the run
// warns about it), never an error; the next apply replaces it.
#pragma once

#include <cstdint>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/csr.h"
#include "util/fs.h"

namespace ecert {

struct CachedKey {
  std::string witness;  // sha256 of the witness key file; "" for a key that is not encrypted
  bool is_rsa = false;
  int bits = 0;
  std::string public_key_id;  // sha256 of the SubjectPublicKeyInfo DER
  bool operator==(const CachedKey&) const = default;
};

// Also the part of CsrFacts (engine/observed.h) that says what it holds.
struct CachedCsr {
  long version = 0;
  crypto::NameEntries subject;
  std::string public_key_id;  // sha256 of the SubjectPublicKeyInfo DER
  bool signature_valid = false;
  int attribute_count = 0;
  std::string signature_digest;
  bool operator==(const CachedCsr&) const = default;
};

// A certificate in PEM (a DER file is not cached: apply rewrites it as PEM).
// Also the part of CertFacts (engine/observed.h) that says what it holds.
struct CachedCert {
  std::string common_name;
  std::vector<std::string> dns_names;
  std::string issuer_cn;
  std::string serial;
  std::time_t not_before = 0;
  std::time_t not_after = 0;
  std::string public_key_id;  // sha256 of the SubjectPublicKeyInfo DER
  bool operator==(const CachedCert&) const = default;
};

// leaf <- sub <- cross -> a root of the trust bundle verified; the result
// holds while the time is inside every certificate's validity on the path.
struct CachedChain {
  std::time_t valid_from = 0;
  std::time_t valid_until = 0;
  bool operator==(const CachedChain&) const = default;
};

struct FactsCache {
  std::map<std::string, CachedKey> keys;    // by key file digest
  std::map<std::string, CachedCsr> csrs;    // by CSR file digest
  std::map<std::string, CachedCert> certs;  // by certificate file digest
  // "<certificate digest> <issuer digest>": the issuer's key signed it.
  std::set<std::string> signatures;
  // "<leaf> <sub> <cross> <trust>" digests.
  std::map<std::string, CachedChain> chains;

  bool empty() const { return keys.empty() && csrs.empty() && certs.empty() && signatures.empty() && chains.empty(); }
  std::size_t size() const { return keys.size() + csrs.size() + certs.size() + signatures.size() + chains.size(); }
  // Adds every entry of `other` (its entries win).
  void merge(FactsCache&& other);
  bool operator==(const FactsCache&) const = default;
};

// Names one cache entry by its kind and key, so that a run can record what
// it relied on without pointing into a cache owned elsewhere. A 64-bit hash:
// a collision can only keep an unused entry for one more run.
enum class FactKind : unsigned char { kKey, kCsr, kCert, kSignature, kChain };
using FactId = std::uint64_t;
FactId fact_id(FactKind kind, std::string_view key);

// What one run did with a cache: the entries it used and the facts it
// proved that were not there.
struct FactsUse {
  std::vector<FactId> used;  // sorted, unique once finish() ran
  FactsCache learned;
  void merge(FactsUse&& other);
  void finish();
};

// The cache to keep after a run that saw `use` of `before`: the entries it
// used plus those it learned, or (keep_all, for a run over some sites only)
// all of `before` plus those learned. nullopt when that is `before` itself,
// so nothing needs writing.
std::optional<FactsCache> next_facts_cache(const FactsCache& before, FactsUse&& use, bool keep_all);

fs::path facts_cache_path(const fs::path& state_dir);

// The cache under `state_dir`; empty when there is none, it cannot be read,
// it is not ecertctl's format, or it is not ecertctl's own (read_state_file).
FactsCache read_facts_cache(const FileSystem& fs, const fs::path& state_dir);

// Text form: a header line, then one JSON object per line (stable order, so
// an unchanged cache renders to the same bytes). Lines that do not parse are
// skipped, so a truncated file loses only its tail.
std::string render_facts_cache(const FactsCache& cache);
FactsCache parse_facts_cache(std::string_view text);

}  // namespace ecert
