// The system log lines of an apply run: exactly one per created or updated
// resource and per error, Apache's outcome, nothing for plans and dry runs.
#include <doctest/doctest.h>

#include <cstdlib>

#include "report/log_lines.h"

namespace ecert {
namespace {

constexpr const char* kPassphrase = "correct horse battery staple 7";

Change ch(ResourceKind kind, Action action, std::string path, std::string reason) {
  Change c;
  c.kind = kind;
  c.action = action;
  c.path = std::move(path);
  c.reason = std::move(reason);
  return c;
}

// The apply result of a report whose changes all went as planned.
ApplyResult& applied(Report& r) {
  r.applied.emplace();
  for (const auto& s : r.plan.sites) r.applied->changes.emplace_back(s.changes.size());
  return *r.applied;
}

SitePlan site(const std::string& name, std::vector<Change> changes) {
  SitePlan s;
  s.name = name;
  s.feature = "standard";
  s.changes = std::move(changes);
  return s;
}

// A first run on two sites: keys and CSRs created for one, the other's
// certificate failed a check; nothing Apache reads changed.
Report first_run() {
  Report r;
  r.command = "apply";
  r.plan.sites.push_back(site("www.a.example", {
      ch(ResourceKind::kKey, Action::kCreate, "/etc/ssl/private/a.key", "RSA 2048, aes-256-cbc"),
      ch(ResourceKind::kCsr, Action::kCreate, "/etc/ecertctl/a.csr", "CN=www.a.example"),
      ch(ResourceKind::kCertificate, Action::kPending, "/etc/ecertctl/a.cer", "waiting for the CA"),
  }));
  r.plan.sites.push_back(site("www.b.example", {
      ch(ResourceKind::kKey, Action::kNoOp, "/etc/ssl/private/b.key", "RSA 2048, opens"),
      ch(ResourceKind::kCertificate, Action::kError, "/etc/ecertctl/b.cer",
       "does not match the key /etc/ssl/private/b.key"),
      ch(ResourceKind::kChain, Action::kError, "", "not checked: the certificate failed"),
  }));
  r.plan.restart_reason = "nothing Apache reads changed";
  return r;
}

std::vector<std::string> texts(const std::vector<LogLine>& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines) out.push_back(l.text);
  return out;
}

TEST_CASE("one line per created or updated resource and per error; no-op and pending say nothing") {
  const auto lines = apply_log_lines(first_run());
  CHECK(texts(lines) == std::vector<std::string>{
                            "www.a.example: key created: /etc/ssl/private/a.key: RSA 2048, aes-256-cbc",
                            "www.a.example: csr created: /etc/ecertctl/a.csr: CN=www.a.example",
                            "www.b.example: certificate error: /etc/ecertctl/b.cer: does not match the key "
                            "/etc/ssl/private/b.key",
                            "www.b.example: chain error: not checked: the certificate failed",
                        });
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].priority == LogPriority::kNotice);
  CHECK(lines[1].priority == LogPriority::kNotice);
  CHECK(lines[2].priority == LogPriority::kError);
  CHECK(lines[3].priority == LogPriority::kError);
}

TEST_CASE("Apache's outcome: restarted, left to the caller, or the failure and rollback on one line") {
  Report r = first_run();
  r.plan.sites.resize(1);
  r.plan.restart_reason = "www.a.example chain changed";
  ApacheOutcome& apache = applied(r).apache;
  apache.restart_needed = true;
  apache.configtest_ok = true;

  apache.restarted = true;
  CHECK(apply_log_lines(r).back().text == "Apache restarted: www.a.example chain changed");
  CHECK(apply_log_lines(r).back().priority == LogPriority::kNotice);

  apache.restarted = false;  // apply --no-restart
  CHECK(apply_log_lines(r).back().text == "Apache restart left to the caller: www.a.example chain changed");

  apache.error = "restart failed: apache2ctl graceful exited 1:\n  AH00526: Syntax error\r\n\nEvery file this run "
                   "changed for Apache was restored and Apache restarted on them.";
  apache.rolled_back = true;
  r.applied->verified.push_back({"www.a.example", false, "127.0.0.1:443: serves\tanother chain"});
  const auto lines = apply_log_lines(r);
  REQUIRE(lines.size() == 4);
  CHECK(lines[2].text == "www.a.example: verify failed: 127.0.0.1:443: serves another chain");
  CHECK(lines[3].text == "Apache: restart failed: apache2ctl graceful exited 1: | AH00526: Syntax error | Every file "
                         "this run changed for Apache was restored and Apache restarted on them.");
  CHECK(lines[3].priority == LogPriority::kError);
}

TEST_CASE("run-level errors (lock, stale plan) are logged even when no site was planned") {
  Report r;
  r.command = "apply";
  r.errors.push_back("another ecertctl apply (pid 42) holds /var/lib/ecertctl/lock");
  const auto lines = apply_log_lines(r);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].text == "error: another ecertctl apply (pid 42) holds /var/lib/ecertctl/lock");
  CHECK(lines[0].priority == LogPriority::kError);
}

TEST_CASE("a plan, a dry run and a converged run log nothing") {
  Report plan = first_run();
  plan.command = "plan";
  CHECK(apply_log_lines(plan).empty());
  Report dry = first_run();
  dry.dry_run = true;
  CHECK(apply_log_lines(dry).empty());
  Report converged;
  converged.command = "apply";
  converged.plan.sites.push_back(site("www.a.example", {
      ch(ResourceKind::kKey, Action::kNoOp, "/k", "opens"),
      ch(ResourceKind::kCertificate, Action::kPending, "/c", "waiting for the CA"),
  }));
  CHECK(apply_log_lines(converged).empty());
}

TEST_CASE("log_apply sends every line, in order, with its priority") {
  RecordingSystemLog log;
  log_apply(first_run(), log);
  const auto expected = apply_log_lines(first_run());
  REQUIRE(log.entries.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CHECK(log.entries[i].line == expected[i].text);
    CHECK(log.entries[i].priority == expected[i].priority);
  }
}

TEST_CASE("the passphrase in the environment never reaches a line") {
  ::setenv("ECERT_KEY_PASSPHRASE", kPassphrase, 1);
  Report r = first_run();
  r.plan.sites[1].changes[1].reason = "cannot decrypt with the passphrase in $ECERT_KEY_PASSPHRASE";
  applied(r).apache.error = "configtest failed";
  r.errors.push_back("rollback of /etc/ssl/private/a.key failed");
  RecordingSystemLog log;
  log_apply(r, log);
  CHECK(log.entries.size() == 6);
  for (const auto& e : log.entries) CHECK(e.line.find(kPassphrase) == std::string::npos);
  ::unsetenv("ECERT_KEY_PASSPHRASE");
}

TEST_CASE("one_log_line: line breaks become ' | ', control characters spaces, long text is cut whole characters") {
  CHECK(one_log_line("a\nb") == "a | b");
  CHECK(one_log_line("a  \r\n\r\n   b\n") == "a | b");
  CHECK(one_log_line("\nlead") == "lead");
  CHECK(one_log_line("tab\there\x1b[31m\x7f") == "tab here [31m ");
  CHECK(one_log_line("我的伺服器") == "我的伺服器");

  const std::string long_text = std::string(kMaxLogLineBytes - 4, 'x') + "我我";  // a 3-byte character across the cut
  const std::string cut = one_log_line(long_text);
  CHECK(cut.size() <= kMaxLogLineBytes);
  CHECK(cut == std::string(kMaxLogLineBytes - 4, 'x') + "...");
  CHECK(one_log_line(std::string(kMaxLogLineBytes, 'y')) == std::string(kMaxLogLineBytes, 'y'));
}

}  // namespace
}  // namespace ecert
