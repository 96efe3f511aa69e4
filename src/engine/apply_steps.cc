// The steps of apply that write files: keys, CSRs, certificates, chains and
// the Apache configuration, each exactly as the plan's payloads say.
#include <set>

#include "crypto/csr.h"
#include "engine/apply_run.h"
#include "engine/passphrase.h"
#include "engine/staging.h"
#include "engine/state_dir.h"
#include "util/digest.h"

namespace ecert {

bool ApplyRun::failed(std::size_t site) const {
  if (plan.sites[site].has(Action::kError)) return true;
  for (const auto& r : report.applied->changes[site])
    if (r.outcome == Outcome::kFailed || r.outcome == Outcome::kNotAttempted) return true;
  return false;
}

void ApplyRun::fail(std::size_t site, std::size_t change, Status why) {
  ChangeResult& r = result(site, change);
  r.outcome = Outcome::kFailed;
  r.status = std::move(why);
  const auto& changes = plan.sites[site].changes;
  for (std::size_t j = change + 1; j < changes.size(); ++j)
    if (changes[j].acts()) {
      result(site, j).outcome = Outcome::kNotAttempted;
      result(site, j).after = changes[change].kind;
    }
}

namespace {

Result<SecretString> passphrase_for(const Site& site, const FileSystem& fs) {
  if (site.key.cipher == Cipher::kNone) return SecretString();
  return load_passphrase(site.key.passphrase, fs);
}

const SecretString* or_null(const Site& site, const SecretString& pass) {
  return site.key.cipher == Cipher::kNone ? nullptr : &pass;
}

Result<crypto::PrivateKey> load_key(const Site& site, const FileSystem& fs, const fs::path& path) {
  auto pass = passphrase_for(site, fs);
  if (!pass) return pass.status();
  auto pem = fs.read_file(path);
  if (!pem) return pem.status();
  SecretString secret(std::move(*pem));
  return crypto::PrivateKey::from_pem(secret.expose(), or_null(site, *pass));
}

bool is_leftover_temp(const std::string& name) {
  const auto mark = name.rfind(".ecertctl-tmp.");
  return !name.empty() && name[0] == '.' && mark != std::string::npos && name.size() - mark == 20;
}

void remove_temp_files_in(ApplyRun& run, const fs::path& dir, int depth) {
  FileSystem& fs = run.services.fs;
  auto names = fs.list_dir(dir);
  if (!names) return;
  for (const auto& name : *names) {
    const fs::path p = dir / name;
    if (is_leftover_temp(name)) {
      if (Status s = fs.remove(p); !s) run.report.errors.push_back(s.message());
    } else if (depth > 0) {
      auto info = fs.stat(p);
      if (info && info->is_directory) remove_temp_files_in(run, p, depth - 1);
    }
  }
}

// Writes one new key, as the payload says, and keeps it for its CSR.
Status write_new_key(ApplyRun& run, std::size_t i, Result<crypto::PrivateKey>& key, const NewKey& spec) {
  const Site& site = run.manifest.sites[i];
  FileSystem& fs = run.services.fs;
  if (!key) return Status::invalid("cannot generate the key: " + key.status().message());
  auto pass = passphrase_for(site, fs);
  if (!pass) return pass.status();
  auto pem = key->to_pem(spec.cipher, or_null(site, *pass));
  if (!pem) return Status::invalid("cannot encrypt the key: " + pem.status().message());
  if (Status s = fs.create_directories(site.key.path.parent_path(), 0700); !s) return s;
  if (Status s = fs.create_exclusive(site.key.path, pem->expose(), 0600); !s) return s;
  run.new_keys.emplace(i, std::move(*key));
  return Status::ok();
}

Status write_file(ApplyRun& run, std::size_t i, const Change& c, const WriteFile& p);

// A copy of `path` as it is now, as <path>.old-<stamp> (never over a file).
Status keep_old(ApplyRun& run, const fs::path& path, std::string_view bytes, mode_t mode) {
  auto stamp = run.journal.stamp();
  if (!stamp) return stamp.status();
  return run.services.fs.create_exclusive(path.string() + ".old-" + *stamp, bytes, mode);
}

mode_t mode_of(const FileSystem& fs, const fs::path& path, mode_t otherwise) {
  auto info = fs.stat(path);
  return info ? info->mode : otherwise;
}

// Renewal: the staged key's bytes become the live key's; the live key is
// kept as <key>.old-<stamp>. The staged key stays until the promotion is
// verified. Journaled, so a rollback puts the previous key back.
Status promote_key(ApplyRun& run, std::size_t i, const PromoteKey& p) {
  FileSystem& fs = run.services.fs;
  const fs::path live = run.manifest.sites[i].key.path;
  auto old = fs.read_file(live);
  if (!old) return old.status();
  SecretString old_key(std::move(*old));
  auto fresh = fs.read_file(p.staged);
  if (!fresh) return fresh.status();
  SecretString new_key(std::move(*fresh));
  if (Status s = keep_old(run, live, old_key.expose(), 0600); !s) return s;
  run.journal.record(live, std::move(old_key), 0600, {i});
  return fs.write_atomic(live, new_key.expose());
}

// The staged CSR becomes the live one (journaled: it goes with the key).
Status promote_csr(ApplyRun& run, std::size_t i, const PromoteCsr& p) {
  FileSystem& fs = run.services.fs;
  const fs::path live = run.manifest.sites[i].csr;
  auto staged = fs.read_file(p.staged);
  if (!staged) return staged.status();
  auto old = fs.read_file(live);
  if (!old && !old.status().is_not_found()) return old.status();
  run.journal.record(live, old ? std::optional<SecretString>(SecretString(std::move(*old))) : std::nullopt,
                     mode_of(fs, live, 0644), {i});
  return fs.write_atomic(live, *staged);
}

// The renewed certificate becomes the live one; the previous one is kept as
// <certificate>.old-<stamp> and is what a rollback puts back.
Status promote_certificate(ApplyRun& run, std::size_t i, const Change& c, const PromoteCertificate& p) {
  FileSystem& fs = run.services.fs;
  const fs::path live = run.manifest.sites[i].certificate;
  const mode_t mode = mode_of(fs, live, 0644);
  if (!p.staged.empty()) {
    auto renewed = fs.read_file(p.staged);
    if (!renewed) return renewed.status();
    auto previous = fs.read_file(live);
    if (previous)
      if (Status s = keep_old(run, live, *previous, mode); !s) return s;
    auto bytes = p.pem ? p.pem : std::make_shared<const std::string>(std::move(*renewed));
    return write_file(run, i, c, WriteFile{bytes, {p.staged}});
  }
  // Placed over the live one by the operator: keep it at <certificate>.new
  // until verified, and put the copy of the previous one back on rollback.
  auto renewed = fs.read_file(live);
  if (!renewed) return renewed.status();
  const std::string staged = staged_path(live);
  if (auto there = fs.read_file(staged); !there || *there != *renewed)
    if (Status s = fs.write_atomic(staged, *renewed, WriteOptions{mode, true}); !s) return s;
  auto previous = read_state_file(fs, p.previous);  // the copy of what Apache ran with
  if (!previous) return previous.status();
  if (Status s = keep_old(run, live, *previous, mode); !s) return s;
  run.journal.record(live, SecretString(std::move(*previous)), mode, {i});
  return p.pem ? fs.write_atomic(live, *p.pem) : Status::ok();  // Apache reads PEM
}

Status write_csr(ApplyRun& run, std::size_t i, const NewCsr& p) {
  const Site& site = run.manifest.sites[i];
  FileSystem& fs = run.services.fs;
  std::optional<crypto::PrivateKey> loaded;
  const crypto::PrivateKey* key = nullptr;
  if (auto it = run.new_keys.find(i); p.key == KeyRole::kNew && it != run.new_keys.end()) {
    key = &it->second;
  } else {
    auto k = load_key(site, fs, site.key.path);  // after a promotion this is the promoted key
    if (!k) return k.status();
    key = &loaded.emplace(std::move(*k));
  }
  auto pem = crypto::make_csr_pem(*key, p.subject);
  if (!pem) return pem.status();
  if (Status s = fs.create_directories(site.csr.parent_path(), 0755); !s) return s;
  return fs.write_atomic(site.csr, *pem);
}

Status write_file(ApplyRun& run, std::size_t i, const Change& c, const WriteFile& p) {
  if (p.keep_old)
    if (auto current = run.services.fs.read_file(c.path); current && *current != *p.bytes)
      if (Status s = keep_old(run, c.path, *current, mode_of(run.services.fs, c.path, 0644)); !s) return s;
  FileDiff diff;
  Status s = run.journal.replace(c.path, *p.bytes, 0644, {i}, run.options.diffs ? &diff : nullptr);
  if (s && run.options.diffs && !diff.path.empty()) run.report.diffs.push_back(std::move(diff));
  return s;
}

Status remove_staged(ApplyRun& run, const RemoveStaged& p) {
  for (const auto& path : p.paths)
    if (Status s = run.services.fs.remove(path); !s) return s;
  return Status::ok();
}

// Executes one change of a site, by its payload.
Status execute(ApplyRun& run, std::size_t i, const Change& c) {
  if (auto* p = c.get<PromoteKey>()) return promote_key(run, i, *p);
  if (c.get<StageRenewal>()) return stage_renewal(run.services.fs, run.manifest.sites[i], std::nullopt).status();
  if (auto* p = c.get<NewCsr>()) return write_csr(run, i, *p);
  if (auto* p = c.get<PromoteCsr>()) return promote_csr(run, i, *p);
  if (auto* p = c.get<PromoteCertificate>()) return promote_certificate(run, i, c, *p);
  if (auto* p = c.get<RemoveStaged>()) return remove_staged(run, *p);
  if (auto* p = c.get<WriteFile>()) return write_file(run, i, c, *p);
  return Status::ok();  // a reload writes nothing; new keys and config writes have steps of their own
}

}  // namespace

void remove_leftover_temp_files(ApplyRun& run) {
  std::set<std::string> dirs;
  for (const auto& site : run.manifest.sites)
    for (const fs::path& p : {site.key.path.path(), site.csr.path(), site.certificate.path(), site.chain.path()})
      dirs.insert(p.parent_path().string());
  for (const auto& f : run.observed.sites)
    if (const apache::VirtualHost* vh = f.vhost.vhost) {
      dirs.insert(fs::path(vh->real_file).parent_path().string());
      for (const auto& d : vh->ssl) dirs.insert(fs::path(d.real_file).parent_path().string());
    }
  dirs.insert(run.options.state_dir.string());
  dirs.insert((run.options.state_dir / "installed").string());
  for (const auto& dir : dirs) remove_temp_files_in(run, dir, 0);
  remove_temp_files_in(run, run.options.state_dir / kBackupsName, 64);  // backups/<stamp>/<absolute path>
}

namespace {

// A change that needs a key generated in this run: a first key, or the
// key of a renewal staged now.
bool needs_new_key(const Change& c) {
  const auto* stage = c.get<StageRenewal>();
  return c.acts() && (c.get<NewKey>() || (stage && stage->new_key));
}

// Writes a key generated for change `j` of site `i`, as its payload says.
Status use_new_key(ApplyRun& run, std::size_t i, std::size_t j, Result<crypto::PrivateKey>& key) {
  const Change& c = run.plan.sites[i].changes[j];
  if (auto* p = c.get<NewKey>()) return write_new_key(run, i, key, *p);
  if (!key) return Status::invalid("cannot generate the staged key: " + key.status().message());
  return stage_renewal(run.services.fs, run.manifest.sites[i], std::move(*key)).status();
}

}  // namespace

void generate_keys_step(ApplyRun& run) {
  std::vector<std::pair<std::size_t, std::size_t>> wanted;  // (site, change)
  std::vector<int> bits;
  for (std::size_t i = 0; i < run.plan.sites.size(); ++i)
    for (std::size_t j = 0; j < run.plan.sites[i].changes.size(); ++j)
      if (needs_new_key(run.plan.sites[i].changes[j])) {
        wanted.emplace_back(i, j);
        bits.push_back(run.manifest.sites[i].key.bits);
      }
  if (wanted.empty()) return;
  auto keys = run.services.keys.generate(bits, run.options.progress);
  for (std::size_t k = 0; k < wanted.size(); ++k) {
    const auto [i, j] = wanted[k];
    Status s = use_new_key(run, i, j, keys[k]);
    if (s) run.done(i, j);
    else run.fail(i, j, std::move(s));
  }
}

void site_files_step(ApplyRun& run, std::size_t i) {
  const auto& changes = run.plan.sites[i].changes;
  const Change* planned_error = nullptr;
  for (const auto& c : changes)
    if (c.action == Action::kError && !planned_error) planned_error = &c;
  for (std::size_t j = 0; j < changes.size(); ++j) {
    const Change& c = changes[j];
    if (!c.acts() || needs_new_key(c)) continue;
    if (planned_error && (c.apache_reads || c.undone_on_rollback)) {
      // Nothing Apache reads (or a promotion) changes for a site in error; its CSR still does.
      ChangeResult& r = run.result(i, j);
      r.outcome = Outcome::kNotAttempted;
      r.after = planned_error->kind;
      r.after_planned_error = true;
      continue;
    }
    if (c.get<EditConfig>()) continue;  // config_writes_step
    if (run.failed(i) && !planned_error) return;
    if (Status s = execute(run, i, c); !s) return run.fail(i, j, std::move(s));
    run.done(i, j);
  }
}

namespace {

// The bytes to write for `w`: as planned, or, when some of its sites
// failed earlier in the run, made again from the observed bytes without
// their edits (a failed site's vhost is never pointed at files that
// were not written).
Result<std::string> config_bytes(ApplyRun& run, const ConfigWrite& w, const std::vector<std::size_t>& sites) {
  auto content = run.services.fs.read_file(w.path);
  if (!content) return content.status();
  if (sha256_hex(*content) != w.before_digest)
    return Status::conflict(w.path + " changed while ecertctl ran; run again");
  if (sites.size() == w.sites.size()) return w.after;
  return edit_config(w, *content, [&](std::size_t i) { return !run.failed(i); });
}

}  // namespace

void config_writes_step(ApplyRun& run) {
  for (const ConfigWrite& w : run.plan.config_writes) {
    std::vector<std::size_t> sites;
    for (std::size_t i : w.sites)
      if (!run.failed(i)) sites.push_back(i);
    if (sites.empty()) continue;
    auto bytes = config_bytes(run, w, sites);
    FileDiff diff;
    Status s = !bytes ? bytes.status()
                      : run.journal.replace(w.path, *bytes, 0644, {sites.begin(), sites.end()},
                                            run.options.diffs ? &diff : nullptr);
    if (s && run.options.diffs && !diff.path.empty()) run.report.diffs.push_back(std::move(diff));
    for (std::size_t i : sites)
      if (auto j = run.acting<EditConfig>(i)) {
        if (s) run.done(i, *j);
        else run.fail(i, *j, s);
      }
  }
}

}  // namespace ecert
