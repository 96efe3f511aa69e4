// The Apache probe with a scripted command runner: which binary it asks for
// each real configtest argv, what it makes of the answers, how it falls back,
// and that plan, apply and status evaluate sections with what it learnt.
#include "engine/apache_probe.h"

#include <doctest/doctest.h>

#include <map>

#include "crypto/csr.h"
#include "crypto/test_pki.h"
#include "engine/apply.h"
#include "engine/observe.h"
#include "engine/status.h"
#include "manifest/loader.h"
#include "util/digest.h"
#include "util/strings.h"

namespace ecert {
namespace {

namespace tp = crypto::testpki;
using Argvs = std::vector<std::vector<std::string>>;

// Answers the commands it was given answers for (by argv joined with
// spaces); any other command cannot be started, as a missing binary.
class ScriptedRunner : public CommandRunner {
 public:
  std::map<std::string, CommandResult> answers;
  std::vector<CommandRequest> requests;

  Result<CommandResult> execute(const CommandRequest& request) override {
    requests.push_back(request);
    auto it = answers.find(join(request.argv, " "));
    if (it == answers.end()) return Status::not_found("command not found: " + request.argv[0] + " (not on PATH)");
    return it->second;
  }
  std::vector<std::string> calls() const {
    std::vector<std::string> out;
    for (const auto& r : requests) out.push_back(join(r.argv, " "));
    return out;
  }
};

CommandResult exited(int code, std::string output) {
  CommandResult r;
  r.exit_code = code;
  r.output = std::move(output);
  return r;
}

// A binary built with mod_ssl and mod_version in (a source build's
// --enable-mods-static), unlike Debian's, and its version.
const char* const kModules =
    "Compiled in modules:\n  core.c\n  mod_so.c\n  http_core.c\n  mod_version.c\n  mod_ssl.c\n";
const char* const kVersion = "Server version: Apache/2.4.62 (Unix)\nServer built:   2024-07-17T18:57:09\n";

ApacheSpec spec(std::vector<std::string> configtest) {
  ApacheSpec a;
  a.configtest = std::move(configtest);
  a.environment = {"HTTPD_INSTANCE"};
  a.timeout_seconds = 7;
  return a;
}

TEST_CASE("apache_binary_queries: the binary behind each layout's configtest, its instance options kept") {
  // Debian: apache2ctl sources envvars and creates directories; apache2 beside it is asked.
  CHECK(apache_binary_queries({"apache2ctl", "configtest"}, "-l") == Argvs{{"apache2", "-l"}, {"httpd", "-l"}});
  CHECK(apache_binary_queries({"/usr/sbin/apache2ctl", "configtest"}, "-v") ==
        Argvs{{"/usr/sbin/apache2", "-v"}, {"/usr/sbin/httpd", "-v"}, {"apache2", "-v"}, {"httpd", "-v"}});
  // Debian's second instance (apache2ctl-NAME), here behind env as a manifest gives it.
  CHECK(apache_binary_queries({"/usr/bin/env", "APACHE_CONFDIR=/etc/apache2-shop", "apache2ctl-shop", "configtest"},
                              "-l") == Argvs{{"/usr/bin/env", "APACHE_CONFDIR=/etc/apache2-shop", "apache2", "-l"},
                                             {"/usr/bin/env", "APACHE_CONFDIR=/etc/apache2-shop", "httpd", "-l"}});
  // Red Hat: httpd -t, or apachectl (httpd first); the CA guide's /usr/local/apache.
  CHECK(apache_binary_queries({"httpd", "-t"}, "-l") == Argvs{{"httpd", "-l"}});
  CHECK(apache_binary_queries({"apachectl", "configtest"}, "-l") == Argvs{{"httpd", "-l"}, {"apache2", "-l"}});
  CHECK(apache_binary_queries({"/usr/local/apache/bin/apachectl", "configtest"}, "-l") ==
        Argvs{{"/usr/local/apache/bin/httpd", "-l"}, {"/usr/local/apache/bin/apache2", "-l"}, {"httpd", "-l"},
              {"apache2", "-l"}});
  // A sandbox: -d, -f, -C, -c and -D stay (joined or not, behind flags), the action goes.
  CHECK(apache_binary_queries({"/usr/sbin/apache2", "-d", "/srv/a", "-f", "/srv/a/conf/httpd.conf", "-t"}, "-l") ==
        Argvs{{"/usr/sbin/apache2", "-d", "/srv/a", "-f", "/srv/a/conf/httpd.conf", "-l"}});
  CHECK(apache_binary_queries({"httpd", "-tDSTAGING", "-f/srv/h.conf", "-k", "graceful", "-E", "/tmp/startup.log", "-C",
                               "Define X 1", "-X", "-c", "LogLevel debug", "--", "-dafter"},
                              "-v") ==
        Argvs{{"httpd", "-D", "STAGING", "-f", "/srv/h.conf", "-C", "Define X 1", "-c", "LogLevel debug", "-v"}});
  CHECK(apache_binary_queries({"httpd", "-t", "-d"}, "-l") == Argvs{{"httpd", "-l"}});  // -d without its value
}

TEST_CASE("apache_binary_queries: a command it cannot see through names no binary") {
  CHECK(apache_binary_queries({"/usr/local/sbin/check-apache"}, "-l").empty());
  CHECK(apache_binary_queries({"true"}, "-l").empty());
  CHECK(apache_binary_queries({"env", "-i", "apache2ctl", "configtest"}, "-l").empty());  // env's own options
  CHECK(apache_binary_queries({"env", "A=1"}, "-l").empty());
  CHECK(apache_binary_queries({}, "-l").empty());
}

TEST_CASE("probe_apache: modules and version from the binary, asked like configtest") {
  ScriptedRunner runner;
  runner.answers["httpd -D STAGING -l"] = exited(0, kModules);
  runner.answers["httpd -D STAGING -v"] = exited(0, kVersion);
  const ApacheProbe p = probe_apache(spec({"httpd", "-DSTAGING", "-t"}), runner);
  CHECK(p.warning == "");
  CHECK(p.options.defines == std::vector<std::string>{"STAGING"});
  CHECK(p.options.compiled_modules ==
        std::vector<std::string>{"core.c", "mod_so.c", "http_core.c", "mod_version.c", "mod_ssl.c"});
  REQUIRE(p.options.version);
  CHECK((p.options.version->major == 2 && p.options.version->minor == 4 && p.options.version->patch == 62));
  CHECK(runner.calls() == std::vector<std::string>{"httpd -D STAGING -l", "httpd -D STAGING -v"});
  for (const auto& r : runner.requests) {
    CHECK(r.timeout == std::chrono::seconds(7));
    CHECK(r.pass_env == std::vector<std::string>{"HTTPD_INSTANCE"});
    CHECK(r.input.empty());
  }
}

TEST_CASE("probe_apache: Debian's second instance, apache2ctl-NAME linked from /usr/local/sbin: apache2 on PATH") {
  ScriptedRunner runner;
  runner.answers["apache2 -l"] = exited(0, kModules);
  runner.answers["apache2 -v"] = exited(0, kVersion);
  const ApacheProbe p = probe_apache(spec({"/usr/local/sbin/apache2ctl-shop", "configtest"}), runner);
  CHECK(p.warning == "");
  CHECK(runner.calls() == std::vector<std::string>{"/usr/local/sbin/apache2 -l", "/usr/local/sbin/httpd -l",
                                                   "apache2 -l", "apache2 -v"});
}

TEST_CASE("probe_apache: apachectl on Debian is a link to apache2ctl: httpd is missing, apache2 answers") {
  ScriptedRunner runner;
  runner.answers["/usr/sbin/apache2 -l"] = exited(0, kModules);
  runner.answers["/usr/sbin/apache2 -v"] = exited(0, kVersion);
  const ApacheProbe p = probe_apache(spec({"/usr/sbin/apachectl", "configtest"}), runner);
  CHECK(p.warning == "");
  CHECK(p.options.compiled_modules.size() == 5);
  CHECK(p.options.version.has_value());
  CHECK(runner.calls() ==
        std::vector<std::string>{"/usr/sbin/httpd -l", "/usr/sbin/apache2 -l", "/usr/sbin/apache2 -v"});
}

TEST_CASE("probe_apache: when no binary answers, the defaults stand and the warning says why") {
  ScriptedRunner runner;
  runner.answers["apache2 -l"] = exited(1, "apache2: bad user name ${APACHE_RUN_USER}\nmore\n");
  CommandResult hung = exited(-1, "");
  hung.timed_out = true;
  runner.answers["httpd -l"] = hung;
  const ApacheProbe p = probe_apache(spec({"apache2ctl", "configtest"}), runner);
  CHECK(p.options.compiled_modules.empty());  // apache::LoadOptions: Debian 12's list
  CHECK_FALSE(p.options.version.has_value());
  CHECK(p.options.defines.empty());
  CHECK(p.warning ==
        "cannot ask Apache which modules it has compiled in (apache2 -l exited with 1: apache2: bad user name "
        "${APACHE_RUN_USER}; httpd -l did not finish within 7 s); sections are evaluated with the defaults instead: "
        "the modules Debian 12's apache2 has compiled in (core.c mod_so.c mod_watchdog.c http_core.c "
        "mod_log_config.c mod_logio.c mod_version.c mod_unixd.c) and version 2.4 of unknown patch level");
}

TEST_CASE("probe_apache: output that is not a module list counts as no answer") {
  ScriptedRunner runner;
  runner.answers["httpd -l"] = exited(0, "Usage: httpd [-D name]\n");
  const ApacheProbe p = probe_apache(spec({"httpd", "-t"}), runner);
  CHECK(p.options.compiled_modules.empty());
  CHECK(p.warning.find("cannot ask Apache which modules it has compiled in (httpd -l: line 1 of the module list is "
                       "\"Usage: httpd [-D name]\"") == 0);
  CHECK(runner.calls() == std::vector<std::string>{"httpd -l"});
}

TEST_CASE("probe_apache: the modules without the version keep the modules") {
  ScriptedRunner runner;
  runner.answers["httpd -l"] = exited(0, kModules);
  runner.answers["httpd -v"] = exited(0, "Server version: unknown\n");
  const ApacheProbe p = probe_apache(spec({"httpd", "-t"}), runner);
  CHECK(p.options.compiled_modules.size() == 5);
  CHECK_FALSE(p.options.version.has_value());
  CHECK(p.warning ==
        "cannot learn which version Apache is (httpd -v: no \"Apache/<major>.<minor>.<patch>\" in the version output; "
        "give the output of apache2 -v); an <IfVersion> that depends on the patch level of 2.4 is left undecided");
}

TEST_CASE("probe_apache: a wrapper script is not run with other arguments") {
  ScriptedRunner runner;
  const ApacheProbe p = probe_apache(spec({"/usr/local/sbin/check-apache", "--quiet"}), runner);
  CHECK(runner.requests.empty());
  CHECK(p.warning.find("apache.configtest (/usr/local/sbin/check-apache --quiet) runs neither apache2, httpd, "
                       "apache2ctl nor apachectl, so ecertctl cannot ask Apache") == 0);
}

class FixedClock : public Clock {
 public:
  std::time_t now() const override { return now_; }
  void sleep_for(std::chrono::milliseconds) const override {}
  std::time_t now_ = std::time(nullptr);
};

class NoTls : public TlsProbe {
 public:
  ServedFacts probe(const Site&, std::chrono::milliseconds) override { return {}; }
};

// One site whose key, CSR and certificate are in place, and whose only
// <VirtualHost> Apache reads only when mod_ssl is compiled in and the
// version is at least 2.4.8: what the probe learns decides whether it is
// the site's.
struct World {
  MemoryFileSystem fs;
  Manifest manifest;
  ScriptedRunner runner;
  FixedClock clock;
  NoTls tls;
  RsaKeySource keys;  // no site here needs a new key
  Services services{fs, runner, clock, tls, keys};
  std::vector<std::string> warnings;

  World() {
    auto loaded = load_manifest_text(R"(version: 1
apache:
  config: /srv/httpd/conf/httpd.conf
  configtest: [/srv/httpd/bin/apachectl, configtest]
defaults:
  organization: My Organization
  key: {cipher: none}
  ca: {sub: /ca/sub.crt, cross: /ca/cross.crt, trust: /ca/trust.pem}
sites:
  - {name: www.a.example, feature: standard, key: /srv/a.key, csr: /srv/a.csr, certificate: /srv/a.cer, chain: /srv/chain.crt}
)",
                                     "/srv/ecert.yaml");
    REQUIRE(loaded.ok());
    manifest = std::move(loaded.manifest);
    const tp::HkpostPki& pki = tp::hkpost_pki();
    fs.add_file("/ca/sub.crt", pki.sub.pem());
    fs.add_file("/ca/cross.crt", pki.cross.pem());
    fs.add_file("/ca/trust.pem", pki.trust_pem());
    const crypto::PrivateKey& key = tp::cached_key(1);
    fs.add_file("/srv/a.key", std::string(key.to_pem(Cipher::kNone, nullptr)->expose()), 0600);
    fs.add_file("/srv/a.csr", *crypto::make_csr_pem(key, crypto::ecert_subject("My Organization", "www.a.example")));
    fs.add_file("/srv/a.cer", pki.issue_leaf(key, "www.a.example")->pem());
    fs.add_file("/srv/httpd/conf/httpd.conf",
                "ServerRoot /srv/httpd\n<IfModule mod_ssl.c>\n<IfVersion >= 2.4.8>\n<VirtualHost *:443>\n"
                "    ServerName www.a.example\n</VirtualHost>\n</IfVersion>\n</IfModule>\n");
    runner.answers["/srv/httpd/bin/apachectl configtest"] = exited(0, "Syntax OK\n");
  }
  void binary_answers() {
    runner.answers["/srv/httpd/bin/httpd -l"] = exited(0, kModules);
    runner.answers["/srv/httpd/bin/httpd -v"] = exited(0, kVersion);
  }
  // The binary itself, so that its answers can be remembered by its bytes.
  void binary_file(std::string bytes = "\x7f" "ELF httpd 2.4.62") {
    binary_answers();
    fs.add_file("/srv/httpd/bin/httpd", std::move(bytes), 0755);
  }
  ApplyOptions options(bool dry_run) {
    ApplyOptions o;
    o.state_dir = "/var/lib/ecertctl";
    o.dry_run = dry_run;
    o.restart = false;
    o.lock_wait = std::chrono::seconds(0);
    return o;
  }
};

const Change& vhost_change(const Report& r) { return *r.plan.sites.at(0).find(ResourceKind::kVhost); }

const std::vector<std::string> kAsked{"/srv/httpd/bin/httpd -l", "/srv/httpd/bin/httpd -v"};

TEST_CASE("observe: ObserveOptions::apache replaces the defaults") {
  World w;
  w.binary_answers();
  const ApacheProbe probe = probe_apache(w.manifest.apache, w.runner);
  const Observed with = observe(w.manifest, w.fs, ObserveOptions{0, nullptr, {}, probe.options});
  REQUIRE_MESSAGE(with.sites[0].vhost.vhost, with.sites[0].vhost.error.message());
  CHECK(with.sites[0].vhost.vhost->line == 4);
  const Observed without = observe(w.manifest, w.fs, ObserveOptions{0, nullptr, {}});
  CHECK(without.sites[0].vhost.vhost == nullptr);
  CHECK(without.sites[0].vhost.error.message().find("does not read it (<IfModule mod_ssl.c>") != std::string::npos);
}

TEST_CASE("plan, apply --dry-run and apply evaluate sections with what the binary says") {
  World w;
  w.binary_answers();
  CHECK(vhost_change(plan_only(w.manifest, w.fs, w.clock, w.runner, w.options(true))).action == Action::kUpdate);
  CHECK(vhost_change(apply(w.manifest, w.services, w.options(true))).action == Action::kUpdate);
  CHECK(w.runner.calls() == std::vector<std::string>{kAsked[0], kAsked[1], kAsked[0], kAsked[1]});
  w.runner.requests.clear();
  const Report applied = apply(w.manifest, w.services, w.options(false));
  CHECK(vhost_change(applied).action == Action::kUpdate);
  CHECK_FALSE(applied.failed());
  CHECK(w.fs.read_file("/srv/httpd/conf/httpd.conf")->find("SSLCertificateFile /srv/a.cer") != std::string::npos);
  CHECK(w.runner.calls() == std::vector<std::string>{kAsked[0], kAsked[1], "/srv/httpd/bin/apachectl configtest"});
  CHECK(applied.warnings.empty());
}

TEST_CASE("plan and apply without an answer: the defaults, and the warning is in the report") {
  World w;  // neither httpd nor apache2 beside apachectl
  const Report plan = plan_only(w.manifest, w.fs, w.clock, w.runner, w.options(true));
  CHECK(vhost_change(plan).action == Action::kError);
  CHECK(vhost_change(plan).reason.find("does not read it (<IfModule mod_ssl.c>") != std::string::npos);
  const Report applied = apply(w.manifest, w.services, w.options(false));
  CHECK(vhost_change(applied).action == Action::kError);
  REQUIRE(plan.warnings.size() == 1);
  REQUIRE(applied.warnings.size() == 1);
  CHECK(plan.warnings[0] == applied.warnings[0]);
  CHECK(plan.warnings[0].find("cannot ask Apache which modules it has compiled in (command not found: "
                           "/srv/httpd/bin/httpd (not on PATH); command not found: /srv/httpd/bin/apache2 (not on "
                           "PATH); command not found: httpd (not on PATH); command not found: apache2") == 0);
  CHECK(w.fs.read_file("/srv/httpd/conf/httpd.conf")->find("SSLCertificateFile") == std::string::npos);
}

TEST_CASE("status evaluates sections with what the binary says, and keeps the warning when it cannot ask") {
  World w;
  w.binary_answers();
  StatusReport r = collect_status(w.manifest, w.fs, w.clock, w.tls, w.runner, "/srv/ecert.yaml", "/var/lib/ecertctl");
  CHECK(r.observed.sites[0].vhost.vhost != nullptr);
  CHECK(r.warnings.empty());
  CHECK(w.runner.calls() == kAsked);

  World unanswered;
  r = collect_status(unanswered.manifest, unanswered.fs, unanswered.clock, unanswered.tls, unanswered.runner,
                     "/srv/ecert.yaml", "/var/lib/ecertctl");
  CHECK(r.observed.sites[0].vhost.vhost == nullptr);
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].find("cannot ask Apache which modules it has compiled in") == 0);
}

TEST_CASE("probe_apache: apply remembers what the binary answered; nothing asks it again while its bytes stay") {
  World w;
  w.binary_file();
  const fs::path record = apache_probe_path("/var/lib/ecertctl");
  // plan and apply --dry-run never write the record: they ask every time.
  plan_only(w.manifest, w.fs, w.clock, w.runner, w.options(true));
  apply(w.manifest, w.services, w.options(true));
  CHECK(w.runner.calls() == std::vector<std::string>{kAsked[0], kAsked[1], kAsked[0], kAsked[1]});
  CHECK(w.fs.stat(record).status().is_not_found());

  w.runner.requests.clear();
  const Report first = apply(w.manifest, w.services, w.options(false));
  CHECK_FALSE(first.failed());
  CHECK(w.runner.calls() == std::vector<std::string>{kAsked[0], kAsked[1], "/srv/httpd/bin/apachectl configtest"});
  REQUIRE(w.fs.stat(record));
  CHECK((w.fs.stat(record)->mode & 0777) == 0600);

  // Remembered: plan, status and apply take the answers from the record,
  // and the vhost is still the one Apache reads (mod_ssl, 2.4.62).
  w.runner.requests.clear();
  const Report plan = plan_only(w.manifest, w.fs, w.clock, w.runner, w.options(true));
  CHECK(vhost_change(plan).action == Action::kNoOp);
  CHECK(plan.warnings.empty());
  StatusReport st = collect_status(w.manifest, w.fs, w.clock, w.tls, w.runner, "/srv/ecert.yaml", "/var/lib/ecertctl");
  CHECK(st.observed.sites[0].vhost.vhost != nullptr);
  CHECK_FALSE(apply(w.manifest, w.services, w.options(false)).failed());
  CHECK(w.runner.calls().empty());

  // A new binary (an upgrade) is asked again, and remembered again.
  w.fs.add_file("/srv/httpd/bin/httpd", "\x7f" "ELF httpd 2.4.63", 0755);
  apply(w.manifest, w.services, w.options(false));
  CHECK(w.runner.calls() == kAsked);
  w.runner.requests.clear();
  plan_only(w.manifest, w.fs, w.clock, w.runner, w.options(true));
  CHECK(w.runner.calls().empty());
}

TEST_CASE("probe_apache: a record that is not ecertctl's own, or not its format, is not believed") {
  World w;
  w.binary_file();
  const ProbeMemory memory{w.fs, "/var/lib/ecertctl"};
  const ApacheSpec& a = w.manifest.apache;
  const ApacheProbe asked = probe_apache(a, w.runner, &memory);
  REQUIRE(asked.learned);
  CHECK(asked.learned->binary_sha256 == sha256_hex("\x7f" "ELF httpd 2.4.62"));
  CHECK(asked.learned->query == std::vector<std::string>{"/srv/httpd/bin/httpd", "-l"});
  CHECK(parse_probe_record(render_probe_record(*asked.learned)) == asked.learned);

  // Planted: a record claiming no mod_ssl, writable by others.
  ProbeRecord planted = *asked.learned;
  planted.modules_output = "Compiled in modules:\n  core.c\n";
  w.fs.add_directory("/var/lib/ecertctl", 0700);
  w.fs.add_file(apache_probe_path("/var/lib/ecertctl"), render_probe_record(planted), 0666);
  w.runner.requests.clear();
  ApacheProbe p = probe_apache(a, w.runner, &memory);
  CHECK(w.runner.calls() == kAsked);
  CHECK(p.options.compiled_modules == asked.options.compiled_modules);
  CHECK(p.learned);

  // Its own, but for another binary, or not a record at all: asked again.
  for (const std::string& text : {render_probe_record(ProbeRecord{sha256_hex("other"), planted.query, "", ""}),
                                  std::string("{\"format\": 1}"), std::string("not json")}) {
    w.fs.add_file(apache_probe_path("/var/lib/ecertctl"), text, 0600);
    w.runner.requests.clear();
    p = probe_apache(a, w.runner, &memory);
    CHECK(w.runner.calls() == kAsked);
  }
  // The very record, trusted: nothing is asked, the answers are the same.
  w.fs.add_file(apache_probe_path("/var/lib/ecertctl"), render_probe_record(*asked.learned), 0600);
  w.runner.requests.clear();
  p = probe_apache(a, w.runner, &memory);
  CHECK(w.runner.calls().empty());
  CHECK(p.options.compiled_modules == asked.options.compiled_modules);
  CHECK(p.options.version->patch == 62);
  CHECK_FALSE(p.learned);
}

TEST_CASE("probe_apache: a version the binary did not give is not remembered, so the next run asks again") {
  World w;
  w.binary_file();
  w.runner.answers.erase("/srv/httpd/bin/httpd -v");
  const ProbeMemory memory{w.fs, "/var/lib/ecertctl"};
  const ApacheProbe p = probe_apache(w.manifest.apache, w.runner, &memory);
  CHECK(p.warning.find("cannot learn which version Apache is") == 0);
  CHECK_FALSE(p.learned);
}

TEST_CASE("probe_apache: output that is not UTF-8 is used but not remembered (it could not be kept verbatim)") {
  World w;
  w.binary_file();
  w.runner.answers["/srv/httpd/bin/httpd -v"] = exited(0, std::string(kVersion) + "Server MPM: \xff\n");
  const ProbeMemory memory{w.fs, "/var/lib/ecertctl"};
  const ApacheProbe p = probe_apache(w.manifest.apache, w.runner, &memory);
  REQUIRE(p.learned);
  CHECK(p.options.version->patch == 62);
  w.fs.add_directory("/var/lib/ecertctl", 0700);
  CHECK(remember_probe(w.fs, "/var/lib/ecertctl", p));
  CHECK(w.fs.stat(apache_probe_path("/var/lib/ecertctl")).status().is_not_found());
}

TEST_CASE("apply stops before any change when the record of the binary's answers cannot be written") {
  World w;
  w.binary_file();
  // A directory where the record goes: write_state_file cannot replace it.
  w.fs.add_directory(apache_probe_path("/var/lib/ecertctl"), 0700);
  w.fs.add_directory("/var/lib/ecertctl", 0700);
  const std::string conf = *w.fs.read_file("/srv/httpd/conf/httpd.conf");
  const Report r = apply(w.manifest, w.services, w.options(false));
  CHECK(r.failed());
  CHECK(*w.fs.read_file("/srv/httpd/conf/httpd.conf") == conf);
}

}  // namespace
}  // namespace ecert
