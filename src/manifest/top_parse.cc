// Reading the top-level mappings beside the sites: apache and notify.
#include "util/strings.h"
#include <algorithm>

#include "manifest/parts.h"

namespace ecert {
namespace {


const std::vector<std::string_view> kEvents = {"renewal-due", "expiring", "installed", "error"};

void read_restart(Walker& w, const Entry& r, ApacheSpec* apache) {
  const char* expected = "a list of commands, each a list, e.g. [[apache2ctl, graceful]]";
  bool flat = r.value.IsSequence() && r.value.size() > 0 && r.value[0].IsScalar();
  if (r.value.IsNull()) {
    w.error(r.key_pos, std::string("empty value for 'apache.restart'; expected ") + expected);
    return;
  }
  if (!r.value.IsSequence() || r.value.size() == 0 || flat) {
    w.error(w.pos(r.value), std::string("'apache.restart' must be ") + expected + ", not " +
                                (flat                   ? "a single command"
                                 : r.value.IsSequence() ? "an empty list"
                                                        : describe(r.value)));
    return;
  }
  std::vector<std::vector<std::string>> commands;
  bool ok = true;
  for (auto it = r.value.begin(); it != r.value.end(); ++it) {
    auto argv = read_argv(w, *it, w.pos(*it), "apache.restart");
    if (argv)
      commands.push_back(std::move(*argv));
    else
      ok = false;
  }
  if (ok) apache->restart = std::move(commands);
}

void read_environment(Walker& w, const Entry& e, ApacheSpec* apache,
                      std::vector<NameAt>* environment) {
  auto items = read_string_list(w, e, "apache.environment",
                                "a list of environment variable names, e.g. [HTTPS_PROXY]",
                                "an environment variable name");
  if (!items) return;
  bool ok = true;
  for (const TextAt& item : *items) {
    if (is_env_name(item.text)) continue;
    w.error(item.pos, "each entry of 'apache.environment' must be an environment variable name "
                      "(letters, digits and _, not starting with a digit), got " +
                          squote(item.text));
    ok = false;
  }
  if (!check_no_duplicates(w, *items, "apache.environment") || !ok) return;
  for (TextAt& item : *items) {
    apache->environment.push_back(item.text);
    environment->push_back({std::move(item.text), item.pos});
  }
}

std::optional<std::vector<NotifyEvent>> read_events(Walker& w, const Entry& e) {
  const std::string valid = "renewal-due, expiring, installed and error";
  auto items = read_string_list(w, e, "notify.events", "a list of events: " + valid, "an event");
  if (!items) return std::nullopt;
  if (items->empty()) {
    w.error(w.pos(e.value), "'notify.events' must list at least one of " + valid +
                                "; to notify nobody, remove notify");
    return std::nullopt;
  }
  std::vector<NotifyEvent> events;
  bool ok = true;
  for (const TextAt& item : *items) {
    auto known = std::find(kEvents.begin(), kEvents.end(), item.text);
    if (known != kEvents.end()) {
      events.push_back(static_cast<NotifyEvent>(known - kEvents.begin()));
      continue;
    }
    std::string msg = "unknown event " + squote(item.text) + " in 'notify.events'; the events are " + valid;
    if (std::string guess = closest(item.text, kEvents); !guess.empty())
      msg += "; did you mean " + squote(guess) + "?";
    w.error(item.pos, std::move(msg));
    ok = false;
  }
  if (!check_no_duplicates(w, *items, "notify.events") || !ok) return std::nullopt;
  return events;
}

}  // namespace

void read_apache(Walker& w, const Entry& e, const fs::path& dir, ApacheSpec* apache,
                 std::vector<NameAt>* environment) {
  apache->pos = e.value.IsNull() ? e.key_pos : w.pos(e.value);
  if (!expect_map(w, e, "apache", "a mapping with at least config")) return;
  MapReader m(w, e.value, "apache", {"config", "configtest", "restart", "timeout", "environment"});
  if (const Entry* c = m.find("config")) {
    auto text = read_string(w, *c, "apache.config", "a path");
    if (text && text->empty())
      w.error(w.pos(c->value), "'apache.config' must be a path, not an empty string");
    else if (text)
      apache->config = fs::path(*text).is_absolute() ? fs::path(*text).lexically_normal()
                                                     : (dir / *text).lexically_normal();
  } else {
    w.error(apache->pos, "missing required key 'config' in apache");
  }
  if (const Entry* c = m.find("configtest")) {
    if (auto argv = read_argv(w, c->value, c->key_pos, "apache.configtest"))
      apache->configtest = std::move(*argv);
  }
  if (const Entry* r = m.find("restart")) read_restart(w, *r, apache);
  if (const Entry* t = m.find("timeout")) {
    if (auto v = read_int(w, *t, "apache.timeout", 1, 3600))
      apache->timeout_seconds = static_cast<int>(*v);
  }
  if (const Entry* v = m.find("environment")) read_environment(w, *v, apache, environment);
}

void read_notify(Walker& w, const Entry& e, NotifySpec* notify) {
  notify->pos = e.value.IsNull() ? e.key_pos : w.pos(e.value);
  if (!expect_map(w, e, "notify", "a mapping with at least command")) return;
  MapReader m(w, e.value, "notify", {"command", "events", "repeat"});
  if (const Entry* c = m.find("command")) {
    if (auto argv = read_argv(w, c->value, c->key_pos, "notify.command",
                              "[/usr/local/sbin/ecert-notify]"))
      notify->command = std::move(*argv);
  } else {
    w.error(notify->pos, "missing required key 'command' in notify");
  }
  if (const Entry* v = m.find("events")) {
    if (auto events = read_events(w, *v)) notify->events = std::move(*events);
  }
  if (const Entry* r = m.find("repeat")) {
    auto text = read_string(w, *r, "notify.repeat", "a number of hours like 24h or of days like 2d");
    if (!text) return;
    auto repeat = parse_repeat(*text, "notify.repeat");
    if (repeat)
      notify->repeat = *repeat;
    else
      w.error(w.pos(r->value), repeat.status().message());
  }
}

}  // namespace ecert
