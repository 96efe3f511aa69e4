// The Apache phase of apply: configtest, one restart, verify, and the
// rollback when any of them fails; then the record of what Apache runs with.
#include "engine/apply_run.h"
#include "engine/installed.h"
#include "engine/state_dir.h"
#include "util/digest.h"

namespace ecert {
namespace {

Status run_command(ApplyRun& run, const std::vector<std::string>& argv, const char* what) {
  const int timeout = run.manifest.apache.timeout_seconds;
  // The child sees PATH, LANG, LC_* and the names the manifest passes on: never the passphrase.
  auto res = run.services.runner.execute(
      CommandRequest{argv, std::chrono::seconds(timeout), run.manifest.apache.environment, ""});
  if (!res) return Status::io_error(std::string(what) + " could not run: " + res.status().message());
  std::string out = res->output;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (res->timed_out)
    return Status::timeout(std::string(what) + " (" + format_argv(argv) + ") did not finish within " +
                           std::to_string(timeout) +
                           "s and was stopped (is Apache waiting for a key passphrase? configure "
                           "SSLPassPhraseDialog exec:)" + (out.empty() ? "" : ":\n" + out));
  if (res->exit_code != 0)
    return Status::invalid(std::string(what) + " (" + format_argv(argv) + ") failed with exit code " +
                           std::to_string(res->exit_code) + (out.empty() ? "" : ":\n" + out));
  return Status::ok();
}

Status restart(ApplyRun& run) {
  for (const auto& argv : run.manifest.apache.restart)
    if (Status s = run_command(run, argv, "restart"); !s) return s;
  return Status::ok();
}

// Puts back every file the run changed, and marks every change Apache
// reads that was done as rolled back because `step` failed.
void roll_back(ApplyRun& run, ApacheStep step) {
  for (auto& e : run.journal.rollback()) run.report.errors.push_back(std::move(e));
  run.result().apache.rolled_back = true;
  for (std::size_t i = 0; i < run.plan.sites.size(); ++i)
    for (std::size_t j = 0; j < run.plan.sites[i].changes.size(); ++j) {
      ChangeResult& r = run.result(i, j);
      if (run.plan.sites[i].changes[j].apache_reads && r.outcome == Outcome::kDone) {
        r.outcome = Outcome::kRolledBack;
        r.rolled_back_by = step;
      }
    }
}

// The digest of a file as it is now: as observed when the run wrote
// nothing, else read again.
std::string digest_now(ApplyRun& run, bool wrote, const fs::path& path, const std::string& observed) {
  if (!wrote) return observed;
  auto data = run.services.fs.read_file(path);
  return data ? sha256_hex(*data) : std::string();
}

// Remembers what Apache now runs with, for the sites that are in place, so
// that a file replaced behind ecertctl's back later is noticed (engine/installed.h).
void record_installed(ApplyRun& run) {
  // When this run wrote nothing, the files are as observed: a converged
  // fleet whose record is current reads and writes nothing here.
  const bool wrote = !run.journal.empty() || !run.new_keys.empty() || run.plan.has_changes();
  InstalledState updates;
  bool differs = false;
  for (std::size_t i = 0; i < run.manifest.sites.size(); ++i) {
    const auto state = site_state(run.report, i);
    if (state != SitePlan::State::kConverged && state != SitePlan::State::kChanges) continue;
    const Site& site = run.manifest.sites[i];
    const SiteFacts& f = run.observed.sites[i];
    InstalledRecord rec{digest_now(run, wrote, site.key.path, f.key.file.digest),
                        digest_now(run, wrote, site.certificate, f.cert.file.digest),
                        digest_now(run, wrote, site.chain, f.chain.digest)};
    differs |= !f.installed || !(*f.installed == rec);
    updates.emplace(site.name, std::move(rec));
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

// Handshakes until the served chain matches, for a while: a graceful
// restart returns before Apache's new children serve the new files.
SiteVerify verify_site(ApplyRun& run, const Site& site) {
  ServedFacts served;
  for (int attempt = 0; attempt < 40; ++attempt) {
    served = run.services.tls.probe(site, std::chrono::milliseconds(3000));
    if (served.matches) break;
    run.services.clock.sleep_for(std::chrono::milliseconds(250));
  }
  return SiteVerify{site.name, served.matches, served.address + ": " + served.detail};
}

// Verifies every site with vhost.verify that is in place; false when one fails.
bool verify_step(ApplyRun& run) {
  bool ok = true;
  for (std::size_t i = 0; i < run.manifest.sites.size(); ++i) {
    const Site& site = run.manifest.sites[i];
    const auto state = site_state(run.report, i);
    if (!site.vhost.verify || state == SitePlan::State::kError || state == SitePlan::State::kPending) continue;
    SiteVerify v = verify_site(run, site);
    ok &= v.ok;
    run.result().verified.push_back(std::move(v));
  }
  return ok;
}

// Rolls back after a failed restart or verify, and restarts Apache on the
// restored files.
void restore_and_restart(ApplyRun& run, ApacheStep step, const std::string& what) {
  roll_back(run, step);
  Status again = restart(run);
  run.result().apache.error = what + "\nEvery file this run changed for Apache was restored" +
                              (again.is_ok() ? " and Apache restarted on them."
                                             : "; restarting Apache on them failed too: " + again.message());
}

bool reload_needed(const Plan& plan) {
  for (const auto& sp : plan.sites)
    for (const auto& c : sp.changes)
      if (c.acts() && c.get<Reload>()) return true;
  return false;
}

}  // namespace

void apache_step(ApplyRun& run) {
  for (auto& e : run.journal.undo_sites([&](std::size_t i) { return run.failed(i); }))
    run.report.errors.push_back(std::move(e));
  ApacheOutcome& apache = run.result().apache;
  if (run.journal.empty() && !reload_needed(run.plan)) return record_installed(run);
  apache.restart_needed = true;
  if (Status s = run_command(run, run.manifest.apache.configtest, "configtest"); !s) {
    roll_back(run, ApacheStep::kConfigtest);
    apache.error = s.message() + "\nEvery file this run changed for Apache was restored; Apache was not restarted.";
    return;
  }
  apache.configtest_ok = true;
  if (!run.options.restart) return record_installed(run);  // the caller restarts (an Ansible handler)
  if (Status s = restart(run); !s) return restore_and_restart(run, ApacheStep::kRestart, s.message());
  apache.restarted = true;
  if (!verify_step(run))
    return restore_and_restart(run, ApacheStep::kVerify,
                               "verify failed: Apache does not serve the installed certificate and chain");
  record_installed(run);
}

}  // namespace ecert
