#include "engine/csr_check.h"

#include "util/digest.h"
#include "util/strings.h"

namespace ecert {
namespace {

// How the subject differs, field by field.
void subject_differences(const crypto::NameEntries& have, const crypto::NameEntries& want,
                         std::vector<std::string>& out) {
  if (have == want) return;
  const std::size_t before = out.size();
  for (const auto& [field, value] : want) {
    std::string old;
    int count = 0;
    for (const auto& [f, v] : have)
      if (f == field) old = v, ++count;
    if (count == 0) out.push_back("CSR subject lacks " + field + " (want " + squote(value) + ")");
    else if (old != value) out.push_back("CSR subject " + field + " differs: " + squote(old) + " -> " + squote(value));
  }
  if (out.size() == before)
    out.push_back("CSR subject is " + squote(crypto::format_name(have)) + ", want " + squote(crypto::format_name(want)));
}

}  // namespace

CachedCsr summarize_csr(const crypto::CsrInfo& info) {
  return CachedCsr{info.version,         info.subject,         sha256_hex(info.public_key_der),
                   info.signature_valid, info.attribute_count, info.signature_digest};
}

std::vector<std::string> csr_problems(const CachedCsr& csr, const crypto::NameEntries& want, const std::string& key_id) {
  std::vector<std::string> out;
  subject_differences(csr.subject, want, out);
  if (csr.public_key_id != key_id) out.push_back("CSR was made for another key");
  if (!csr.signature_valid) out.push_back("CSR signature does not verify");
  if (csr.attribute_count != 0) out.push_back("CSR carries attributes or extensions; the CA wants none");
  if (lower(csr.signature_digest) != "sha256") out.push_back("CSR is signed with " + csr.signature_digest + ", want SHA-256");
  return out;
}

Result<CsrToSubmit> csr_to_submit(const Site& site, const SiteFacts& f, const std::string& manifest_arg) {
  if (!f.passphrase_error.is_ok()) return f.passphrase_error;
  const bool renewal = f.staged().key.file.exists;
  const KeyFacts& key = renewal ? f.staged().key : f.key;
  const CsrFacts& csr = renewal ? f.staged().csr : f.csr;
  CsrToSubmit out{renewal ? staged_path(site.csr) : site.csr.string(),
                  renewal ? staged_path(site.key.path) : site.key.path.string(), csr.file.digest, renewal};
  const std::string fix = renewal ? "ecertctl rotate -f " + manifest_arg + " --site " + site.name
                                  : "ecertctl apply -f " + manifest_arg;
  if (!key.file.exists) return Status::not_found("there is no key at " + out.key_path + " yet; run " + fix + " first");
  if (!key.opened) return Status::invalid(key.open_error.message());
  if (!csr.file.error.is_ok()) return csr.file.error;
  if (!csr.file.exists) return Status::not_found("there is no CSR at " + out.csr_path + "; run " + fix + " to write it");
  std::vector<std::string> problems =
      csr.parsed ? csr_problems(csr.info, crypto::ecert_subject(site.organization, site.name), key.public_key_id)
                 : std::vector<std::string>{"not a valid CSR (" + csr.parse_error.message() + ")"};
  if (!problems.empty())
    return Status::invalid(out.csr_path + " is not the CSR to send for the key " + out.key_path + ": " +
                           join(problems, "; ") + "; run " + fix + " to write it again");
  return out;
}

}  // namespace ecert
