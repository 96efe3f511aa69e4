#include "cli/commands.h"

#include "util/json_text.h"
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <optional>

#include "crypto/csr.h"
#include "engine/apply.h"
#include "engine/csr_check.h"
#include "engine/observe.h"
#include "engine/saved_plan.h"
#include "engine/state_dir.h"
#include "engine/passphrase.h"
#include "manifest/loader.h"
#include "manifest/names.h"
#include "report/log_lines.h"
#include "report/report.h"
#include "report/submission.h"
#include "report/status_view.h"
#include "engine/status.h"
#include "engine/rotate.h"
#include "util/digest.h"
#include "util/syslog.h"
#include <functional>

namespace ecert::cli {
namespace {

void print_json(const nlohmann::json& j) { std::cout << json_text(j, 2) << "\n"; }

// Loads the manifest and narrows it to --site. Prints diagnostics (warnings
// too) and returns nullopt when the manifest cannot be used; its errors and
// unknown --site names also go to `log` when one is given. `digest`, when
// given, receives the sha256 of exactly the bytes that were parsed.
std::optional<Manifest> load(const CommonOptions& opt, const FileSystem& fs, SystemLog* log = nullptr,
                             std::string* digest = nullptr) {
  std::string bytes;
  LoadResult res = load_manifest_file(fs, opt.manifest, &bytes);
  if (digest) *digest = sha256_hex(bytes);
  if (log)
    for (const auto& d : res.diagnostics)
      if (d.severity == Diagnostic::Severity::kError) log->log(LogPriority::kError, one_log_line(d.str()));
  if (!res.ok() && opt.format != "text") {
    std::string msg;
    for (const auto& d : res.diagnostics) msg += (msg.empty() ? "" : "\n") + d.str();
    if (opt.format == "ansible")
      print_json({{"format_version", "1"}, {"changed", false}, {"failed", true}, {"msg", msg}});
    else if (opt.format == "salt")
      std::cout << json_text(nlohmann::json({{"changed", false}, {"comment", msg}})) << "\n";
    else if (opt.format == "json")
      print_json(diagnostics_json(res.diagnostics));
    for (const auto& d : res.diagnostics) std::cerr << d.str() << "\n";
    return std::nullopt;
  }
  for (const auto& d : res.diagnostics) std::cerr << d.str() << "\n";
  if (!res.ok()) return std::nullopt;
  // Before anything reads the Apache configuration or starts a command.
  capture_env_passphrases(passphrase_env_names(res.manifest));
  if (opt.sites.empty()) return std::move(res.manifest);

  Manifest narrowed = res.manifest;
  narrowed.sites.clear();
  bool unknown = false;
  for (const auto& wanted : opt.sites) {
    auto name = normalize_server_name(wanted, true);
    const Site* found = nullptr;
    for (const auto& s : res.manifest.sites)
      if (s.name == (name ? *name : wanted) || s.unicode_name == wanted) found = &s;
    if (!found) {
      std::string names;
      for (const auto& s : res.manifest.sites) names += (names.empty() ? "" : ", ") + s.name;
      const std::string message = opt.manifest + ": error: no site named '" + wanted + "' (sites: " + names + ")";
      std::cerr << message << "\n";
      if (log) log->log(LogPriority::kError, one_log_line(message));
      unknown = true;
    } else {
      narrowed.sites.push_back(*found);
    }
  }
  if (unknown) return std::nullopt;
  return narrowed;
}

std::string host_name() {
  char name[256] = {};
  return ::gethostname(name, sizeof name - 1) == 0 ? std::string(name) : std::string("localhost");
}

ApplyOptions apply_options(const CommonOptions& opt) {
  ApplyOptions o;
  o.host = host_name();
  o.manifest_arg = opt.manifest;
  o.state_dir = opt.state_dir;
  o.narrowed = !opt.sites.empty();
  o.diffs = opt.format == "ansible";
  return o;
}

void render(const Report& report, const CommonOptions& opt) {
  if (opt.format == "text" && report.plan.sites.empty() && !report.errors.empty())
    std::cerr << report_text(report);  // refused before planning: only errors to say
  else if (opt.format == "json") write_report_json(std::cout, report, opt.manifest);
  else if (opt.format == "ansible") write_report_ansible(std::cout, report);
  else if (opt.format == "salt") std::cout << report_salt(report) << "\n";
  else std::cout << report_text(report);
}

// A saved plan must name its manifest absolutely: it is applied later, maybe
// from another directory.
std::string absolute(const std::string& path) { return fs::absolute(path).lexically_normal().string(); }

int exit_code(const Report& report) { return report.failed() ? 1 : 0; }

// Whether the state directory may be used (engine/state_dir.h): else says
// why, with the command that fixes it (also to `log`, when given). Warns
// about records it will ignore.
bool state_dir_usable(const FileSystem& fs, const CommonOptions& opt, StateDirUse use, SystemLog* log = nullptr) {
  std::vector<std::string> warnings;
  if (Status s = check_state_dir(fs, opt.state_dir, use, &warnings); !s) {
    std::cerr << "error: " << s.message() << "\n";
    if (log) log->log(LogPriority::kError, one_log_line("error: " + s.message()));
    return false;
  }
  for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
  return true;
}

}  // namespace

int cmd_validate(Runtime& rt, const CommonOptions& opt) {
  LoadResult res = load_manifest_file(rt.fs, opt.manifest);
  if (opt.format == "json") {
    nlohmann::json j = diagnostics_json(res.diagnostics);
    if (res.ok()) {  // what shell completion offers for --site
      j["sites"] = nlohmann::json::array();
      for (const auto& s : res.manifest.sites) j["sites"].push_back(s.name);
    }
    print_json(j);
  } else {
    for (const auto& d : res.diagnostics) std::cerr << d.str() << "\n";
    if (res.ok())
      std::cout << opt.manifest << ": valid (" << res.manifest.sites.size() << " site"
                << (res.manifest.sites.size() == 1 ? "" : "s") << ")\n";
  }
  return res.ok() ? 0 : 1;
}

int cmd_plan(Runtime& rt, const CommonOptions& opt, const std::string& out_path, bool detailed_exitcode) {
  if (!state_dir_usable(rt.fs, opt, StateDirUse::kRead)) return 1;
  std::string manifest_digest;  // of the bytes this plan was made from
  auto manifest = load(opt, rt.fs, nullptr, &manifest_digest);
  if (!manifest) return 1;
  Report report = plan_only(*manifest, rt.fs, rt.clock, rt.runner, apply_options(opt));
  render(report, opt);
  if (!out_path.empty()) {
    // Written by the caller's hand: --out is the one place plan writes, and
    // only where it is told to.
    WriteOptions wo;
    wo.new_file_mode = 0600;
    const std::string text = render_saved_plan(report, absolute(opt.manifest), manifest_digest, opt.sites);
    if (Status st = rt.fs.write_atomic(fs::absolute(out_path), text, wo); !st) {
      std::cerr << "error: cannot write the plan: " << st.message() << "\n";
      return 1;
    }
  }
  if (report.failed()) return 1;
  return detailed_exitcode && report.plan.has_changes() ? 2 : 0;
}

namespace {

// Reads a saved plan and points `opt` at its manifest and sites. Tells
// `refuse` why not and returns nullopt when it cannot be applied.
std::optional<SavedPlan> read_saved_plan(const FileSystem& fs, const std::string& file, CommonOptions& opt,
                                         const std::function<void(const std::string&)>& refuse) {
  auto text = fs.read_file(file);
  if (!text) return refuse(text.status().message()), std::nullopt;
  auto plan = parse_saved_plan(*text, file);
  if (!plan) return refuse(plan.status().message()), std::nullopt;
  if (!opt.manifest.empty() && absolute(opt.manifest) != plan->manifest_path)
    return refuse(file + " was made for " + plan->manifest_path + ", not " + opt.manifest), std::nullopt;
  opt.manifest = plan->manifest_path;
  opt.sites = plan->selected_sites;
  return std::move(*plan);
}

}  // namespace

int cmd_apply(Runtime& rt, const CommonOptions& opt_in, const ApplyFlags& flags) {
  CommonOptions opt = opt_in;
  // A run that acts tells the system log what it changed and what failed;
  // --dry-run tells it nothing.
  SystemLog* log = flags.dry_run ? nullptr : &rt.log;
  auto refuse = [&](const std::string& message) {
    std::cerr << "error: " << message << "\n";
    if (log) log->log(LogPriority::kError, one_log_line("error: " + message));
  };
  if (!state_dir_usable(rt.fs, opt, flags.dry_run ? StateDirUse::kRead : StateDirUse::kWrite, log)) return 1;
  std::optional<SavedPlan> plan;
  if (!flags.saved_plan.empty() && !(plan = read_saved_plan(rt.fs, flags.saved_plan, opt, refuse))) return 1;
  std::string manifest_digest;  // of the bytes parsed below: no window to swap the file after checking it
  auto manifest = load(opt, rt.fs, log, &manifest_digest);
  if (!manifest) return 1;
  if (plan && manifest_digest != plan->manifest_sha256) {
    refuse("the saved plan is stale: the manifest " + plan->manifest_path +
           " changed since the plan was made; nothing was done. Make a new plan.");
    return 1;
  }
  ApplyOptions o = apply_options(opt);
  o.dry_run = flags.dry_run;
  o.restart = flags.restart;
  o.lock_wait = std::chrono::seconds(flags.lock_wait_seconds);
  if (plan) o.saved_plan = &*plan;
  if (opt.format == "text" && ::isatty(STDERR_FILENO)) {
    o.progress = [](std::size_t done, std::size_t total) {
      std::cerr << "\rgenerating keys: " << done << "/" << total << (done == total ? "\n" : "") << std::flush;
    };
  }
  Services services{rt.fs, rt.runner, rt.clock, rt.tls, rt.keys};
  Report report = apply(*manifest, services, o);
  render(report, opt);
  if (log) log_apply(report, *log);
  return exit_code(report);
}

int cmd_status(Runtime& rt, const CommonOptions& opt, const std::string& textfile_dir) {
  FileSystem& fs = rt.fs;
  if (!state_dir_usable(fs, opt, StateDirUse::kRead)) return 1;
  auto manifest = load(opt, fs);
  if (!manifest) {
    if (opt.format == "prometheus") std::cout << invalid_manifest_prometheus();
    if (!textfile_dir.empty()) fs.write_atomic(fs::path(textfile_dir) / "ecertctl.prom", invalid_manifest_prometheus());
    return 1;
  }
  StatusReport r = collect_status(*manifest, fs, rt.clock, rt.tls, rt.runner, opt.manifest, opt.state_dir);
  for (const auto& w : r.warnings) std::cerr << "warning: " << w << "\n";
  if (!textfile_dir.empty()) {
    // node_exporter reads every *.prom file: write atomically so it never
    // sees half a file.
    if (Status s = fs.write_atomic(fs::path(textfile_dir) / "ecertctl.prom", status_prometheus(r)); !s) {
      std::cerr << "error: " << s.message() << "\n";
      return 1;
    }
  }
  if (opt.format == "json") write_status_json(std::cout, r, opt.manifest);
  else if (opt.format == "prometheus") std::cout << status_prometheus(r);
  else std::cout << status_text(r);
  return r.plan.has_errors() ? 1 : 0;
}

int cmd_csr(Runtime& rt, const CommonOptions& opt) {
  FileSystem& fs = rt.fs;
  auto manifest = load(opt, fs);
  if (!manifest) return 1;
  const Site& site = manifest->sites.at(0);
  // Only a CSR whose signature verifies and that belongs to the live (or
  // staged) key is printed: a CSR planted with the right subject is not.
  const Observed obs = observe_with_cache(*manifest, fs, opt.state_dir, rt.clock.now());
  auto chosen = csr_to_submit(site, obs.sites.at(0), opt.manifest);
  if (!chosen) {
    std::cerr << "error: " << site.name << ": " << chosen.status().message() << "\n";
    return 1;
  }
  auto pem = fs.read_file(chosen->csr_path);
  if (!pem || sha256_hex(*pem) != chosen->digest) {
    std::cerr << "error: " << chosen->csr_path << " changed while it was checked; run the command again\n";
    return 1;
  }
  Submission sub;
  sub.site = &site;
  sub.manifest_arg = opt.manifest;
  sub.renewal = chosen->renewal;
  sub.key_path = chosen->key_path;
  sub.csr_path = chosen->csr_path;
  sub.csr_pem = std::move(*pem);
  if (opt.format == "json") print_json(submission_json(sub));
  else std::cout << submission_text(sub);
  return 0;
}

int cmd_rotate(Runtime& rt, const CommonOptions& opt) {
  FileSystem& fs = rt.fs;
  if (!state_dir_usable(fs, opt, StateDirUse::kWrite)) return 1;
  auto manifest = load(opt, fs);
  if (!manifest) return 1;
  const Site& site = manifest->sites.at(0);
  auto res = rotate_site(site, fs, rt.keys, apply_options(opt));
  if (!res) {
    std::cerr << "error: " << site.name << ": " << res.status().message() << "\n";
    return 1;
  }
  Submission sub;
  sub.site = &site;
  sub.manifest_arg = opt.manifest;
  sub.renewal = true;
  sub.key_path = res->key_path;
  sub.csr_path = res->csr_path;
  if (auto pem = fs.read_file(res->csr_path)) sub.csr_pem = std::move(*pem);
  if (opt.format == "json") {
    auto j = submission_json(sub);
    j["created"] = res->created;
    j["message"] = res->message;
    print_json(j);
  } else {
    std::cout << res->message << "\n\n" << submission_text(sub);
  }
  return 0;
}

}  // namespace ecert::cli
