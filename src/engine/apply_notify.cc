// The last step of apply: notify.command is told the run's events.
#include "engine/apply_run.h"
#include "engine/notify.h"
#include "engine/state_dir.h"

namespace ecert {
namespace {

Status send(ApplyRun& run, const std::vector<Notice>& notices) {
  const NotifySpec& spec = *run.manifest.notify;
  const int timeout = run.manifest.apache.timeout_seconds;
  auto res = run.services.runner.execute(
      CommandRequest{spec.command, std::chrono::seconds(timeout), run.manifest.apache.environment,
                     render_notification(run.options.host, notices, run.services.clock.now())});
  if (!res) return res.status();
  if (res->timed_out) return Status::timeout("it did not finish within " + std::to_string(timeout) + "s");
  if (res->exit_code != 0) {
    std::string out = res->output;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return Status::invalid("it exited with " + std::to_string(res->exit_code) + (out.empty() ? "" : ": " + out));
  }
  return Status::ok();
}

void record(ApplyRun& run, const NotifyState& state) {
  if (Status s = write_state_file(run.services.fs, notify_state_path(run.options.state_dir), render_notify_state(state));
      !s)
    run.report.warnings.push_back("cannot record what was notified (it may be sent again): " + s.message());
}

}  // namespace

void notify_step(ApplyRun& run) {
  if (!run.manifest.notify) return;
  const fs::path path = notify_state_path(run.options.state_dir);
  auto text = read_state_file(run.services.fs, path);  // one that is not ecertctl's own is as none
  const NotifyState sent = text ? parse_notify_state(*text) : NotifyState{};
  NotifyDecision d = decide_notices(*run.manifest.notify, notices_of(run.manifest, run.report), sent,
                                    run.services.clock.now());
  if (!d.send.empty()) {
    if (Status s = send(run, d.send); !s) {
      run.report.warnings.push_back("the notify command " + format_argv(run.manifest.notify->command) +
                                    " failed, so " + std::to_string(d.send.size()) +
                                    " event(s) will be sent again next run: " + s.message());
      return;
    }
  }
  if (d.next != sent) record(run, d.next);
}

}  // namespace ecert
