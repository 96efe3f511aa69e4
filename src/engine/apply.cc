#include "engine/apply.h"

#include <malloc.h>

#include <unistd.h>

#include <map>
#include <set>
#include <optional>
#include <thread>

#include "apache/config.h"
#include "crypto/csr.h"
#include "crypto/key.h"
#include "crypto/x509.h"
#include "engine/keygen.h"
#include "engine/lock.h"
#include "engine/observe.h"
#include "engine/passphrase.h"
#include "engine/served.h"
#include "engine/vhost_edits.h"
#include "util/digest.h"
#include "util/time.h"

namespace ecert {
namespace {

std::string utc_stamp() { return format_utc(std::time(nullptr), "%Y%m%dT%H%M%SZ"); }

// A file this run replaced or created, with what to put back on rollback.
struct Written {
  fs::path path;
  std::optional<std::string> old;  // nullopt: the file did not exist
  mode_t mode = 0644;              // for recreating a file that is gone
  std::set<std::size_t> sites;     // the sites it was written for
};

class Applier {
 public:
  Applier(const Manifest& m, const Observed& obs, FileSystem& fs, CommandRunner& runner, const ApplyOptions& opt,
          Report& r)
      : m_(m), obs_(obs), fs_(fs), runner_(runner), opt_(opt), r_(r), stamp_(utc_stamp()) {}

  void run() {
    remove_leftover_temp_files();
    generate_keys_step();
    for (std::size_t i = 0; i < m_.sites.size(); ++i) site_files_step(i);
    vhost_step();
    apache_step();
  }

 private:
  SitePlan& sp(std::size_t i) { return r_.plan.sites[i]; }

  Change* find(std::size_t i, Operation op) {
    for (auto& c : sp(i).changes)
      if (c.op == op && (c.action == Action::kCreate || c.action == Action::kUpdate)) return &c;
    return nullptr;
  }

  // Marks `c` failed and every later change of the site as not done.
  void fail(std::size_t i, Change& c, const std::string& why) {
    c.action = Action::kError;
    c.reason = why;
    bool after = false;
    for (auto& other : sp(i).changes) {
      if (&other == &c) {
        after = true;
        continue;
      }
      if (after && (other.action == Action::kCreate || other.action == Action::kUpdate)) {
        other.action = Action::kError;
        other.reason = "not done: the " + std::string(resource_name(c.kind)) + " step failed";
      }
    }
  }
  bool failed(std::size_t i) const { return r_.plan.sites[i].has(Action::kError); }

  Result<SecretString> passphrase(const Site& site) {
    if (site.key.cipher == Cipher::kNone) return SecretString();
    return load_passphrase(site.key.passphrase, fs_);
  }

  Result<crypto::PrivateKey> load_key(const Site& site, const fs::path& path) {
    auto pass = passphrase(site);
    if (!pass) return pass.status();
    auto pem = fs_.read_file(path);
    if (!pem) return pem.status();
    SecretString secret(std::move(*pem));
    return crypto::PrivateKey::from_pem(secret.expose(), site.key.cipher == Cipher::kNone ? nullptr : &*pass);
  }

  // Keeps a copy of what is about to be replaced under the state directory.
  Status backup(const fs::path& real, const std::string& content) {
    const fs::path dest = opt_.state_dir / "backups" / stamp_ / real.relative_path();
    if (Status s = fs_.create_directories(dest.parent_path(), 0700); !s) return s;
    WriteOptions wo;
    wo.new_file_mode = 0600;
    return fs_.write_atomic(dest, content, wo);
  }

  // Replaces (or creates) a file Apache reads, remembering how to undo it.
  Status replace_apache_file(const fs::path& path, const std::string& data, mode_t new_mode,
                             const std::set<std::size_t>& sites) {
    auto real = fs_.write_target(path);
    if (!real) return real.status();
    Written w{*real, std::nullopt, new_mode, sites};
    auto old = fs_.read_file(*real);
    if (old) {
      if (*old == data) {
        // Already right, maybe written earlier in this run for another site
        // (a shared chain): this site now relies on that write too.
        for (auto& earlier : written_)
          if (earlier.path == *real) earlier.sites.insert(sites.begin(), sites.end());
        return Status::ok();
      }
      if (Status s = backup(*real, *old); !s) return s;
      w.old = std::move(*old);
    } else if (!old.status().is_not_found()) {
      return old.status();
    }
    if (Status s = fs_.create_directories(real->parent_path(), 0755); !s) return s;
    WriteOptions wo;
    wo.new_file_mode = new_mode;
    // Recorded before writing: a failure after the rename (syncing the
    // directory) leaves the new content in place, and it must be undone too.
    const std::string before = w.old.value_or("");
    written_.push_back(std::move(w));
    if (Status s = fs_.write_atomic(path, data, wo); !s) return s;
    if (opt_.diffs) r_.diffs.push_back(FileDiff{real->string(), before, data});
    return Status::ok();
  }

  // A run killed mid-write leaves ".NAME.ecertctl-tmp.XXXXXX" beside the
  // file it was replacing; the file itself is whole (old or new). Remove them.
  void remove_leftover_temp_files() {
    std::set<std::string> dirs;
    for (const auto& site : m_.sites)
      for (const fs::path& p : {site.key.path, site.csr, site.certificate, site.chain})
        dirs.insert(p.parent_path().string());
    for (const auto& [i, vh] : observed_vhosts_) {
      dirs.insert(fs::path(vh->real_file).parent_path().string());
      for (const auto& d : vh->ssl) dirs.insert(fs::path(d.real_file).parent_path().string());
    }
    dirs.insert(opt_.state_dir.string());
    for (const auto& dir : dirs) remove_temp_files_in(dir, 0);
    remove_temp_files_in(opt_.state_dir / "backups", 64);  // backups/<stamp>/<absolute path>
  }

  void remove_temp_files_in(const fs::path& dir, int depth) {
    auto names = fs_.list_dir(dir);
    if (!names) return;
    for (const auto& name : *names) {
      const fs::path p = dir / name;
      const auto mark = name.rfind(".ecertctl-tmp.");
      if (!name.empty() && name[0] == '.' && mark != std::string::npos && name.size() - mark == 20) {
        if (Status s = fs_.remove(p); !s) r_.errors.push_back(s.message());
      } else if (depth > 0) {
        auto info = fs_.stat(p);
        if (info && info->is_directory) remove_temp_files_in(p, depth - 1);
      }
    }
  }

  void generate_keys_step() {
    std::vector<std::size_t> sites;
    std::vector<int> bits;
    for (std::size_t i = 0; i < m_.sites.size(); ++i)
      if (find(i, Operation::kGenerateKey)) {
        sites.push_back(i);
        bits.push_back(m_.sites[i].key.bits);
      }
    if (sites.empty()) return;
    auto keys = generate_keys(bits, opt_.progress);
    for (std::size_t k = 0; k < sites.size(); ++k) {
      const std::size_t i = sites[k];
      const Site& site = m_.sites[i];
      Change& c = *find(i, Operation::kGenerateKey);
      if (!keys[k]) {
        fail(i, c, "cannot generate the key: " + keys[k].status().message());
        continue;
      }
      auto pass = passphrase(site);
      if (!pass) {
        fail(i, c, pass.status().message());
        continue;
      }
      auto pem = keys[k]->to_pem(site.key.cipher, site.key.cipher == Cipher::kNone ? nullptr : &*pass);
      if (!pem) {
        fail(i, c, "cannot encrypt the key: " + pem.status().message());
        continue;
      }
      if (Status s = fs_.create_directories(site.key.path.parent_path(), 0700); !s) {
        fail(i, c, s.message());
        continue;
      }
      if (Status s = fs_.create_exclusive(site.key.path, pem->expose(), 0600); !s) {
        fail(i, c, s.message());
        continue;
      }
      new_keys_.emplace(i, std::move(*keys[k]));
    }
  }

  void site_files_step(std::size_t i) {
    const Site& site = m_.sites[i];
    if (failed(i)) return;
    for (const auto& c : sp(i).changes) reload_needed_ |= c.op == Operation::kReload && c.action == Action::kUpdate;

    if (Change* c = find(i, Operation::kPromoteStaged)) {
      if (Status s = promote(i, site); !s) return fail(i, *c, s.message());
    }
    if (Change* c = find(i, Operation::kWriteCsr)) {
      if (Status s = write_csr(i, site); !s) return fail(i, *c, s.message());
    }
    if (Change* c = find(i, Operation::kConvertToPem)) {
      auto data = fs_.read_file(site.certificate);
      if (!data) return fail(i, *c, data.status().message());
      auto cert = crypto::Certificate::parse(*data);
      if (!cert) return fail(i, *c, cert.status().message());
      if (Status s = replace_apache_file(site.certificate, cert->pem(), 0644, {i}); !s) return fail(i, *c, s.message());
    }
    if (Change* c = find(i, Operation::kWriteChain)) {
      auto sub = fs_.read_file(site.ca.sub.front());
      auto cross = fs_.read_file(site.ca.cross);
      if (!sub) return fail(i, *c, sub.status().message());
      if (!cross) return fail(i, *c, cross.status().message());
      auto sub_cert = crypto::Certificate::parse(*sub);
      auto cross_cert = crypto::Certificate::parse(*cross);
      if (!sub_cert || !cross_cert) return fail(i, *c, "a CA file changed while ecertctl ran; run again");
      if (Status s = replace_apache_file(site.chain, sub_cert->pem() + cross_cert->pem(), 0644, {i}); !s)
        return fail(i, *c, s.message());
    }
  }

  Status promote(std::size_t i, const Site& site) {
    const fs::path live = site.key.path;
    const fs::path staged = staged_path(live);
    auto old = fs_.read_file(live);
    if (!old) return old.status();
    auto fresh = fs_.read_file(staged);
    if (!fresh) return fresh.status();
    SecretString old_key(std::move(*old)), new_key(std::move(*fresh));
    const fs::path kept = live.string() + ".old-" + stamp_;
    if (Status s = fs_.create_exclusive(kept, old_key.expose(), 0600); !s) return s;
    if (Status s = fs_.rename(staged, live); !s) return s;
    written_.push_back(Written{live, old_key.expose(), 0600, {i}});
    written_.push_back(Written{staged, new_key.expose(), 0600, {i}});
    promoted_.insert(site.name);
    return Status::ok();
  }

  Status write_csr(std::size_t i, const Site& site) {
    const crypto::NameEntries subject = crypto::ecert_subject(site.organization, site.name);
    std::optional<crypto::PrivateKey> loaded;
    const crypto::PrivateKey* key = nullptr;
    if (auto it = new_keys_.find(i); it != new_keys_.end()) {
      key = &it->second;
    } else {
      auto k = load_key(site, site.key.path);  // after a promotion this is the new key
      if (!k) return k.status();
      loaded.emplace(std::move(*k));
      key = &*loaded;
    }
    if (promoted_.count(site.name)) {
      // Keep the CSR that went to the CA when it is right for the key.
      auto staged = fs_.read_file(staged_path(site.csr));
      if (staged) {
        auto info = crypto::parse_csr(*staged);
        if (info && info->subject == subject && info->public_key_der == key->public_key_der()) {
          WriteOptions wo;
          if (Status s = fs_.write_atomic(site.csr, *staged, wo); !s) return s;
          return fs_.remove(staged_path(site.csr));
        }
      }
    }
    auto pem = crypto::make_csr_pem(*key, subject);
    if (!pem) return pem.status();
    if (Status s = fs_.create_directories(site.csr.parent_path(), 0755); !s) return s;
    return fs_.write_atomic(site.csr, *pem);
  }

  void vhost_step() {
    for (auto& [name, fe] : group_vhost_edits(m_, r_.plan, observed_vhosts_)) {
      auto fail_all = [&](const std::string& why) {
        for (std::size_t i : fe.sites)
          if (Change* c = find(i, Operation::kPatchVhost)) fail(i, *c, why);
      };
      auto content = fs_.read_file(fe.path);
      if (!content) {
        fail_all(content.status().message());
        continue;
      }
      auto it = r_.plan.inputs.find(fe.path.string());
      if (it != r_.plan.inputs.end() && it->second != sha256_hex(*content)) {
        fail_all(fe.path.string() + " changed while ecertctl ran; run again");
        continue;
      }
      auto patched = apply_file_edits(*content, fe);
      if (!patched) {
        fail_all(patched.status().message());
        continue;
      }
      if (Status s = replace_apache_file(fe.path, *patched, 0644, fe.sites); !s) fail_all(s.message());
    }
  }

  // Puts back every file this run replaced, newest first.
  void rollback() {
    for (auto it = written_.rbegin(); it != written_.rend(); ++it) restore(*it);
    r_.apache.rolled_back = true;
  }

  // Puts one file back as it was before this run (or removes it if new).
  void restore(const Written& w) {
    WriteOptions wo;
    wo.new_file_mode = w.mode;
    Status s = w.old ? fs_.write_atomic(w.path, *w.old, wo) : fs_.remove(w.path);
    if (!s) r_.errors.push_back("rollback of " + w.path.string() + " failed: " + s.message());
  }

  // Marks every applied change Apache reads as rolled back.
  void fail_apache_changes(const std::string& why) {
    for (std::size_t i = 0; i < m_.sites.size(); ++i)
      for (auto& c : sp(i).changes)
        if (c.apache_reads && (c.action == Action::kCreate || c.action == Action::kUpdate)) {
          c.action = Action::kError;
          c.reason = "rolled back: " + why;
        }
  }

  Status run_command(const std::vector<std::string>& argv, const char* what) {
    auto res = runner_.run(argv, std::chrono::seconds(m_.apache.timeout_seconds));
    if (!res) return Status::io_error(std::string(what) + " could not run: " + res.status().message());
    std::string out = res->output;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    if (res->timed_out)
      return Status::timeout(std::string(what) + " (" + format_argv(argv) + ") did not finish within " +
                             std::to_string(m_.apache.timeout_seconds) +
                             "s and was stopped (is Apache waiting for a key passphrase? configure "
                             "SSLPassPhraseDialog exec:)" + (out.empty() ? "" : ":\n" + out));
    if (res->exit_code != 0)
      return Status::invalid(std::string(what) + " (" + format_argv(argv) + ") failed with exit code " +
                             std::to_string(res->exit_code) + (out.empty() ? "" : ":\n" + out));
    return Status::ok();
  }

  Status restart() {
    for (const auto& argv : m_.apache.restart)
      if (Status s = run_command(argv, "restart"); !s) return s;
    return Status::ok();
  }

  // Remembers what Apache now runs with, for sites that are in place, so a
  // file replaced behind ecertctl's back later is noticed (engine/installed.h).
  void record_installed() {
    // When this run wrote nothing, the files are as observed: a converged
    // fleet whose record is current reads and writes nothing here.
    const bool wrote = !written_.empty() || !promoted_.empty() || !new_keys_.empty();
    InstalledState updates;
    bool differs = false;
    for (std::size_t i = 0; i < m_.sites.size(); ++i) {
      const auto state = sp(i).state();
      if (state != SitePlan::State::kConverged && state != SitePlan::State::kChanges) continue;
      const Site& site = m_.sites[i];
      const SiteFacts& f = obs_.sites[i];
      auto digest = [&](const fs::path& p, const FileFacts& seen) {
        if (!wrote) return seen.digest;
        auto data = fs_.read_file(p);
        return data ? sha256_hex(*data) : std::string();
      };
      InstalledRecord rec{digest(site.key.path, f.key.file), digest(site.certificate, f.cert.file),
                          digest(site.chain, f.chain)};
      differs |= !f.installed || !(*f.installed == rec);
      updates.emplace(site.name, std::move(rec));
    }
    if (!differs) return;
    const InstalledState before = read_installed(fs_, opt_.state_dir);
    InstalledState now = before;
    for (auto& [name, rec] : updates) now[name] = std::move(rec);
    if (now == before) return;
    WriteOptions wo;
    wo.new_file_mode = 0600;
    if (Status s = fs_.write_atomic(installed_state_path(opt_.state_dir), render_installed(now), wo); !s)
      r_.errors.push_back("cannot record what Apache runs with: " + s.message());
  }

  // Puts back what was written for sites that then failed (and for no site
  // that succeeded): a site whose vhost could not be written must not be
  // left with a new chain Apache would load at the next restart.
  void undo_failed_sites() {
    std::vector<Written> kept;
    std::set<std::string> kept_paths;
    for (auto it = written_.rbegin(); it != written_.rend(); ++it) {
      bool all_failed = !it->sites.empty();
      for (std::size_t i : it->sites) all_failed &= failed(i);
      if (!all_failed) {
        kept_paths.insert(it->path.string());
        kept.push_back(std::move(*it));
        continue;
      }
      // A later write for a site that succeeded owns the file now (a chain
      // file two sites share, written by the second after the first failed).
      if (kept_paths.count(it->path.string())) continue;
      restore(*it);
    }
    written_.assign(std::make_move_iterator(kept.rbegin()), std::make_move_iterator(kept.rend()));
  }

  void apache_step() {
    undo_failed_sites();
    if (written_.empty() && !reload_needed_) {
      record_installed();
      return;
    }
    r_.apache.restart_needed = true;
    if (Status s = run_command(m_.apache.configtest, "configtest"); !s) {
      rollback();
      r_.apache.error = s.message() + "\nEvery file this run changed for Apache was restored; Apache was not restarted.";
      fail_apache_changes("configtest failed");
      return;
    }
    r_.apache.configtest_ok = true;
    if (!opt_.restart) {
      record_installed();  // the caller restarts (an Ansible handler)
      return;
    }
    if (Status s = restart(); !s) {
      rollback();
      Status again = restart();
      r_.apache.error = s.message() + "\nEvery file this run changed for Apache was restored" +
                        (again.is_ok() ? " and Apache restarted on them." : "; restarting on them failed too: " + again.message());
      fail_apache_changes("restart failed");
      return;
    }
    r_.apache.restarted = true;
    verify_step();
  }

  void verify_step() {
    bool any_failed = false;
    for (std::size_t i = 0; i < m_.sites.size(); ++i) {
      const Site& site = m_.sites[i];
      if (!site.vhost.verify || failed(i) || sp(i).state() == SitePlan::State::kPending) continue;
      SiteVerify v{site.name, false, ""};
      v.detail = verify_site(site, v.ok);
      any_failed |= !v.ok;
      r_.verified.push_back(std::move(v));
    }
    if (!any_failed) {
      record_installed();
      return;
    }
    rollback();
    Status again = restart();
    r_.apache.error = "verify failed: Apache does not serve the installed certificate and chain; every file this run "
                      "changed for Apache was restored" +
                      std::string(again.is_ok() ? " and Apache restarted on them" : ", restarting failed: " + again.message());
    fail_apache_changes("verify failed");
  }

  // Handshakes until the served chain matches, for a while: a graceful
  // restart returns before Apache's new children serve the new files.
  std::string verify_site(const Site& site, bool& ok) {
    ServedFacts served;
    for (int attempt = 0; attempt < 40; ++attempt) {
      served = probe_served(site, fs_, std::chrono::milliseconds(3000));
      if (served.matches) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    ok = served.matches;
    return served.address + ": " + served.detail;
  }

 public:
  // Pointing into the Observed's Apache configuration, which outlives the Applier.
  std::map<std::size_t, const apache::VirtualHost*> observed_vhosts_;

 private:
  const Manifest& m_;
  const Observed& obs_;
  FileSystem& fs_;
  CommandRunner& runner_;
  const ApplyOptions& opt_;
  Report& r_;
  const std::string stamp_;
  std::map<std::size_t, crypto::PrivateKey> new_keys_;
  std::set<std::string> promoted_;
  std::vector<Written> written_;
  bool reload_needed_ = false;
};

}  // namespace

void attach_installed(const Manifest& manifest, const FileSystem& fs, const fs::path& state_dir, Observed& obs) {
  const fs::path path = installed_state_path(state_dir);
  auto text = fs.read_file(path);
  obs.inputs[path.string()] = text ? sha256_hex(*text) : "absent";
  if (!text) return;
  InstalledState state = read_installed(fs, state_dir);
  for (std::size_t i = 0; i < manifest.sites.size(); ++i)
    if (auto it = state.find(manifest.sites[i].name); it != state.end()) obs.sites[i].installed = it->second;
}

namespace {


// What the chain and vhost files would become: the same edits apply makes,
// computed in memory.
std::vector<FileDiff> predict_diffs(const Manifest& manifest, const Observed& obs, const Plan& plan,
                                    const FileSystem& fs) {
  std::vector<FileDiff> out;
  auto current = [&](const fs::path& p) {
    auto data = fs.read_file(p);
    return data ? std::move(*data) : std::string();
  };
  std::map<std::size_t, const apache::VirtualHost*> vhosts;
  for (std::size_t i = 0; i < manifest.sites.size(); ++i) {
    if (obs.sites[i].vhost.vhost) vhosts.emplace(i, obs.sites[i].vhost.vhost);
    for (const auto& c : plan.sites[i].changes) {
      if (c.action != Action::kCreate && c.action != Action::kUpdate) continue;
      if (c.op == Operation::kWriteChain)
        out.push_back(FileDiff{c.path, current(c.path), obs.sites[i].ca.chain_pem ? *obs.sites[i].ca.chain_pem : ""});
      if (c.op == Operation::kConvertToPem)
        out.push_back(FileDiff{c.path, "(DER certificate)", obs.sites[i].cert.pem});
    }
  }
  for (auto& [name, fe] : group_vhost_edits(manifest, plan, vhosts)) {
    std::string before = current(fe.path);
    auto after = apply_file_edits(before, fe);
    if (after) out.push_back(FileDiff{fe.path.string(), before, *after});
  }
  // Two sites sharing one chain file predict it twice; keep one.
  std::set<std::string> paths;
  std::vector<FileDiff> unique;
  for (auto& d : out)
    if (paths.insert(d.path).second) unique.push_back(std::move(d));
  return unique;
}

}  // namespace

namespace {

// Rewrites the facts cache when this run proved something new or stopped
// needing an entry. A run narrowed to some sites keeps the others' entries.
Status remember_facts(FileSystem& fs, const ApplyOptions& options, const FactsCache& before, FactsUse&& use) {
  std::optional<FactsCache> next = next_facts_cache(before, std::move(use), options.narrowed);
  if (!next) return Status::ok();
  WriteOptions wo;
  wo.new_file_mode = 0600;
  return fs.write_atomic(facts_cache_path(options.state_dir), render_facts_cache(*next), wo);
}

}  // namespace

Report plan_only(const Manifest& manifest, const FileSystem& fs, const ApplyOptions& options) {
  Report r;
  r.command = "plan";
  r.dry_run = true;
  Observed obs = observe_with_cache(manifest, fs, options.state_dir);
  attach_installed(manifest, fs, options.state_dir, obs);
  r.plan = make_plan(manifest, obs, options.manifest_arg);
  r.plan.inputs = std::move(obs.inputs);
  r.apache.restart_needed = r.plan.restart;
  if (options.diffs) r.diffs = predict_diffs(manifest, obs, r.plan, fs);
  return r;
}

Report apply(const Manifest& manifest, FileSystem& fs, CommandRunner& runner, const ApplyOptions& options) {
  if (options.dry_run) {
    Report r = plan_only(manifest, fs, options);
    r.command = "apply";
    return r;
  }
  Report r;
  r.command = "apply";
  auto lock = RunLock::acquire(options.state_dir, options.lock_wait);
  if (!lock) {
    r.errors.push_back(lock.status().message());
    return r;
  }
  Observed obs;
  {
    const FactsCache cache = read_facts_cache(fs, options.state_dir);
    obs = observe(manifest, fs, ObserveOptions{0, &cache});
    // Before anything changes: a disk too full for the cache is too full
    // for the run, and stopping here leaves every file as it was. The cache
    // (a fleet's worth of facts) is not needed past this block.
    if (Status s = remember_facts(fs, options, cache, std::move(obs.facts)); !s) {
      r.errors.push_back("cannot record the verified facts, so nothing was done: " + s.message());
      return r;
    }
    obs.facts = FactsUse{};  // its addresses pointed into the cache
  }
  // The cache, its rendering and the workers' transient allocations are
  // freed by now: hand their pages back, so that acting does not stack on
  // top of them (peak memory of a fleet's first run).
  malloc_trim(0);
  attach_installed(manifest, fs, options.state_dir, obs);
  r.plan = make_plan(manifest, obs, options.manifest_arg);
  r.plan.inputs = std::move(obs.inputs);
  if (options.saved_plan) {
    std::vector<std::string> changed;
    const auto& before = options.saved_plan->inputs;
    const auto& now = r.plan.inputs;
    for (const auto& [path, digest] : now) {
      auto it = before.find(path);
      if (it == before.end() || it->second != digest) changed.push_back(path);
    }
    for (const auto& [path, digest] : before)
      if (!now.count(path)) changed.push_back(path);
    if (!changed.empty()) {
      std::string list;
      for (std::size_t k = 0; k < changed.size() && k < 10; ++k) list += "\n  " + changed[k];
      if (changed.size() > 10) list += "\n  (" + std::to_string(changed.size() - 10) + " more)";
      r.errors.push_back("the saved plan is stale: " + std::to_string(changed.size()) +
                         " input(s) changed since it was made; nothing was done. Make a new plan." + list);
      r.plan = Plan{};  // nothing of it was done: report no changes
      return r;
    }
  }
  Applier applier(manifest, obs, fs, runner, options, r);
  for (std::size_t i = 0; i < manifest.sites.size(); ++i)
    if (obs.sites[i].vhost.vhost) applier.observed_vhosts_.emplace(i, obs.sites[i].vhost.vhost);
  applier.run();
  return r;
}

}  // namespace ecert
