#include "cli/commands.h"

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <optional>

#include "crypto/csr.h"
#include "engine/apply.h"
#include "manifest/loader.h"
#include "manifest/names.h"
#include "report/report.h"
#include "util/digest.h"

namespace ecert::cli {
namespace {

void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << "\n"; }

// Loads the manifest and narrows it to --site. Prints diagnostics (warnings
// too) and returns nullopt when the manifest cannot be used.
std::optional<Manifest> load(const CommonOptions& opt, const FileSystem& fs) {
  LoadResult res = load_manifest_file(fs, opt.manifest);
  if (opt.format == "json" && !res.ok()) {
    print_json(diagnostics_json(res.diagnostics));
    return std::nullopt;
  }
  for (const auto& d : res.diagnostics) std::cerr << d.str() << "\n";
  if (!res.ok()) return std::nullopt;
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
      std::cerr << opt.manifest << ": error: no site named '" << wanted << "' (sites: " << names << ")\n";
      unknown = true;
    } else {
      narrowed.sites.push_back(*found);
    }
  }
  if (unknown) return std::nullopt;
  return narrowed;
}

ApplyOptions apply_options(const CommonOptions& opt) {
  ApplyOptions o;
  o.manifest_arg = opt.manifest;
  o.state_dir = opt.state_dir;
  return o;
}

void render(const Report& report, const CommonOptions& opt) {
  if (opt.format == "json") print_json(report_json(report, opt.manifest));
  else std::cout << report_text(report);
}

int exit_code(const Report& report) { return report.failed() ? 1 : 0; }

}  // namespace

int cmd_validate(const CommonOptions& opt) {
  RealFileSystem fs;
  LoadResult res = load_manifest_file(fs, opt.manifest);
  if (opt.format == "json") {
    print_json(diagnostics_json(res.diagnostics));
  } else {
    for (const auto& d : res.diagnostics) std::cerr << d.str() << "\n";
    if (res.ok())
      std::cout << opt.manifest << ": valid (" << res.manifest.sites.size() << " site"
                << (res.manifest.sites.size() == 1 ? "" : "s") << ")\n";
  }
  return res.ok() ? 0 : 1;
}

int cmd_plan(const CommonOptions& opt, const std::string& out_path, bool detailed_exitcode) {
  RealFileSystem fs;
  auto manifest = load(opt, fs);
  if (!manifest) return 1;
  Report report = plan_only(*manifest, fs, apply_options(opt));
  render(report, opt);
  if (!out_path.empty()) {
    // Written by the caller's hand: --out is the one place plan writes, and
    // only where it is told to.
    nlohmann::json saved = report_json(report, opt.manifest);
    saved["inputs"] = report.plan.inputs;
    std::ofstream f(out_path);
    f << saved.dump(2) << "\n";
    if (!f) {
      std::cerr << "error: cannot write the plan to " << out_path << "\n";
      return 1;
    }
  }
  if (report.failed()) return 1;
  return detailed_exitcode && report.plan.has_changes() ? 2 : 0;
}

int cmd_apply(const CommonOptions& opt_in, bool dry_run, const std::string& saved_plan, bool restart,
              int lock_wait_seconds) {
  CommonOptions opt = opt_in;
  RealFileSystem fs;
  std::optional<Plan> plan;
  if (!saved_plan.empty()) {
    std::cerr << "error: applying a saved plan is not supported yet\n";
    return 1;
  }
  auto manifest = load(opt, fs);
  if (!manifest) return 1;
  ApplyOptions o = apply_options(opt);
  o.dry_run = dry_run;
  o.restart = restart;
  o.lock_wait = std::chrono::seconds(lock_wait_seconds);
  if (opt.format == "text" && ::isatty(STDERR_FILENO)) {
    o.progress = [](std::size_t done, std::size_t total) {
      std::cerr << "\rgenerating keys: " << done << "/" << total << (done == total ? "\n" : "") << std::flush;
    };
  }
  RealCommandRunner runner;
  Report report = apply(*manifest, fs, runner, o);
  render(report, opt);
  return exit_code(report);
}

int cmd_status(const CommonOptions& opt, const std::string& textfile_dir) {
  std::cerr << "error: status is not implemented yet\n";
  return 1;
}

int cmd_csr(const CommonOptions& opt) {
  std::cerr << "error: csr is not implemented yet\n";
  return 1;
}

int cmd_rotate(const CommonOptions& opt) {
  std::cerr << "error: rotate is not implemented yet\n";
  return 1;
}

}  // namespace ecert::cli
