// What apply did with a plan, change by change, kept apart from the plan
// itself (as Terraform keeps a plan apart from the state and diagnostics an
// apply produces). Every view of a run (text, JSON, Ansible, Salt, the
// system log) renders from a Report: plan + result.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/plan.h"
#include "util/status.h"

namespace ecert {

enum class Outcome {
  kNotRun,        // nothing to do: a no-op, pending, or an error in the plan
  kDone,          // done as planned
  kFailed,        // its step failed; ChangeResult::status says why
  kRolledBack,    // done, then put back because Apache failed (ChangeResult::rolled_back_by)
  kNotAttempted,  // an earlier step of the same site failed (ChangeResult::after)
};

// The step of the Apache phase that failed and made apply roll back.
enum class ApacheStep { kNone, kConfigtest, kPairCheck, kRestart, kVerify };
// "configtest", "the key/certificate check", "restart", "verify"
const char* apache_step_name(ApacheStep step);

struct ChangeResult {
  Outcome outcome = Outcome::kNotRun;
  Status status;                                  // kFailed: why
  ResourceKind after = ResourceKind::kKey;        // kNotAttempted: the resource that failed, or
  bool after_planned_error = false;               // that the plan found in error
  ApacheStep rolled_back_by = ApacheStep::kNone;  // kRolledBack: what failed
};

struct SiteVerify {
  std::string site;
  bool ok = false;
  std::string detail;
};

struct ApacheOutcome {
  bool restart_needed = false;  // something Apache reads changed (or would)
  bool configtest_ok = false;   // configtest ran and passed
  bool restarted = false;
  bool rolled_back = false;
  // After a rollback, restarting Apache on the restored files failed, or it
  // did not answer afterwards: it may be serving nothing at all.
  bool down = false;
  std::string error;            // the failure, with the command's output
};

// A file Apache reads, before and after (never key material).
struct FileDiff {
  std::string path;
  std::string before;  // "" when the file did not exist
  std::string after;
};
// A file's bytes as a diff shows them: text as it is, anything else (a DER
// certificate) as "(N bytes of binary data)", which JSON can carry.
std::string diff_text(std::string bytes);

struct ApplyResult {
  // changes[i][j] is what became of plan.sites[i].changes[j].
  std::vector<std::vector<ChangeResult>> changes;
  ApacheOutcome apache;
  std::vector<SiteVerify> verified;
};

struct Report {
  std::string command;  // "plan", "apply"
  bool dry_run = false;
  Plan plan;
  std::optional<ApplyResult> applied;  // set once apply acted (not for plan or --dry-run)
  std::vector<std::string> errors;     // run-level: lock, stale plan, rollback or record failures
  std::vector<std::string> warnings;   // run-level: the Apache probe fell back, a notify command failed
  std::vector<FileDiff> diffs;         // with ApplyOptions::diffs: plan: predicted; apply: written

  // plan, or apply --dry-run: what would happen.
  bool would() const { return command == "plan" || dry_run; }
  const ApacheOutcome& apache() const;
  // The result of plan.sites[site].changes[change]; null when apply did not act.
  const ChangeResult* result(std::size_t site, std::size_t change) const;
  bool failed() const;   // an error anywhere: a change, Apache, the run
  bool changed() const;  // something was (or would be) created or updated
};

// A change as a report shows it: the plan's action and reason, or, after
// apply, what became of the change.
struct ChangeView {
  Action action = Action::kNoOp;
  std::string reason;
  // An error that is a cause of its own: not one blocked by another
  // resource, not a step skipped or rolled back because something else failed.
  bool root_cause = false;
};
ChangeView view_change(const Change& change, const ChangeResult* result);
ChangeView view_change(const Report& report, std::size_t site, std::size_t change);

// The state of a site as the report shows it.
SitePlan::State site_state(const Report& report, std::size_t site);

// Counts of shown actions over every site ("create", "update", "no-op", "pending", "error").
std::map<std::string, int> action_counts(const Report& report);

}  // namespace ecert
