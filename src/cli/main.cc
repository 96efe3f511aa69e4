// ecertctl: flags are parsed here and each subcommand dispatched to its function.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "util/harden.h"

namespace {

// csr and rotate act on exactly one site.
bool one_site(const ecert::cli::CommonOptions& common, const char* command) {
  if (common.sites.size() == 1) return true;
  std::cerr << "ecertctl " << command << ": give exactly one --site NAME\n";
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  // First thing: passphrases and keys will be in memory; no core file, no
  // reading it through /proc by another process of the same user.
  if (ecert::Status s = ecert::disable_core_dumps(); !s) {
    std::cerr << "ecertctl: " << s.message() << "; refusing to handle keys without it\n";
    return 1;
  }
  using ecert::cli::CommonOptions;
  using ecert::cli::kDefaultManifest;
  CLI::App app{"ecertctl: Hongkong Post e-Cert (Server) certificates for Apache httpd, declaratively"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "ecertctl 0.1.0");

  CommonOptions common;
  if (const char* dir = std::getenv("ECERTCTL_STATE_DIR")) common.state_dir = dir;
  if (common.state_dir.empty()) common.state_dir = "/var/lib/ecertctl";

  auto add_common = [&](CLI::App* sub, std::vector<std::string> formats) {
    sub->add_option("-f,--file", common.manifest, std::string("the manifest (YAML; default ") + kDefaultManifest + ")");
    sub->add_option("--format", common.format, "output format")
        ->check(CLI::IsMember(formats))
        ->default_str("text");
    sub->add_option("--site", common.sites, "limit to this site (repeatable)")->allow_extra_args(false);
    sub->add_option("--state-dir", common.state_dir, "lock and backups (default /var/lib/ecertctl)");
  };

  auto* validate = app.add_subcommand("validate", "check the manifest; reads nothing else");
  add_common(validate, {"text", "json"});

  std::string out_path;
  bool detailed = false;
  auto* plan = app.add_subcommand("plan", "show what apply would do; writes nothing");
  add_common(plan, {"text", "json", "ansible", "salt"});
  plan->add_option("--out", out_path, "save the plan for a later `ecertctl apply PLAN`");
  plan->add_flag("--detailed-exitcode", detailed, "exit 2 when there are changes to make");

  bool dry_run = false;
  std::string saved_plan;
  bool no_restart = false;
  int lock_wait = 60;
  auto* apply = app.add_subcommand("apply", "make disk and Apache agree with the manifest");
  add_common(apply, {"text", "json", "ansible", "salt"});
  apply->add_option("plan", saved_plan, "a plan saved by `ecertctl plan --out`");
  apply->add_flag("--dry-run", dry_run, "plan only; write nothing");
  apply->add_flag("--no-restart", no_restart, "run configtest but leave the restart to the caller");
  apply->add_option("--lock-wait", lock_wait, "seconds to wait for another apply (default 60)")
      ->check(CLI::Range(0, 3600));

  std::string textfile_dir;
  auto* status = app.add_subcommand("status", "per site: key, CSR, certificate, chain, vhost, served");
  add_common(status, {"text", "json", "prometheus"});
  status->add_option("--textfile-dir", textfile_dir, "write ecertctl.prom there for node_exporter");

  auto* csr = app.add_subcommand("csr", "print a site's CSR and the CA's submission steps");
  add_common(csr, {"text", "json"});

  auto* rotate = app.add_subcommand("rotate", "stage a new key and CSR for renewal");
  add_common(rotate, {"text", "json"});

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }

  // A saved plan names its own manifest; everything else falls back to the
  // packaged location.
  if (common.manifest.empty() && !(*apply && !saved_plan.empty())) common.manifest = kDefaultManifest;

  using namespace ecert::cli;
  if (*validate) return cmd_validate(common);
  if (*plan) return cmd_plan(common, out_path, detailed);
  if (*apply) return cmd_apply(common, dry_run, saved_plan, !no_restart, lock_wait);
  if (*status) return cmd_status(common, textfile_dir);
  if (*csr) return one_site(common, "csr") ? cmd_csr(common) : 1;
  if (*rotate) return one_site(common, "rotate") ? cmd_rotate(common) : 1;
  return 1;
}
