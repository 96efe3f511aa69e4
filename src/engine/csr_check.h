// Whether a CSR is the one to send for a key: the one place that decides
// (the planner, staging, and the csr command ask it).
#pragma once

#include <string>
#include <vector>

#include "crypto/csr.h"
#include "engine/facts_cache.h"
#include "engine/observed.h"
#include "manifest/model.h"

namespace ecert {

// What the CSR says, as the facts cache keeps it, from a parsed CSR.
CachedCsr summarize_csr(const crypto::CsrInfo& info);

// Everything that makes `csr` not the CSR to send for the key whose
// SubjectPublicKeyInfo digest is `key_id`, with subject `want`: each a
// reason for the operator. Empty when it is right.
std::vector<std::string> csr_problems(const CachedCsr& csr, const crypto::NameEntries& want, const std::string& key_id);

// The CSR the CA needs next for a site: the staged one while a renewal is
// staged, else the live one; only when it is right for its key (subject,
// public key, signature). The error says what is wrong and what to run.
struct CsrToSubmit {
  std::string csr_path, key_path;
  std::string digest;  // sha256 of the CSR file as checked
  bool renewal = false;
};
Result<CsrToSubmit> csr_to_submit(const Site& site, const SiteFacts& facts, const std::string& manifest_arg);

}  // namespace ecert
