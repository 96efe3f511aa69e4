// What apply checks and records around the restart: the key/certificate
// pairs Apache will load, what it runs with afterwards, and the staged files
// of a verified renewal.
#include "crypto/key.h"
#include "crypto/x509.h"
#include "engine/apply_run.h"
#include "engine/installed.h"
#include "engine/passphrase.h"
#include "engine/state_dir.h"
#include "util/digest.h"

namespace ecert {
namespace {

// The file SSLCertificateFile names for the site: its fullchain, or its certificate.
fs::path served_certificate_path(const Site& site) { return site.fullchain ? site.fullchain->path() : site.certificate.path(); }

// Whether Apache will load the site's own key and certificate: this run
// made its vhost say so, or it says so already (whatever the plan thinks of
// the site: a site in error is loaded all the same).
bool serves_site_files(ApplyRun& run, std::size_t i) {
  const auto& changes = run.plan.sites[i].changes;
  for (std::size_t j = 0; j < changes.size(); ++j)
    if (changes[j].kind == ResourceKind::kVhost && changes[j].acts() && run.result(i, j).outcome == Outcome::kDone)
      return true;
  const Site& site = run.manifest.sites[i];
  const apache::VirtualHost* vh = run.observed.sites[i].vhost.vhost;
  return vh && vh->ssl_value("SSLCertificateKeyFile") == site.key.path.string() &&
         vh->ssl_value("SSLCertificateFile") == served_certificate_path(site).string();
}

// The public key of the key file and of the certificate file, read now.
Result<std::pair<std::string, std::string>> read_pair(ApplyRun& run, const Site& site) {
  FileSystem& fs = run.services.fs;
  const fs::path cert_path = served_certificate_path(site);
  auto cert_bytes = fs.read_file(cert_path);
  if (!cert_bytes) return cert_bytes.status();
  auto cert = crypto::Certificate::parse(*cert_bytes);  // a fullchain's first certificate
  if (!cert) return Status::invalid(cert_path.string() + " is not a certificate: " + cert.status().message());
  auto key_bytes = fs.read_file(site.key.path);
  if (!key_bytes) return key_bytes.status();
  SecretString key_pem(std::move(*key_bytes));
  Result<SecretString> pass = site.key.cipher == Cipher::kNone ? Result<SecretString>(SecretString())
                                                               : load_passphrase(site.key.passphrase, fs);
  if (!pass) return pass.status();
  auto key = crypto::PrivateKey::from_pem(key_pem.expose(), site.key.cipher == Cipher::kNone ? nullptr : &*pass);
  if (!key) return key.status();
  return std::make_pair(sha256_hex(key->public_key_der()), sha256_hex(cert->public_key_der()));
}

// The error for site `i`'s pair, or "" when it matches (or cannot be known).
std::string pair_problem(ApplyRun& run, std::size_t i) {
  const Site& site = run.manifest.sites[i];
  const SiteFacts& f = run.observed.sites[i];
  std::string key_id = f.key.opened ? f.key.public_key_id : "";
  std::string cert_id = f.cert.parsed ? f.cert.info.public_key_id : "";
  if (run.journal.wrote(site.key.path) || run.journal.wrote(served_certificate_path(site))) {
    auto now = read_pair(run, site);
    if (!now) return site.name + ": cannot check the key " + site.key.path.string() + " against the certificate " +
                     site.certificate.string() + ": " + now.status().message();
    std::tie(key_id, cert_id) = *now;
  }
  if (key_id.empty() || cert_id.empty() || key_id == cert_id) return "";
  return site.name + ": the key " + site.key.path.string() + " and the certificate " +
         served_certificate_path(site).string() + " do not match, and Apache would refuse to start with them (AH02565)";
}

// A copy of a file Apache now runs with, in the state directory (a record:
// 0600, a new file, ecertctl's own).
void keep_copy(ApplyRun& run, const fs::path& copy, const std::string& bytes) {
  FileSystem& fs = run.services.fs;
  Status s = fs.create_directories(copy.parent_path(), 0700);
  if (s) s = write_state_file(fs, copy, bytes);
  if (!s) run.report.errors.push_back("cannot keep a copy of what Apache runs with: " + s.message());
}

// The record of site `i` as the files are now; copies of the certificate
// and chain when they differ from the record's.
InstalledRecord record_now(ApplyRun& run, std::size_t i, bool wrote) {
  const Site& site = run.manifest.sites[i];
  const SiteFacts& f = run.observed.sites[i];
  if (!wrote) return InstalledRecord{f.key.file.digest, f.cert.file.digest, f.chain.digest};
  FileSystem& fs = run.services.fs;
  auto digest = [&](const fs::path& p) {
    auto data = fs.read_file(p);
    return data ? sha256_hex(*data) : std::string();
  };
  InstalledRecord rec{digest(site.key.path), "", ""};
  auto cert = fs.read_file(site.certificate);
  auto chain = fs.read_file(site.chain);
  if (cert) rec.certificate = sha256_hex(*cert);
  if (chain) rec.chain = sha256_hex(*chain);
  const bool same = f.installed && f.installed->certificate == rec.certificate && f.installed->chain == rec.chain;
  if (!same && cert) keep_copy(run, installed_certificate_copy(run.options.state_dir, site.name), *cert);
  if (!same && chain) keep_copy(run, installed_chain_copy(run.options.state_dir, rec.chain), *chain);
  return rec;
}

// A site whose renewal is due or staged needs the copy of the certificate
// Apache runs with (a renewed one may be placed over it): one converged
// before its record kept copies (an earlier ecertctl) gets it now.
void ensure_copy_for_renewal(ApplyRun& run, std::size_t i) {
  const RenewalState& rs = run.plan.sites[i].renewal;
  if (!rs.due_since && !rs.staged_since) return;
  const Site& site = run.manifest.sites[i];
  const fs::path copy = installed_certificate_copy(run.options.state_dir, site.name);
  if (run.services.fs.stat(copy).is_ok()) return;
  const auto& installed = run.observed.sites[i].installed;
  auto cert = run.services.fs.read_file(site.certificate);
  // Only the very certificate Apache was last restarted with is a fallback.
  if (cert && installed && sha256_hex(*cert) == installed->certificate) keep_copy(run, copy, *cert);
}

}  // namespace

Status check_pairs(ApplyRun& run) {
  std::vector<std::string> problems;
  for (std::size_t i = 0; i < run.manifest.sites.size(); ++i)
    if (serves_site_files(run, i))
      if (std::string p = pair_problem(run, i); !p.empty()) problems.push_back(p);
  if (problems.empty()) return Status::ok();
  std::string message = "refusing to restart Apache: ";
  for (std::size_t k = 0; k < problems.size(); ++k) message += (k ? "; " : "") + problems[k];
  return Status::invalid(message + ". Place the certificate issued for each key (or restore the key), then run again");
}

void record_installed(ApplyRun& run) {
  // When this run wrote nothing, the files are as observed: a converged
  // fleet whose record is current reads and writes nothing here.
  const bool wrote = !run.journal.empty() || !run.new_keys.empty() || run.plan.has_changes();
  InstalledState updates;
  bool differs = false;
  for (std::size_t i = 0; i < run.manifest.sites.size(); ++i) {
    const auto state = site_state(run.report, i);
    if (state != SitePlan::State::kConverged && state != SitePlan::State::kChanges) continue;
    InstalledRecord rec = record_now(run, i, wrote);
    ensure_copy_for_renewal(run, i);
    const auto& before = run.observed.sites[i].installed;
    differs |= !before || !(*before == rec);
    updates.emplace(run.manifest.sites[i].name, std::move(rec));
  }
  if (!differs) return;
  const InstalledState before = read_installed(run.services.fs, run.options.state_dir);
  InstalledState now = before;
  for (auto& [name, rec] : updates) now[name] = std::move(rec);
  if (now == before) return;
  if (Status s = write_state_file(run.services.fs, installed_state_path(run.options.state_dir), render_installed(now));
      !s)
    run.report.errors.push_back("cannot record what Apache runs with: " + s.message());
}

void remove_promoted_staged(ApplyRun& run) {
  for (std::size_t i = 0; i < run.manifest.sites.size(); ++i) {
    auto j = run.acting<PromoteKey>(i);
    if (!j || run.result(i, *j).outcome != Outcome::kDone) continue;
    const Site& site = run.manifest.sites[i];
    for (const fs::path& p : {site.key.path.path(), site.csr.path(), site.certificate.path()})
      if (Status s = run.services.fs.remove(staged_path(p)); !s)
        run.report.errors.push_back("the renewal is installed, but its staged file could not go: " + s.message());
  }
}

}  // namespace ecert
