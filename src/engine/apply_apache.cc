// The Apache phase of apply: configtest, one restart, verify, and the
// rollback when any of them fails; then the record of what Apache runs with.
#include <optional>

#include "engine/apply_run.h"

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
      const Change& c = run.plan.sites[i].changes[j];
      if ((c.apache_reads || c.undone_on_rollback) && r.outcome == Outcome::kDone) {
        r.outcome = Outcome::kRolledBack;
        r.rolled_back_by = step;
      }
    }
}

// Handshakes until the served chain matches, for up to apache.timeout (every
// 250 ms): a graceful restart returns before Apache's new children serve the
// new files, and after `apachectl stop; apachectl start` a loaded server may
// take seconds to listen.
SiteVerify verify_site(ApplyRun& run, const Site& site) {
  ServedFacts served;
  const int attempts = run.manifest.apache.timeout_seconds * 4;
  for (int attempt = 0; attempt < attempts; ++attempt) {
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

// Whether Apache answers after a restart on restored files: a handshake
// with any site that has vhost.verify; nullopt when no site has one to ask.
std::optional<bool> answers(ApplyRun& run) {
  std::optional<bool> up;
  for (const auto& site : run.manifest.sites) {
    if (!site.vhost.verify) continue;
    up = false;
    for (int attempt = 0; attempt < 20; ++attempt) {
      if (run.services.tls.probe(site, std::chrono::milliseconds(3000)).reachable) return true;
      run.services.clock.sleep_for(std::chrono::milliseconds(250));
    }
  }
  return up;
}

// Where the renewed certificates of the promotions undone are now.
void say_where_renewals_wait(ApplyRun& run) {
  for (std::size_t i = 0; i < run.plan.sites.size(); ++i)
    if (auto j = run.acting<PromoteCertificate>(i); j && run.result(i, *j).outcome == Outcome::kRolledBack)
      run.report.warnings.push_back(run.plan.sites[i].name + ": the renewed certificate waits at " +
                                    staged_path(run.manifest.sites[i].certificate) +
                                    " with the staged key; the next run installs it once the cause is fixed");
}

// Rolls back after a failed restart or verify, and restarts Apache on the
// restored files (the previous pairs, checked first), then checks it is up.
void restore_and_restart(ApplyRun& run, ApacheStep step, const std::string& what) {
  roll_back(run, step);
  ApacheOutcome& apache = run.result().apache;
  Status again = check_pairs(run);
  if (again) again = restart(run);
  const std::optional<bool> up = answers(run);
  apache.down = up ? !*up : !again;  // without an address to ask, a failed restart is taken as down
  apache.error = what + "\nEvery file this run changed for Apache was restored" +
                 (!again ? "; restarting Apache on them failed too: " + again.message() +
                               (apache.down ? "" : " (Apache still answers, on the restored files)")
                  : apache.down ? " and Apache restarted on them, but it does not answer"
                                : " and Apache restarted on them.");
  say_where_renewals_wait(run);
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
  if (Status s = check_pairs(run); !s) {
    roll_back(run, ApacheStep::kPairCheck);
    apache.error = s.message() + "\nEvery file this run changed for Apache was restored; Apache was not restarted.";
    return;
  }
  if (!run.options.restart) return record_installed(run);  // the caller restarts (an Ansible handler)
  if (Status s = restart(run); !s) return restore_and_restart(run, ApacheStep::kRestart, s.message());
  apache.restarted = true;
  if (!verify_step(run))
    return restore_and_restart(run, ApacheStep::kVerify,
                               "verify failed: Apache does not serve the installed certificate and chain");
  record_installed(run);
  remove_promoted_staged(run);
}

}  // namespace ecert
