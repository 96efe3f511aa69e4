// The command line: flags parsed with CLI11, each subcommand dispatched to
// its function in cli/commands.cc.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "cli/runtime.h"

namespace ecert::cli {
namespace {

struct Flags {
  CommonOptions common;
  std::string out_path, saved_plan, textfile_dir;
  bool detailed = false, dry_run = false, no_restart = false;
  int lock_wait = 60;
};

struct Subcommands {
  CLI::App *validate, *plan, *apply, *status, *csr, *rotate;
};

void add_common(CLI::App* sub, Flags& f, std::vector<std::string> formats) {
  sub->add_option("-f,--file", f.common.manifest,
                  std::string("the manifest (YAML; default ") + kDefaultManifest + ")");
  sub->add_option("--format", f.common.format, "output format")->check(CLI::IsMember(formats))->default_str("text");
  sub->add_option("--site", f.common.sites, "limit to this site (repeatable)")->allow_extra_args(false);
  sub->add_option("--state-dir", f.common.state_dir, "lock, records and backups (default /var/lib/ecertctl)");
}

Subcommands define(CLI::App& app, Flags& f) {
  Subcommands s{};
  s.validate = app.add_subcommand("validate", "check the manifest; reads nothing else");
  add_common(s.validate, f, {"text", "json"});
  s.plan = app.add_subcommand("plan", "show what apply would do; writes nothing");
  add_common(s.plan, f, {"text", "json", "ansible", "salt"});
  s.plan->add_option("--out", f.out_path, "save the plan for a later `ecertctl apply PLAN`");
  s.plan->add_flag("--detailed-exitcode", f.detailed, "exit 2 when there are changes to make");
  s.apply = app.add_subcommand("apply", "make disk and Apache agree with the manifest");
  add_common(s.apply, f, {"text", "json", "ansible", "salt"});
  s.apply->add_option("plan", f.saved_plan, "a plan saved by `ecertctl plan --out`");
  s.apply->add_flag("--dry-run", f.dry_run, "plan only; write nothing");
  s.apply->add_flag("--no-restart", f.no_restart, "run configtest but leave the restart to the caller");
  s.apply->add_option("--lock-wait", f.lock_wait, "seconds to wait for another apply (default 60)")
      ->check(CLI::Range(0, 3600));
  s.status = app.add_subcommand("status", "per site: key, CSR, certificate, chain, vhost, served");
  add_common(s.status, f, {"text", "json", "prometheus"});
  s.status->add_option("--textfile-dir", f.textfile_dir, "write ecertctl.prom there for node_exporter");
  s.csr = app.add_subcommand("csr", "print a site's CSR and the CA's submission steps");
  add_common(s.csr, f, {"text", "json"});
  s.rotate = app.add_subcommand("rotate", "stage a new key and CSR for renewal");
  add_common(s.rotate, f, {"text", "json"});
  return s;
}

// csr and rotate act on exactly one site.
bool one_site(const CommonOptions& common, const char* command) {
  if (common.sites.size() == 1) return true;
  std::cerr << "ecertctl " << command << ": give exactly one --site NAME\n";
  return false;
}

int dispatch(const Subcommands& s, Flags& f, Runtime& rt) {
  // A saved plan names its own manifest; everything else falls back to the
  // packaged location.
  if (f.common.manifest.empty() && !(*s.apply && !f.saved_plan.empty())) f.common.manifest = kDefaultManifest;
  const CommonOptions& c = f.common;
  if (*s.validate) return cmd_validate(rt, c);
  if (*s.plan) return cmd_plan(rt, c, f.out_path, f.detailed);
  if (*s.apply) return cmd_apply(rt, c, ApplyFlags{f.dry_run, f.saved_plan, !f.no_restart, f.lock_wait});
  if (*s.status) return cmd_status(rt, c, f.textfile_dir);
  if (*s.csr) return one_site(c, "csr") ? cmd_csr(rt, c) : 1;
  if (*s.rotate) return one_site(c, "rotate") ? cmd_rotate(rt, c) : 1;
  return 1;
}

}  // namespace

int run_cli(int argc, char** argv, Runtime& rt) {
  CLI::App app{"ecertctl: Hongkong Post e-Cert (Server) certificates for Apache httpd, declaratively"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "ecertctl 0.1.0");
  Flags flags;
  if (const char* dir = std::getenv("ECERTCTL_STATE_DIR")) flags.common.state_dir = dir;
  if (flags.common.state_dir.empty()) flags.common.state_dir = "/var/lib/ecertctl";
  const Subcommands subcommands = define(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }
  return dispatch(subcommands, flags, rt);
}

int run_cli_on(FileSystem& fs, int argc, char** argv) {
  RealCommandRunner runner;
  SystemClock clock;
  RealTlsProbe tls(fs);
  RsaKeySource keys;
  Syslog log;
  Runtime rt{fs, runner, clock, tls, keys, log};
  return run_cli(argc, argv, rt);
}

}  // namespace ecert::cli
